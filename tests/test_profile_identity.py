"""The profile that judged must be the profile that was named, and sign-off limits cannot be relaxed.

A file never stands in for a built-in profile; the report names the profile by origin and digest, never
by the name a file gives itself; a signoff run enforces the built-in sign-off floor whatever the profile
says; a looser limit in another mode is visible; verify re-derives all of it from the signed values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from redis_audit import __version__
from redis_audit.cli.main import main
from redis_audit.limits import apply_limits
from redis_audit.profile import ProfileError, ProfileOrigin, builtin_profile, profile_from_mapping, resolve_profile
from redis_audit.sandbox import SandboxSpec, sandbox_cli_args
from redis_audit.signing.keys import KeyPairPaths, generate_keypair
from redis_audit.signing.sign import sign_report
from redis_audit.signing.signers import LocalSigner
from redis_audit.waivers import load_waivers
from tests.reportkit import ALL_PASS, DEPLOYMENT, FINISHED, make_report
from tests.test_waivers import waiver, waiver_file

BAD = SandboxSpec(topology="standalone", preset="bad")
AT = "2026-05-04T12:00:00Z"
# The issue's file: "I am the sign-off profile", without gating, blocking nothing, valid for ten years.
FAKE_SIGNOFF = ('[general]\nname = "signoff"\nblocking_severities = []\n'
                '[report]\nmode = "signoff"\nvalidity_hours = { signoff = 87600 }\n[signoff]\ngate = false\n')
LONG_WAIVERS = '[report]\nmax_waiver_days = 36500\n'  # and nothing else: it still calls itself "default"


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> KeyPairPaths:
    return generate_keypair(tmp_path_factory.mktemp("identity-key"))


@pytest.fixture(scope="module")
def bad_snapshot(sandboxes: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A fresh snapshot of a bad deployment, and one FAIL of blocking severity in it."""
    tmp = tmp_path_factory.mktemp("identity-snap")
    path = tmp / "bad.json"
    report = tmp / "bad.report.json"
    assert main([str(a) for a in ("run", *sandbox_cli_args(sandboxes.get(BAD), tmp), "--name", DEPLOYMENT,
                                  "--save-snapshot", path, "--format", "json", "--output", report)]) == 1
    findings = json.loads(report.read_text())["findings"]
    blocker = next(f for f in findings if f["status"] == "FAIL" and f["severity"] in ("critical", "high"))
    return {"path": path, "blocker": blocker}


def predicate(capsys: pytest.CaptureFixture[str], envelope: Path, key: KeyPairPaths) -> dict[str, Any]:
    code, out, err = cli(capsys, "render", envelope, "--key", key.public_key, "--format", "json")
    assert code in (0, 1, 3), err
    return json.loads(out)["predicate"]  # type: ignore[no-any-return]


