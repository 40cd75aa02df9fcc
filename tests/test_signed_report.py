"""verify, render and diff on the command line: tampering is refused, the verdict is recomputed."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from redis_audit.cli.main import main
from redis_audit.jsonvalue import JsonObject
from redis_audit.signing.keys import generate_keypair
from redis_audit.signing.sign import sign_report
from redis_audit.signing.signers import LocalSigner
from tests.reportkit import ALL_PASS, DEPLOYMENT, make_report

AT = "2026-05-04T12:00:00Z"  # the reports below finish at 10:00:07 on that day


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("keys")
    pairs = {name: generate_keypair(base / name) for name in ("ci", "approver", "stranger")}
    return {name: (LocalSigner.from_file(p.private_key), p.public_key) for name, p in pairs.items()}


def signed(tmp_path: Path, report: JsonObject, signers: list[LocalSigner], name: str = "r.dsse.json") -> Path:
    path = tmp_path / name
    path.write_bytes(sign_report(report, f"redis://{DEPLOYMENT}", signers).to_bytes())
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_valid_reports_exit_by_verdict(tmp_path: Path, keys: dict[str, Any],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    ci, pub = keys["ci"]
    cases = {"READY": (ALL_PASS, 0), "NOT_READY": ([*ALL_PASS, ("MEM-001", "FAIL")], 1),
             "INCONCLUSIVE": ([*ALL_PASS, ("MEM-001", "ERROR")], 3)}
    for decision, (findings, expected) in cases.items():
        path = signed(tmp_path, make_report(findings).to_json(), [ci], f"{decision}.dsse.json")
        code, out, _ = run_cli(capsys, "verify", path, "--key", pub, "--at", AT)
        assert code == expected and f"Verdict:     {decision}" in out and out.startswith("VALID")


def test_hand_edited_verdict_re_signed_with_the_same_key_is_refused(tmp_path: Path, keys: dict[str, Any],
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    ci, pub = keys["ci"]
    report = make_report([*ALL_PASS, ("MEM-001", "FAIL")]).to_json()
    report["verdict"]["decision"] = "READY"  # type: ignore[index]
    path = signed(tmp_path, report, [ci])
    code, out, err = run_cli(capsys, "verify", path, "--key", pub, "--at", AT)
    assert code == 5 and out == ""
    assert "verdict mismatch: report states 'READY', findings give NOT_READY" in err and err.count("\n") == 1


def test_edited_blockers_with_the_same_decision_are_refused(tmp_path: Path, keys: dict[str, Any],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    ci, pub = keys["ci"]
    report = make_report([*ALL_PASS, ("MEM-001", "FAIL"), ("TLS-001", "FAIL")]).to_json()
    report["verdict"]["blockers"] = report["verdict"]["blockers"][:1]  # type: ignore[index]
    code, _, err = run_cli(capsys, "verify", signed(tmp_path, report, [ci]), "--key", pub, "--at", AT)
    assert code == 5 and "blockers or sign-off states differ" in err


def test_a_waived_fail_turned_into_pass_by_the_producer_is_caught(tmp_path: Path, keys: dict[str, Any],
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from redis_audit.waivers import load_waivers
    from tests.test_waivers import waiver, waiver_file

    ci, pub = keys["ci"]
    waivers = load_waivers(waiver_file(tmp_path, waiver()), make_report([]).finished_at, 90)
    report = make_report([*ALL_PASS, ("MEM-004", "FAIL", "high", "10.0.0.9:6379", "volatile-lru")],
                         waiver_file=waivers).to_json()
    honest = signed(tmp_path, report, [ci], "honest.dsse.json")
    assert run_cli(capsys, "verify", honest, "--key", pub, "--at", AT)[0] == 0
    forged = copy.deepcopy(report)
    for f in forged["findings"]:  # type: ignore[union-attr]
        if f["waiver"]:
            f.update(status="PASS", effectiveStatus="PASS", waiver=None)
    forged["counts"]["FAIL"] -= 1  # type: ignore[index, operator]
    forged["counts"]["PASS"] += 1  # type: ignore[index, operator]
    code, _, err = run_cli(capsys, "verify", signed(tmp_path, forged, [ci], "forged.dsse.json"), "--key", pub,
                           "--at", AT)
    assert code == 5 and "waivers section does not match" in err


def test_tampering_other_keys_thresholds_and_expiry(tmp_path: Path, keys: dict[str, Any],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (ci, ci_pub), (approver, approver_pub), (stranger, _) = keys["ci"], keys["approver"], keys["stranger"]
    report = make_report(ALL_PASS).to_json()
    path = signed(tmp_path, report, [ci])
    envelope = json.loads(path.read_bytes())
    payload = base64.b64decode(envelope["payload"]).replace(b'"READY"', b'"READY "', 1)
    envelope["payload"] = base64.b64encode(payload).decode()
    tampered = tmp_path / "tampered.dsse.json"
    tampered.write_text(json.dumps(envelope))
    assert "no signature verifies" in run_cli(capsys, "verify", tampered, "--key", ci_pub, "--at", AT)[2]
    other = signed(tmp_path, report, [stranger], "other.dsse.json")
    assert run_cli(capsys, "verify", other, "--key", ci_pub, "--at", AT)[0] == 5
    code, _, err = run_cli(capsys, "verify", path, "--key", ci_pub, "--key", approver_pub, "--threshold", "2",
                           "--at", AT)
    assert code == 5 and "1 trusted key(s) signed, 2 required" in err
    dual = signed(tmp_path, report, [ci, approver], "dual.dsse.json")
    code, out, _ = run_cli(capsys, "verify", dual, "--key", ci_pub, "--key", approver_pub, "--threshold", "2",
                           "--at", AT)
    assert code == 0 and "signing-key.pub.pem" in out
    # Validity counts from the collection (10:00:00), not from the end of the judging.
    code, _, err = run_cli(capsys, "verify", path, "--key", ci_pub, "--at", "2026-05-11T10:00:00Z")
    assert code == 5 and "expired at 2026-05-11T10:00:00Z" in err
    code, _, err = run_cli(capsys, "verify", path, "--key", ci_pub, "--at", AT, "--expect-target", "other-cache")
    assert code == 5 and "expected 'redis://other-cache'" in err
    assert run_cli(capsys, "verify", path, "--key", ci_pub, "--at", AT, "--expect-target", DEPLOYMENT)[0] == 0


def test_validity_comes_from_the_profile_per_mode(tmp_path: Path, keys: dict[str, Any],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    ci, pub = keys["ci"]
    report = make_report(ALL_PASS, mode="signoff").to_json()
    assert report["verdict"]["validUntil"] == "2026-05-05T10:00:00Z"  # type: ignore[index]
    assert make_report(ALL_PASS, mode="pre-promotion").to_json()["verdict"]["validUntil"] == "2026-05-11T10:00:00Z"  # type: ignore[index]
    report["verdict"]["validUntil"] = "2026-06-01T00:00:00Z"  # type: ignore[index]
    code, _, err = run_cli(capsys, "verify", signed(tmp_path, report, [ci]), "--key", pub, "--at", AT)
    assert code == 5 and "is not the profile's validity for signoff" in err


def test_render_refuses_an_invalid_report(tmp_path: Path, keys: dict[str, Any],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    ci, _ = keys["ci"]
    _, stranger_pub = keys["stranger"]
    path = signed(tmp_path, make_report(ALL_PASS).to_json(), [ci])
    code, out, err = run_cli(capsys, "render", path, "--key", stranger_pub, "--at", AT, "--format", "markdown")
    assert code == 5 and out == "" and "invalid report" in err


def test_diff_lists_changes_and_fails_on_a_new_blocker(tmp_path: Path, keys: dict[str, Any],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    ci, pub = keys["ci"]
    old = signed(tmp_path, make_report([*ALL_PASS, ("CLI-003", "WARN", "low")]).to_json(), [ci], "old.dsse.json")
    new_findings = [f for f in ALL_PASS if f[0] != "MEM-001"] + [("MEM-001", "FAIL"), ("LAT-001", "PASS")]
    new = signed(tmp_path, make_report(new_findings).to_json(), [ci], "new.dsse.json")
    code, out, _ = run_cli(capsys, "diff", old, new, "--key", pub, "--at", AT, "--format", "json")
    result = json.loads(out)
    assert code == 1
    assert result["verdict"] == {"before": "READY", "after": "NOT_READY", "changed": True}
    assert [f["checkId"] for f in result["new"]] == ["LAT-001"]
    assert [f["checkId"] for f in result["resolved"]] == ["CLI-003"]
    assert [(c["checkId"], c["before"], c["after"]) for c in result["changed"]] == [
        ("MEM-001", {"status": "PASS", "effectiveStatus": "PASS"}, {"status": "FAIL", "effectiveStatus": "FAIL"})]
    assert [b["checkId"] for b in result["newBlockers"]] == ["MEM-001"]
    code, out, _ = run_cli(capsys, "diff", new, old, "--key", pub, "--at", AT)
    assert code == 0 and "Verdict: NOT_READY -> READY (changed)" in out
