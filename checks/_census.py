"""Readers for the keyspace census fact (keyspace.census), shared by the MEM and RL checks."""

from __future__ import annotations

from typing import Any

from redis_audit.check import CheckContext
from redis_audit.jsonvalue import as_object
from redis_audit.profile import Profile
from redis_audit.snapshot import FactUnavailable, NodeSnapshot

CENSUS = "keyspace.census"


def census(ctx: CheckContext) -> dict[str, Any]:
    """The census, or FactUnavailable (the judge turns it into a SKIP with the reason)."""
    return as_object(ctx.snapshot.deployment_fact(CENSUS))


def census_or_none(ctx: CheckContext) -> dict[str, Any] | None:
    try:
        return census(ctx)
    except FactUnavailable:
        return None


def limiter_prefixes(profile: Profile) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*(lim.prefix for lim in profile.limiters), *profile.keyspace.limiter_prefixes)))


def groups(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [g for g in data.get("groups", []) if isinstance(g, dict)]


def is_limiter(pattern: str, prefixes: tuple[str, ...]) -> bool:
    return any(pattern.startswith(p) for p in prefixes)


def limiter_groups(data: dict[str, Any], profile: Profile) -> list[dict[str, Any]]:
    prefixes = limiter_prefixes(profile)
    return [g for g in groups(data) if is_limiter(str(g.get("pattern", "")), prefixes)]


def sampled_note(data: dict[str, Any]) -> str:
    return " (sampled census: counts are estimates)" if data.get("mode") == "sampled" else ""


def num(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def info_float(node: NodeSnapshot, section: str, key: str) -> float | None:
    text = node.info(section, key)
    try:
        return None if text is None else float(text)
    except ValueError:
        return None
