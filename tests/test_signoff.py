"""The Phase 3 sign-off blockers: data in the signoff profile; only real verdicts make a blocker met."""

from __future__ import annotations

from pathlib import Path

from redis_audit.profile import load_profile
from redis_audit.verdict import Decision
from tests.reportkit import ALL_PASS, make_report

SIGNOFF = load_profile(Path("signoff"))
EVERYTHING = [*ALL_PASS, *[(c, "PASS") for c in (
    "ENC-001", "ENC-002", "CLI-003", "CLI-004", "FO-001", "FO-002", "FO-003", "FO-004", "RL-001", "RL-005",
    "LAT-001", "RL-002")]]


def states(report_findings: list) -> dict[str, str]:
    report = make_report(report_findings, SIGNOFF)
    return {b.id: b.state for b in report.verdict.signoff}


def test_the_builtin_profile_maps_three_blockers_and_gates() -> None:
    assert SIGNOFF.name == "signoff" and SIGNOFF.signoff.gate and SIGNOFF.report.mode == "signoff"
    assert [b.title for b in SIGNOFF.signoff.blockers] == [
        "Production Redis configuration", "Rate limiting coverage", "Performance validation"]
    checks = {c for b in SIGNOFF.signoff.blockers for r in b.requirements for c in r.checks}
    assert {"HA-001", "TLS-001", "AUTH-001", "NET-002", "ENC-001", "CLI-004", "FO-004", "RL-001", "RL-005",
            "LAT-001", "MEM-004", "RL-002", "MEM-001", "SEN-*", "CLU-*"} <= checks


def test_all_proven_is_met_and_ready() -> None:
    report = make_report(EVERYTHING, SIGNOFF)
    assert {b.state for b in report.verdict.signoff} == {"met"}
    assert report.verdict.decision is Decision.READY


def test_missing_skipped_or_errored_checks_are_not_verified_never_met() -> None:
    without_rl = [f for f in EVERYTHING if not f[0].startswith("RL-00")]
    assert states(without_rl) == {"production-config": "met", "rate-limiting": "not verified",
                                  "performance": "not verified"}
    skipped = [f for f in EVERYTHING if f[0] != "LAT-001"] + [("LAT-001", "SKIP")]
    assert states(skipped)["performance"] == "not verified"
    errored = [f for f in EVERYTHING if f[0] != "RL-005"] + [("RL-005", "ERROR")]
    report = make_report(errored, SIGNOFF)
    assert report.verdict.signoff[1].state == "not verified"
    assert report.verdict.decision is not Decision.READY
    assert any(b.reason == "signoff-not-verified" for b in report.verdict.blockers)


def test_a_failure_is_not_met_even_at_low_severity() -> None:
    failing = [f for f in EVERYTHING if f[0] != "CLI-004"] + [("CLI-004", "FAIL", "low", "deployment", "pool 91%")]
    report = make_report(failing, SIGNOFF)
    assert {b.id: b.state for b in report.verdict.signoff} == {
        "production-config": "not met", "rate-limiting": "met", "performance": "not met"}
    assert report.verdict.decision is Decision.NOT_READY
    assert "CLI-004 failed" in report.verdict.blockers[0].message


def test_patterns_are_alternatives_for_the_topology() -> None:
    # A Sentinel deployment: SEN-* judged, CLU-* skipped as not applicable.
    report = make_report([*EVERYTHING, ("CLU-001", "SKIP")], SIGNOFF)
    ha = report.verdict.signoff[0].requirements[0]
    assert ha.state == "met" and [c.state for c in ha.checks] == ["passed", "passed", "not-applicable"]
    neither = [f for f in EVERYTHING if not f[0].startswith("SEN-")]
    assert states(neither)["production-config"] == "not verified"


def test_the_default_profile_shows_the_blockers_without_gating() -> None:
    report = make_report(ALL_PASS)
    assert len(report.verdict.signoff) == 3 and not report.verdict.signoff_gate
    assert report.verdict.decision is Decision.READY
    assert report.to_json()["verdict"]["signoff"]["blockers"][0]["title"] == "Production Redis configuration"


def test_a_warning_or_an_audit_host_measurement_is_not_proof() -> None:
    # LAT-001 measured only from the audit host is INFO; an inconclusive interval is WARN: neither is "met".
    for status in ("INFO", "WARN"):
        measured_elsewhere = [f for f in EVERYTHING if f[0] != "LAT-001"] + [("LAT-001", status)]
        assert states(measured_elsewhere)["performance"] == "not verified", status


def test_verify_refuses_a_report_judged_by_other_verdict_rules() -> None:
    import pytest

    from redis_audit.recompute import recompute_decision
    from redis_audit.signing.errors import InvalidReport

    predicate = make_report(EVERYTHING, SIGNOFF).to_json()
    assert recompute_decision(predicate) == "READY"
    predicate["tool"]["verdictLogic"] = 1  # type: ignore[index]
    with pytest.raises(InvalidReport, match="verdict logic v1"):
        recompute_decision(predicate)
