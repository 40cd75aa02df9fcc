"""Waivers: WAIVED never hides a finding, ERROR is never waived, expiry is enforced, bad files exit 2."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from redis_audit.profile import default_profile
from redis_audit.verdict import Decision
from redis_audit.waivers import WaiverError, load_waivers
from tests.reportkit import ALL_PASS, DEPLOYMENT, FINISHED, make_report

NOW = FINISHED


def waiver_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "waivers.toml"
    path.write_text(body)
    return path


def waiver(check: str = "MEM-004", expires: str = "2026-05-30T00:00:00Z", extra: str = "", wid: str = "W-1") -> str:
    return (f'[[waiver]]\nid = "{wid}"\ncheck = "{check}"\ntarget = "{DEPLOYMENT}"\nreason = "accepted for now"\n'
            f'approver = "jdoe"\nticket = "CHG-1"\nexpires = {expires}\n{extra}\n')


def test_a_waived_fail_is_waived_kept_and_no_longer_blocks(tmp_path: Path) -> None:
    waivers = load_waivers(waiver_file(tmp_path, waiver()), NOW, 90)
    findings = [*ALL_PASS[:5], ("MEM-004", "FAIL"), ("HA-001", "PASS")]
    assert make_report(findings).verdict.decision is Decision.NOT_READY
    report = make_report(findings, waiver_file=waivers)
    assert report.verdict.decision is Decision.READY
    data = report.to_json()
    mem = [f for f in data["findings"] if f["checkId"] == "MEM-004"]
    assert [(f["status"], f["effectiveStatus"], f["waiver"]) for f in mem] == [("FAIL", "WAIVED", "W-1")]
    assert data["waivers"]["applied"] == ["W-1"]
    assert data["waivers"]["source"]["digest"].startswith("sha256:")
    assert data["effectiveCounts"]["WAIVED"] == 1 and data["counts"]["FAIL"] == 1


def test_error_is_never_waived_and_the_waiver_is_unused(tmp_path: Path) -> None:
    waivers = load_waivers(waiver_file(tmp_path, waiver()), NOW, 90)
    report = make_report([*ALL_PASS[:5], ("MEM-004", "ERROR")], waiver_file=waivers)
    data = report.to_json()
    assert [f["effectiveStatus"] for f in data["findings"] if f["checkId"] == "MEM-004"] == ["ERROR"]
    assert data["waivers"]["unused"] == ["W-1"]
    assert report.verdict.decision is Decision.INCONCLUSIVE


def test_expired_waiver_is_not_applied_and_listed(tmp_path: Path) -> None:
    waivers = load_waivers(waiver_file(tmp_path, waiver(expires="2026-05-01T00:00:00Z")), NOW, 90)
    report = make_report([*ALL_PASS, ("MEM-004", "FAIL")], waiver_file=waivers)
    assert report.verdict.decision is Decision.NOT_READY
    assert report.to_json()["waivers"]["expired"] == ["W-1"]


def test_unmatched_and_expiring_soon_waivers_are_listed(tmp_path: Path) -> None:
    body = waiver("TLS-001", "2026-05-10", wid="W-soon") + waiver("MEM-004", "2026-07-01", wid="W-late")
    waivers = load_waivers(waiver_file(tmp_path, body), NOW, 90)
    data = make_report(ALL_PASS, waiver_file=waivers).to_json()["waivers"]
    assert data["unused"] == ["W-soon", "W-late"] and data["expiringSoon"] == ["W-soon"]


def test_node_narrows_a_waiver(tmp_path: Path) -> None:
    waivers = load_waivers(waiver_file(tmp_path, waiver(extra='node = "10.0.0.2:6379"')), NOW, 90)
    report = make_report([("MEM-004", "FAIL", "high", "10.0.0.1:6379", "x"),
                          ("MEM-004", "FAIL", "high", "10.0.0.2:6379", "y")], waiver_file=waivers)
    assert sorted(f["effectiveStatus"] for f in report.to_json()["findings"]) == ["FAIL", "WAIVED"]


@pytest.mark.parametrize(("body", "message"), [
    (waiver().replace('ticket = "CHG-1"\n', ""), "ticket is required"),
    (waiver(expires="2027-12-01"), "beyond the maximum of 90 days (report.max_waiver_days)"),
    (waiver(expires="2026-05-30T00:00:00"), "needs a time zone"),
    (waiver(expires='"soon"'), "must be a TOML date"),
    (waiver(extra='colour = "red"'), "unknown key 'colour'"),
    (waiver(check="MEM-*"), "not a pattern"),
    (waiver() + waiver(), "used twice"),
    ("[[waiver]\n", "not valid TOML"),
])
def test_malformed_waiver_files_are_one_line_usage_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(WaiverError) as excinfo:
        load_waivers(waiver_file(tmp_path, body), NOW, 90)
    assert message in str(excinfo.value) and "\n" not in str(excinfo.value)
    assert excinfo.value.exit_code == 2


def test_profile_bounds_the_horizon(tmp_path: Path) -> None:
    horizon = default_profile().report.max_waiver_days
    ok = (NOW + dt.timedelta(days=horizon - 1)).strftime("%Y-%m-%d")
    assert load_waivers(waiver_file(tmp_path, waiver(expires=ok)), NOW, horizon).waivers
