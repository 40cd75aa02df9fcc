"""The renderings a CI system gates on fail exactly when the verdict is not READY, as read by their real consumers.

Each verdict (READY, NOT_READY, waived READY, sign-off NOT_READY with blockers not verified, INCONCLUSIVE) is
rendered from a signed, verified report and handed to: junitparser and xunitparser (unittest's
wasSuccessful(), as a Jenkins/GitLab gate reads a JUnit file), sarif-tools (`sarif --check error|warning`),
the SARIF 2.1.0 schema and the SARIF Multitool with GitHub's rule set (what code scanning accepts).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import junitparser
import pytest
import xunitparser

from redis_audit.cli.main import main
from redis_audit.cli.signed import PinnedKey, Verified, render, verify_file
from redis_audit.output import SourceFile
from redis_audit.profile import load_profile
from redis_audit.signing.keys import generate_keypair, load_public_key
from redis_audit.signing.sign import sign_report
from redis_audit.signing.signers import LocalSigner
from redis_audit.waivers import load_waivers
from tests.reportkit import ALL_PASS, DEPLOYMENT, FINISHED, make_report
from tests.test_waivers import waiver, waiver_file

ROOT = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text())
SARIF_MULTITOOL_VERSION = "5.7.0"  # scripts/lib.sh installs this version (asserted below)
NOT_BLOCKING = [("CLI-003", "WARN", "medium", "deployment", "pool timeouts unknown"),
                ("LAT-001", "SKIP", "high", "deployment", "no probe results"),
                ("CLU-001", "SKIP", "high", "deployment", "not a cluster"),
                ("MEM-008", "FAIL", "medium", "10.0.0.1:6379", "maxmemory-clients is 0"),
                ("ENC-001", "ERROR", "low", "deployment", "describe failed")]


@dataclass(frozen=True)
class Case:
    verified: Verified
    decision: str
    path: Path


def _without(check_id: str) -> list[tuple[str, str]]:
    return [spec for spec in ALL_PASS if spec[0] != check_id]


def _build(name: str, tmp: Path) -> tuple[dict[str, object], str]:
    if name == "ready":
        return make_report([*ALL_PASS, *NOT_BLOCKING], mode="pre-promotion").to_json(), "READY"
    if name == "not-ready":
        findings = [*_without("MEM-004"), *NOT_BLOCKING, ("MEM-004", "FAIL", "high", "10.0.0.1:6379", "volatile-lru"),
                    ("MEM-004", "FAIL", "high", "10.0.0.2:6379", "volatile-lru")]
        return make_report(findings, mode="pre-promotion").to_json(), "NOT_READY"
    if name == "waived":
        waivers = load_waivers(waiver_file(tmp, waiver()), FINISHED, 90)
        findings = [*_without("MEM-004"), ("MEM-004", "FAIL", "high", "10.0.0.1:6379", "volatile-lru")]
        return make_report(findings, waiver_file=waivers, mode="pre-promotion").to_json(), "READY"
    if name == "signoff":  # every finding passes, but the sign-off blockers' checks did not all run
        return make_report(ALL_PASS, profile=load_profile(Path("signoff"))).to_json(), "NOT_READY"
    if name == "inconclusive":  # a required check errored (e.g. the target stopped answering)
        findings = [*_without("AUTH-001"), ("AUTH-001", "ERROR", "critical", "10.0.0.1:6379", "Timeout reading")]
        return make_report(findings, mode="pre-promotion").to_json(), "INCONCLUSIVE"
    raise AssertionError(name)


@pytest.fixture(scope="module", params=["ready", "not-ready", "waived", "signoff", "inconclusive"])
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Case:
    base = tmp_path_factory.mktemp(request.param)
    pair = generate_keypair(base / "keys")
    report, decision = _build(request.param, base)
    path = base / "report.dsse.json"
    path.write_bytes(sign_report(report, f"redis://{DEPLOYMENT}", [LocalSigner.from_file(pair.private_key)])
                     .to_bytes())
    verified = verify_file(path, [PinnedKey(pair.public_key, load_public_key(pair.public_key))],
                           at=FINISHED + dt.timedelta(hours=1))
    assert verified.report["verdict"]["decision"] == decision  # type: ignore[index]
    return Case(verified, decision, base)


def _write(case: Case, output_format: str, suffix: str) -> Path:
    out = case.path / f"report.{suffix}"
    out.write_text(render(case.verified.report, output_format, signed=case.verified.context,
                          source=SourceFile("deploy/redis/profile.toml", 7)))
    return out


# JUnit


def test_junit_fails_exactly_when_the_verdict_is_not_ready(case: Case) -> None:
    path = _write(case, "junit", "xml")
    _suite, result = xunitparser.parse(path.open())
    assert result.wasSuccessful() == (case.decision == "READY")
    xml = junitparser.JUnitXml.fromfile(str(path))
    assert (xml.failures + xml.errors > 0) == (case.decision != "READY")
    verdict = next(s for s in xml if s.name.endswith(": verdict"))
    outcome = [type(r).__name__ for c in verdict for r in c.result]
    assert outcome == {"READY": [], "NOT_READY": ["Failure"], "INCONCLUSIVE": ["Error"]}[case.decision]


def test_junit_totals_and_times_add_up(case: Case) -> None:
    xml = junitparser.JUnitXml.fromfile(str(_write(case, "junit", "xml")))
    cases = [c for suite in xml for c in suite]
    kinds = [type(r).__name__ for c in cases for r in c.result]
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (
        len(cases), kinds.count("Failure"), kinds.count("Error"), kinds.count("Skipped"))
    for suite in xml:
        suite_kinds = [type(r).__name__ for c in suite for r in c.result]
        assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (
            len(list(suite)), suite_kinds.count("Failure"), suite_kinds.count("Error"), suite_kinds.count("Skipped"))
        assert suite.time == pytest.approx(sum(c.time for c in suite))
    duration = case.verified.report["run"]["durationMs"] / 1000  # type: ignore[index]
    assert xml.time == pytest.approx(duration) and duration > 0


def test_junit_warnings_stay_apart_from_not_applicable_skips(case: Case) -> None:
    xml = junitparser.JUnitXml.fromfile(str(_write(case, "junit", "xml")))
    by_name = {c.name: (suite.name, c) for suite in xml for c in suite}
    skipped_suites = {suite.name for suite in xml for c in suite if c.is_skipped}
    for name, (suite, testcase) in by_name.items():
        if "[WARN]" in name or "[FAIL]" in name or "[WAIVED]" in name:
            assert testcase.is_passed and suite.endswith("needs attention (not blocking)")
            assert re.match(r"(WARN|FAIL|WAIVED) ", testcase.system_err or "")
            assert suite not in skipped_suites
    if case.decision == "READY" and "waived" not in str(case.path):
        assert {"CLI-003 deployment [WARN]", "MEM-008 10.0.0.1:6379 [FAIL]", "ENC-001 deployment [ERROR]"} <= set(
            by_name)
        assert by_name["LAT-001 deployment"][1].is_skipped
    if "waived" in str(case.path):
        assert "MEM-004 10.0.0.1:6379 [WAIVED]" in by_name


def test_junit_signoff_blockers_not_met_or_not_verified_fail_in_signoff_mode(case: Case) -> None:
    xml = junitparser.JUnitXml.fromfile(str(_write(case, "junit", "xml")))
    signoff = next(s for s in xml if "sign-off blockers" in s.name)
    states = {b["title"]: b["state"] for b in case.verified.report["verdict"]["signoff"]["blockers"]}  # type: ignore
    gating = case.verified.report["verdict"]["signoff"]["gate"]  # type: ignore[index]
    for testcase in signoff:
        kinds = [type(r).__name__ for r in testcase.result]
        if states[testcase.name] == "met":
            assert kinds == []
        else:
            assert kinds == (["Failure"] if gating else ["Skipped"])
    if "signoff" in str(case.path):
        assert gating and "not verified" in states.values() and signoff.failures > 0


def test_junit_blocking_findings_fail_and_inconclusive_causes_error(case: Case) -> None:
    xml = junitparser.JUnitXml.fromfile(str(_write(case, "junit", "xml")))
    by_name = {c.name: c for suite in xml for c in suite}
    if "not-ready" in str(case.path):
        assert [type(r).__name__ for r in by_name["MEM-004 10.0.0.2:6379"].result] == ["Failure"]
    if case.decision == "INCONCLUSIVE":
        assert [type(r).__name__ for r in by_name["AUTH-001 10.0.0.1:6379"].result] == ["Error"]


def test_junit_is_well_formed_xml_even_with_control_characters(tmp_path: Path) -> None:
    hostile = "bell\x07 escape\x1b[31m nul\x00 ok"
    report = make_report([*ALL_PASS, ("CLI-003", "WARN", "medium", "deployment", hostile)]).to_json()
    path = tmp_path / "r.xml"
    path.write_text(render(report, "junit"))
    testcase = next(c for s in junitparser.JUnitXml.fromfile(str(path)) for c in s if "CLI-003" in c.name)
    assert "bell\\x07 escape\\x1b[31m nul\\x00 ok" in (testcase.system_err or "")  # output/sanitize.py


# SARIF


def _sarif_check(path: Path, level: str) -> int:
    sarif = Path(sys.executable).parent / "sarif"
    return subprocess.run([str(sarif), "--check", level, "summary", str(path)], capture_output=True,
                          timeout=120).returncode


def test_sarif_gates_fail_exactly_when_the_verdict_is_not_ready(case: Case) -> None:
    path = _write(case, "sarif", "sarif")
    assert (_sarif_check(path, "error") != 0) == (case.decision != "READY")
    if case.decision != "READY":
        assert _sarif_check(path, "warning") != 0
    log = json.loads(path.read_text())
    results = log["runs"][0]["results"]
    verdict = [r for r in results if r["ruleId"] == "VERDICT"]
    assert [(r["kind"], r["level"]) for r in verdict] == ([] if case.decision == "READY" else [("fail", "error")])
    if case.decision == "INCONCLUSIVE":
        assert any(r["ruleId"] == "AUTH-001" and r["level"] == "error" for r in results)


def test_sarif_is_valid_against_the_schema_with_distinct_fingerprints_and_a_real_location(case: Case) -> None:
    log = json.loads(_write(case, "sarif", "sarif").read_text())
    jsonschema.validate(log, SARIF_SCHEMA)
    run = log["runs"][0]
    results = run["results"]
    for key in ("primaryLocationLineHash", "readinessFindingId/v1"):
        values = [r["partialFingerprints"][key] for r in results]
        assert len(values) == len(set(values))
    for r in results:
        location = r["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == "deploy/redis/profile.toml"
        assert location["region"]["startLine"] == 7
    rules = run["tool"]["driver"]["rules"]
    for rule in rules:
        assert rule["fullDescription"]["text"] and rule["help"]["text"] and rule["help"]["markdown"]
        assert rule["helpUri"].startswith("https://")
        assert ("security-severity" in rule["properties"]) == ("security" in rule["properties"]["tags"])
    assert [r["ruleIndex"] for r in results] == [[x["id"] for x in rules].index(r["ruleId"]) for r in results]
    if "waived" in str(case.path):
        waived = next(r for r in results if r["ruleId"] == "MEM-004")
        assert waived["level"] == "note" and waived["suppressions"][0]["status"] == "accepted"


def sarif_multitool() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    tools = Path(os.environ.get("REDIS_AUDIT_TOOLS") or cache / "redis-audit-tools")
    binary = (tools / f"sarif-multitool-{SARIF_MULTITOOL_VERSION}" / "node_modules" / "@microsoft" /
              "sarif-multitool-linux" / "Sarif.Multitool")
    assert binary.is_file(), ("the SARIF Multitool is missing: scripts/test installs it "
                              "(bash -c 'source scripts/lib.sh; ensure_sarif_multitool')")
    return binary


def test_the_installed_multitool_is_the_version_scripts_install() -> None:
    assert f"SARIF_MULTITOOL_VERSION={SARIF_MULTITOOL_VERSION}" in (ROOT / "scripts" / "lib.sh").read_text()


def test_sarif_passes_githubs_rules_in_the_sarif_multitool(case: Case) -> None:
    path = _write(case, "sarif", "sarif")
    out = case.path / "validation.sarif"
    env = {**os.environ, "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1", "DOTNET_CLI_TELEMETRY_OPTOUT": "1"}
    done = subprocess.run([str(sarif_multitool()), "validate", "--rule-kind", "Sarif;Gh", "--output", str(out),
                           str(path)], capture_output=True, text=True, timeout=300, env=env)
    findings = [(r["ruleId"], r.get("level", "warning"), r["message"].get("arguments"))
                for r in json.loads(out.read_text())["runs"][0]["results"]]
    assert [f for f in findings if f[1] == "error"] == [], done.stdout
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_sarif_rendering_that_github_would_refuse_is_caught(tmp_path: Path) -> None:
    """The Multitool check can fail: a rule without fullDescription (GitHub's GH2012) is reported."""
    report = make_report([*ALL_PASS, ("CLI-003", "WARN", "medium", "deployment", "x")]).to_json()
    log = json.loads(render(report, "sarif"))
    del log["runs"][0]["tool"]["driver"]["rules"][0]["fullDescription"]
    path, out = tmp_path / "bad.sarif", tmp_path / "out.sarif"
    path.write_text(json.dumps(log))
    env = {**os.environ, "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1"}
    subprocess.run([str(sarif_multitool()), "validate", "--rule-kind", "Sarif;Gh", "--output", str(out), str(path)],
                   capture_output=True, timeout=300, env=env)
    assert "GH2012" in {r["ruleId"] for r in json.loads(out.read_text())["runs"][0]["results"]}


def test_render_points_sarif_at_the_deployments_line_of_the_given_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # the checkout: locations are relative to it
    pair = generate_keypair(tmp_path / "keys")
    envelope = tmp_path / "reports" / "cache.dsse.json"
    envelope.parent.mkdir()
    report = make_report([*ALL_PASS, ("CLI-003", "WARN", "medium", "deployment", "x")]).to_json()
    envelope.write_bytes(sign_report(report, f"redis://{DEPLOYMENT}", [LocalSigner.from_file(pair.private_key)])
                         .to_bytes())
    inventory = tmp_path / "fleet" / "inventory.toml"
    inventory.parent.mkdir()
    inventory.write_text(f'[[deployment]]\nname = "other"\n\n[[deployment]]\nname = "{DEPLOYMENT}"\n')
    args = ["render", str(envelope), "--key", str(pair.public_key), "--at", "2026-05-04T11:00:00Z", "--format", "sarif"]

    def location(*extra: str) -> object:
        assert main([*args, *extra]) == 0
        return json.loads(capsys.readouterr().out)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]

    assert location("--sarif-location", str(inventory)) == {"artifactLocation": {"uri": "fleet/inventory.toml"},
                                                            "region": {"startLine": 5}}
    # Without the option: the envelope rendered, relative to the checkout.
    assert location() == {"artifactLocation": {"uri": "reports/cache.dsse.json"}, "region": {"startLine": 1}}


def test_an_unreachable_target_fails_every_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's case end to end: nothing answers, the run exits 3, and neither rendering reads green."""
    args = ["run", "redis://127.0.0.1:1", "--deadline", "5", "--connect-timeout", "0.5"]
    junit, sarif = tmp_path / "r.xml", tmp_path / "r.sarif"
    assert main([*args, "--format", "junit", "--output", str(junit)]) == 3
    assert main([*args, "--format", "sarif", "--output", str(sarif)]) == 3
    capsys.readouterr()
    _suite, result = xunitparser.parse(junit.open())
    assert not result.wasSuccessful() and len(result.errors) >= 1
    assert _sarif_check(sarif, "error") != 0 and _sarif_check(sarif, "warning") != 0
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert ("VERDICT", "error") in {(r["ruleId"], r["level"]) for r in results}
    # No profile, no waivers, no envelope: the conventional path of the deployment's profile, never the SARIF itself.
    location = results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert location == "redis-audit/redis-127.0.0.1-1.toml"
