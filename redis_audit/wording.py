"""Small wording helpers shared by every message, so that counts read right ('1 replica', '2 replicas')."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """'1 replica', '0 replicas', '3 Sentinels'; `many` for irregular plurals ('1 entry', '2 entries')."""
    return f"{count} {noun if count == 1 else many or noun + 's'}"
