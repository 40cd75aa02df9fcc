"""The sign-off blockers (Phase 3): is each one met, not met, or not verified, and by which checks.

Pure, like the verdict: it reads findings (with their effective statuses) and the profile's mapping,
so `verify` recomputes it from a signed report. Only a real verdict counts: a check that did not run,
was skipped or errored leaves its requirement "not verified", never "met".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from redis_audit.jsonvalue import JsonObject
from redis_audit.profile import SignoffBlocker, SignoffRequirement

MET, NOT_MET, NOT_VERIFIED = "met", "not met", "not verified"
_WORST = (NOT_MET, NOT_VERIFIED, MET)
_UNJUDGED = ("skipped", "not-run")


class _Judged(Protocol):
    @property
    def check_id(self) -> str: ...

    @property
    def status(self) -> str: ...


@dataclass(frozen=True)
class CheckState:
    check: str  # an id or a pattern such as SEN-*
    # passed | waived | failed | errored | skipped | inconclusive | not-run | not-applicable (another pattern ran)
    state: str
    findings: int

    @property
    def requirement_state(self) -> str:
        return {"passed": MET, "waived": MET, "not-applicable": MET, "failed": NOT_MET}.get(self.state, NOT_VERIFIED)

    def to_json(self) -> JsonObject:
        return {"check": self.check, "state": self.state, "findings": self.findings}


@dataclass(frozen=True)
class RequirementState:
    name: str
    state: str
    checks: tuple[CheckState, ...]

    def to_json(self) -> JsonObject:
        return {"name": self.name, "state": self.state, "checks": [c.to_json() for c in self.checks]}


@dataclass(frozen=True)
class BlockerState:
    id: str
    title: str
    state: str
    requirements: tuple[RequirementState, ...]

    def summary(self) -> str:
        """Which requirements hold it back, e.g. "TLS and AUTH: not met (TLS-001 failed)"."""
        parts = []
        for req in self.requirements:
            if req.state != MET:
                why = ", ".join(f"{c.check} {c.state}" for c in req.checks if c.requirement_state != MET)
                parts.append(f"{req.name}: {req.state} ({why})")
        return "; ".join(parts)

    def to_json(self) -> JsonObject:
        return {"id": self.id, "title": self.title, "state": self.state,
                "requirements": [r.to_json() for r in self.requirements]}


def evaluate(blockers: Sequence[SignoffBlocker], findings: Sequence[_Judged]) -> tuple[BlockerState, ...]:
    return tuple(_blocker(b, findings) for b in blockers)


def _blocker(blocker: SignoffBlocker, findings: Sequence[_Judged]) -> BlockerState:
    requirements = tuple(_requirement(r, findings) for r in blocker.requirements)
    return BlockerState(blocker.id, blocker.title, _worst(r.state for r in requirements), requirements)


def _requirement(requirement: SignoffRequirement, findings: Sequence[_Judged]) -> RequirementState:
    checks = tuple(_check(c, findings) for c in requirement.checks)
    # Patterns are alternatives (SEN-* or CLU-*): once one of them produced a verdict, the others do not apply.
    if any(c.check.endswith("*") and c.state not in _UNJUDGED for c in checks):
        checks = tuple(CheckState(c.check, "not-applicable", c.findings)
                       if c.check.endswith("*") and c.state in _UNJUDGED else c for c in checks)
    return RequirementState(requirement.name, _worst(c.requirement_state for c in checks), checks)


def _check(check: str, findings: Sequence[_Judged]) -> CheckState:
    if check.endswith("*"):
        matched = [f for f in findings if f.check_id.startswith(check[:-1])]
        judged = [f.status for f in matched if f.status != "SKIP"]
        if not judged:
            return CheckState(check, "skipped" if matched else "not-run", len(matched))
    else:
        judged = [f.status for f in findings if f.check_id == check]
        if not judged:
            return CheckState(check, "not-run", 0)
    if "FAIL" in judged:
        state = "failed"
    elif "ERROR" in judged:
        state = "errored"
    elif "SKIP" in judged:
        state = "skipped"
    elif "WARN" in judged or "INFO" in judged:
        # A warning (or a measurement that cannot decide, such as latency from the audit host instead of
        # the app pods) is not proof: the requirement stays "not verified".
        state = "inconclusive"
    elif "WAIVED" in judged:
        state = "waived"
    else:
        state = "passed"
    return CheckState(check, state, len(judged))


def _worst(states: Iterable[str]) -> str:
    seen = set(states)
    for state in _WORST:
        if state in seen:
            return state
    return NOT_VERIFIED  # a blocker with no requirements proves nothing
