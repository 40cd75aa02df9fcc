"""Graded comparisons: a measured integer against the limits a profile states, in one place.

A `Limit` is the side of a bound a value must stay on, worded as the profile words it: `Limit("<", 80,
"%", scale=100)` reads "< 80%" and holds for a ratio in basis points under 8000. A check passes its
measure to `CheckContext.graded` with a `warn` and/or a `fail` limit: FAIL when the fail limit does not
hold, else WARN when the warn limit does not, else PASS. The evidence's `expected` is the limit a PASS
stays within, so every status of one check states the same expectation, with the same unit.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from redis_audit.model import Status

Comparison = Literal["<", "<=", ">", ">="]
_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Limit:
    """A value within this limit satisfies `value <op> bound × scale` ('<' and '<=' when higher is worse,
    '>' and '>=' when lower is). `unit` follows the bound when it is shown ("%", " ms", "% of maxclients")."""

    op: Comparison
    bound: int
    unit: str = ""
    scale: int = 1  # how much finer the measure is than the words: 100 for basis points against a percent

    def __post_init__(self) -> None:
        if self.op not in _COMPARE:
            raise ValueError(f"a limit compares with one of {', '.join(_COMPARE)}, not {self.op!r}")

    def holds(self, measured: int) -> bool:
        return _COMPARE[self.op](measured, self.bound * self.scale)

    def __str__(self) -> str:
        return f"{self.op} {self.bound}{self.unit}"


def grade(measured: int, warn: Limit | None = None, fail: Limit | None = None) -> Status:
    """FAIL outside `fail`, else WARN outside `warn`, else PASS."""
    if fail is not None and not fail.holds(measured):
        return Status.FAIL
    if warn is not None and not warn.holds(measured):
        return Status.WARN
    return Status.PASS


def passing_limit(warn: Limit | None, fail: Limit | None) -> Limit:
    """The limit a PASS stays within: the warn limit when there is one."""
    limit = warn or fail
    if limit is None:
        raise ValueError("a graded comparison needs a warn or a fail limit")
    return limit