def test_a_file_named_signoff_in_the_cwd_never_stands_in_for_the_builtin(
        bad_snapshot: dict[str, Any], key: KeyPairPaths, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("signoff").write_text(FAKE_SIGNOFF)
    envelope = tmp_path / "r.dsse.json"
    sign = ("--from-snapshot", bad_snapshot["path"], "--sign-with", key.private_key, "--output", envelope)
    code, out, err = cli(capsys, "run", *sign, "--profile", "signoff")
    assert code == 2 and out == "" and err.count("\n") == 1 and not envelope.exists()
    assert "ambiguous" in err and "builtin:signoff" in err and "./signoff" in err

    code, _, err = cli(capsys, "run", *sign, "--profile", "builtin:signoff")
    assert code == 1, err
    report = predicate(capsys, envelope, key)
    assert report["profile"]["origin"] == {"kind": "builtin", "name": "signoff", "toolVersion": __version__}
    assert report["profile"]["digest"] == builtin_profile("signoff").digest()

    # The file itself, named as a file: judged under the sign-off floor, and named as the file it is.
    code, _, err = cli(capsys, "run", *sign, "--profile", "./signoff")
    assert code == 1, err
    report = predicate(capsys, envelope, key)
    assert report["run"]["mode"] == "signoff" and report["verdict"]["decision"] == "NOT_READY"
    assert report["profile"]["origin"]["kind"] == "file" and report["profile"]["origin"]["path"] == "./signoff"
    raised = {r["key"]: (r["given"], r["used"]) for r in report["profile"]["limits"]["raised"]}
    assert raised["report.validity_hours.signoff"] == (87600, 24)
    assert raised["general.blocking_severities"] == ([], ["critical", "high"])
    assert raised["signoff.gate"] == (False, True)
    assert report["verdict"]["signoff"]["gate"] is True
    assert any(b["reason"] == "failed" for b in report["verdict"]["blockers"])
    code, out, _ = cli(capsys, "verify", envelope, "--key", key.public_key)
    assert code == 1 and "Profile:     file ./signoff (declares name 'signoff')" in out
    assert "builtin:signoff floor: report.validity_hours.signoff 87600 -> 24" in out
    assert "profile signoff" not in out


def test_a_36500_day_waiver_limit_does_not_waive_blockers_in_a_signoff_run(
        bad_snapshot: dict[str, Any], key: KeyPairPaths, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = tmp_path / "long-waivers.toml"
    profile.write_text(LONG_WAIVERS)
    blocker = bad_snapshot["blocker"]
    waivers = tmp_path / "w.toml"
    waivers.write_text(f'[[waiver]]\nid = "W-2099"\ncheck = "{blocker["checkId"]}"\ntarget = "{DEPLOYMENT}"\n'
                       f'node = "{blocker["resource"]}"\nreason = "forever"\napprover = "me"\nticket = "T-1"\n'
                       'expires = 2099-01-01\n')
    envelope = tmp_path / "r.dsse.json"
    args = ("run", "--from-snapshot", bad_snapshot["path"], "--profile", profile, "--waivers", waivers,
            "--sign-with", key.private_key, "--output", envelope)
    code, out, err = cli(capsys, *args, "--run-mode", "signoff")
    assert code == 2 and out == "" and err.count("\n") == 1 and not envelope.exists()
    assert "beyond the maximum of 30 days (the sign-off limit)" in err

    # Outside sign-off the raised limit is the profile's choice, and every rendering shows it as such.
    code, _, err = cli(capsys, *args, "--run-mode", "pre-promotion", "--format", "markdown")
    assert code in (1, 3), err
    report = predicate(capsys, envelope, key)
    waived = next(f for f in report["findings"] if f["findingId"] == blocker["findingId"])
    assert waived["effectiveStatus"] == "WAIVED"
    assert report["profile"]["limits"]["relaxed"] == [
        {"key": "report.max_waiver_days", "value": 36500, "builtin": 90}]
    assert report["profile"]["origin"]["kind"] == "file" and report["profile"]["declaredName"] == "default"
    markdown = cli(capsys, "render", envelope, "--key", key.public_key, "--format", "markdown")[1]
    row = next(line for line in markdown.splitlines() if line.startswith("| Profile | "))
    assert "long-waivers.toml (declares name 'default')" in row and report["profile"]["digest"] in row
    assert "| Profile limit | relaxed: report.max\\_waiver\\_days = 36500 (built-in: 90) |" in markdown


def signed_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path, report: dict[str, Any], key: KeyPairPaths,
               *args: object) -> tuple[int, str, str]:
    path = tmp_path / "hand.dsse.json"
    path.write_bytes(sign_report(report, f"redis://{DEPLOYMENT}", [LocalSigner.from_file(key.private_key)]).to_bytes())
    return cli(capsys, "verify", path, "--key", key.public_key, "--at", AT, *args)


def test_verify_enforces_the_signoff_floor_on_hand_built_payloads(key: KeyPairPaths, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    lax = profile_from_mapping({"report": {"max_waiver_days": 36500, "validity_hours": {"signoff": 87600}},
                                "general": {"blocking_severities": []}, "signoff": {"gate": False}})
    failing = [*ALL_PASS, ("MEM-004", "FAIL", "high", "10.0.0.9:6379", "volatile-lru")]
    waivers = load_waivers(waiver_file(tmp_path, waiver(expires="2099-01-01")), FINISHED, 36500)
    # A producer that skipped the floor: the waiver applied, validity of ten years, no gate.
    honest = make_report(failing, lax, mode="pre-promotion", waiver_file=waivers).to_json()
    assert signed_cli(capsys, tmp_path, honest, key)[0] == 0
    forged = {**honest, "run": {**honest["run"], "mode": "signoff"}}  # type: ignore[dict-item]
    code, _, err = signed_cli(capsys, tmp_path, forged, key)
    assert code == 5 and "profile.limits do not match" in err
    forged["profile"]["limits"] = apply_limits(lax, "signoff").to_json()  # type: ignore[index]
    code, _, err = signed_cli(capsys, tmp_path, forged, key)
    assert code == 5 and "beyond the 30-day waiver limit of this signoff report" in err

    # Without the waiver: the floor's gate and validity are recomputed too.
    report = make_report(failing, lax, mode="signoff").to_json()
    assert report["verdict"]["validUntil"] == "2026-05-05T10:00:00Z"  # type: ignore[index]
    assert signed_cli(capsys, tmp_path, report, key)[0] == 1
    for tamper, message in (
        (lambda r: r["verdict"]["signoff"].update(gate=False), "verdict mismatch"),
        (lambda r: r["verdict"].update(validUntil="2036-05-04T10:00:00Z"), "is not the profile's validity"),
        (lambda r: r["profile"]["limits"].update(raised=[]), "profile.limits do not match"),
        (lambda r: r["profile"].update(digest="sha256:" + "0" * 64), "not the digest of profile.values"),
        (lambda r: r["profile"].update(declaredName="signoff"), "declaredName"),
        (lambda r: r["profile"].update(origin=ProfileOrigin.builtin("signoff").to_json()),
         "claims to be builtin:signoff"),
        (lambda r: r["profile"]["values"]["report"].pop("max_waiver_days"), "not a complete profile"),
    ):
        forged = json.loads(json.dumps(report))
        tamper(forged)
        code, out, err = signed_cli(capsys, tmp_path, forged, key)
        assert code == 5 and out == "" and message in err, (message, err)


def test_an_override_to_a_severity_that_does_not_block_is_ignored_in_signoff() -> None:
    lowering = profile_from_mapping({"general": {"severity_overrides": {"TLS-002": "low", "MEM-002": "critical"}}})
    limited = apply_limits(lowering, "signoff")
    assert limited.profile.general.severity_overrides == {"MEM-002": "critical"}
    assert [r.key for r in limited.raised if "severity" in r.key] == ["general.severity_overrides.TLS-002"]
    relaxed = apply_limits(lowering, "pre-promotion").relaxed
    assert [r.key for r in relaxed] == ["general.severity_overrides.TLS-002"]


def test_the_builtin_signoff_profile_is_its_own_floor() -> None:
    limited = apply_limits(builtin_profile("signoff"), "signoff")
    assert limited.raised == () and limited.relaxed == () and limited.floor == "builtin:signoff"
    assert apply_limits(builtin_profile("default"), "pre-promotion").relaxed == ()


def test_profile_names_resolve_by_a_clear_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_profile(None).origin == ProfileOrigin.builtin("default")
    assert resolve_profile("signoff").origin == ProfileOrigin.builtin("signoff")
    assert resolve_profile("builtin:default").profile == builtin_profile("default")
    with pytest.raises(ProfileError, match=r"no such built-in profile \(known: builtin:default, builtin:signoff\)"):
        resolve_profile("builtin:strict")
    Path("default").write_text("")
    with pytest.raises(ProfileError, match="ambiguous"):
        resolve_profile("default")
    loaded = resolve_profile("./default")
    assert loaded.origin.kind == "file" and loaded.origin.path == "./default"
    Path("p.toml").write_text('[general]\nname = "signoff"\n')
    origin = resolve_profile("p.toml").origin
    assert origin.kind == "file" and origin.label == "file p.toml" and origin.file_sha256


def test_profile_digest_prints_what_the_report_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "profile", "digest", "builtin:signoff")
    assert code == 0 and out == f"{builtin_profile('signoff').digest()}  builtin:signoff (redis-audit {__version__})\n"
    report = make_report(ALL_PASS, builtin_profile("signoff")).to_json()
    assert report["profile"]["digest"] == out.split()[0]  # type: ignore[index]
