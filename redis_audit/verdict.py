"""The verdict: READY, NOT_READY or INCONCLUSIVE, as a pure function of findings and profile.

It works on plain records so that `verify` can recompute it from a signed report's JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from redis_audit.exitcodes import ExitCode
from redis_audit.jsonvalue import JsonObject
from redis_audit.model import Severity, Status
from redis_audit.profile import SignoffBlocker
from redis_audit.signoff import MET, NOT_MET, BlockerState, evaluate

# Bump when decide() or the sign-off states would judge the same findings differently: verify recomputes
# the verdict, so it must refuse, with this reason, a report judged by other rules.
VERDICT_LOGIC_VERSION = 3  # 3: the sign-off floor (limits.py) and validity from collection


class Decision(StrEnum):
    READY = "READY"
    NOT_READY = "NOT_READY"
    INCONCLUSIVE = "INCONCLUSIVE"


EXIT_CODES = {Decision.READY: ExitCode.READY, Decision.NOT_READY: ExitCode.NOT_READY,
              Decision.INCONCLUSIVE: ExitCode.INCONCLUSIVE}


def exit_code(decision: Decision) -> ExitCode:
    return EXIT_CODES[decision]


@dataclass(frozen=True)
class JudgedFinding:
    """The part of a finding the verdict depends on."""

    check_id: str
    status: str  # the effective status: a Status value, or "WAIVED" once a waiver applies
    severity: Severity
    resource: str
    message: str


@dataclass(frozen=True)
class Blocker:
    check_id: str
    resource: str
    reason: str  # failed | required-not-verified | required-not-run | signoff-not-met | signoff-not-verified
    severity: str
    message: str

    def to_json(self) -> JsonObject:
        return {"checkId": self.check_id, "resource": self.resource, "reason": self.reason,
                "severity": self.severity, "message": self.message}


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    blockers: tuple[Blocker, ...]
    incomplete: bool
    reasons: tuple[str, ...]  # why the audit is incomplete
    signoff: tuple[BlockerState, ...] = ()
    signoff_gate: bool = False

    def to_json(self) -> JsonObject:
        return {"decision": str(self.decision), "blockers": [b.to_json() for b in self.blockers],
                "incomplete": self.incomplete, "reasons": list(self.reasons),
                "signoff": {"gate": self.signoff_gate, "blockers": [b.to_json() for b in self.signoff]}}


@dataclass(frozen=True)
class Policy:
    """The profile settings the verdict reads (also recoverable from a report)."""

    blocking_severities: frozenset[str]
    required_checks: tuple[str, ...]
    fail_on_error: bool
    signoff: tuple[SignoffBlocker, ...] = ()  # shown in every report
    signoff_gate: bool = False  # when true, a sign-off blocker that is not met blocks promotion


def decide(findings: Sequence[JudgedFinding], policy: Policy) -> Verdict:
    blockers: list[Blocker] = []
    reasons: list[str] = []
    for f in findings:
        blocking = str(f.severity) in policy.blocking_severities
        if f.status == Status.FAIL and blocking:
            blockers.append(Blocker(f.check_id, f.resource, "failed", str(f.severity), f.message))
        elif f.status == Status.ERROR and (f.check_id in policy.required_checks or
                                           (policy.fail_on_error and blocking)):
            reasons.append(f"{f.check_id} on {f.resource}: {f.message}")
    for check_id in policy.required_checks:
        mine = [f for f in findings if f.check_id == check_id]
        if not mine:
            blockers.append(Blocker(check_id, "deployment", "required-not-run", "high",
                                    f"required check {check_id} did not run"))
        elif all(f.status == Status.SKIP for f in mine):
            blockers.append(Blocker(check_id, "deployment", "required-not-verified", str(mine[0].severity),
                                    f"required check {check_id} was skipped: {mine[0].message}"))
    signoff = evaluate(policy.signoff, findings)
    if policy.signoff_gate:
        for state in signoff:
            if state.state != MET:
                reason = "signoff-not-met" if state.state == NOT_MET else "signoff-not-verified"
                blockers.append(Blocker(state.id, "deployment", reason, "high",
                                        f"{state.title}: {state.state}: {state.summary()}"))
    # A measured failure is definitive; otherwise an incomplete audit cannot say NOT_READY either.
    if any(b.reason in ("failed", "signoff-not-met") for b in blockers):
        decision = Decision.NOT_READY
    elif reasons:
        decision = Decision.INCONCLUSIVE
    elif blockers:
        decision = Decision.NOT_READY
    else:
        decision = Decision.READY
    return Verdict(decision, tuple(blockers), bool(reasons), tuple(reasons), signoff, policy.signoff_gate)
