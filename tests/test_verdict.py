"""The verdict: blockers, required checks, and what makes an audit inconclusive."""

from redis_audit.model import Severity
from redis_audit.verdict import Decision, JudgedFinding, Policy, decide

POLICY = Policy(frozenset({"critical", "high"}), ("AUTH-001",), fail_on_error=True)


def f(check, status, severity=Severity.HIGH, resource="n1"):
    return JudgedFinding(check, status, severity, resource, f"{check} {status}")


def test_ready_when_nothing_blocks():
    verdict = decide([f("AUTH-001", "PASS"), f("MEM-006", "FAIL", Severity.LOW), f("X-1", "WARN")], POLICY)
    assert verdict.decision is Decision.READY and not verdict.blockers


def test_fail_of_blocking_severity_blocks():
    verdict = decide([f("AUTH-001", "PASS"), f("MEM-001", "FAIL")], POLICY)
    assert verdict.decision is Decision.NOT_READY
    assert [(b.check_id, b.reason) for b in verdict.blockers] == [("MEM-001", "failed")]


def test_required_check_skipped_or_missing_blocks():
    skipped = decide([f("AUTH-001", "SKIP")], POLICY)
    assert skipped.decision is Decision.NOT_READY and skipped.blockers[0].reason == "required-not-verified"
    missing = decide([], POLICY)
    assert missing.blockers[0].reason == "required-not-run"


def test_error_in_required_or_blocking_check_is_inconclusive():
    verdict = decide([f("AUTH-001", "ERROR")], POLICY)
    assert verdict.decision is Decision.INCONCLUSIVE and verdict.incomplete
    low = decide([f("AUTH-001", "PASS"), f("X-2", "ERROR", Severity.LOW)], POLICY)
    assert low.decision is Decision.READY


def test_measured_failure_wins_over_incomplete():
    verdict = decide([f("AUTH-001", "ERROR"), f("MEM-001", "FAIL")], POLICY)
    assert verdict.decision is Decision.NOT_READY and verdict.incomplete
