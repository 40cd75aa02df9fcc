"""Engine versions as (major, minor, patch): one parser for what users type and what servers report."""

from __future__ import annotations

import re

Version = tuple[int, int, int]
UNKNOWN: Version = (0, 0, 0)
_LEADING_DIGITS = re.compile(r"\d+")


def parse_version(text: str | None, *, strict: bool = True) -> Version | None:
    """'7' → (7, 0, 0), '7.2' → (7, 2, 0), '7.2.4' → (7, 2, 4).

    strict (a version someone wrote in a profile or an option): one to three dot-separated numbers,
    else None. Not strict (what a server's INFO or a control plane reports: '7.2.4', '6.x',
    '7.0.7-rc1'): the number each of the first three parts starts with, a part that starts with
    none ending the version; None when the first part has none.
    """
    parts = (text or "").strip().split(".")
    if strict:
        if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
            return None
        numbers = [int(p) for p in parts]
    else:
        numbers = []
        for part in parts[:3]:
            found = _LEADING_DIGITS.match(part)
            if found is None:
                break
            numbers.append(int(found.group()))
        if not numbers:
            return None
    numbers += [0, 0]
    return numbers[0], numbers[1], numbers[2]
