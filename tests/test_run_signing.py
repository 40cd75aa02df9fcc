"""`run` and signing, on a saved snapshot (no server): signed modes, --report-only, waiver errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from redis_audit.cli.main import main
from redis_audit.signing.keys import generate_keypair, load_private_key
from redis_audit.signing.signers import LocalSigner
from redis_audit.snapshot import Snapshot, TargetInfo
from redis_audit.topology import DeploymentKind, Topology
from redis_audit.waivers import rfc3339


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    target = TargetInfo(url="redis://127.0.0.1:1", kind="redis", seeds=("127.0.0.1:1",), tls=False,
                        tls_verify=True, user=None, name="saved")
    path = tmp_path / "snap.json"
    collected = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # fresh: within every mode's snapshot age limit
    Snapshot(target, Topology(DeploymentKind.STANDALONE), {}, rfc3339(collected), rfc3339(collected),
             "0.1.0").save(path)
    return path


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("mode", ["pre-promotion", "signoff", "scheduled"])
def test_a_signed_mode_refuses_to_run_unsigned(capsys: pytest.CaptureFixture[str], mode: str) -> None:
    code, out, err = cli(capsys, "run", "redis://127.0.0.1:1", "--run-mode", mode)
    assert code == 4 and out == "" and f"a {mode} run must be signed" in err


def test_the_signoff_profile_implies_signoff_mode(capsys: pytest.CaptureFixture[str], snapshot: Path) -> None:
    code, out, err = cli(capsys, "run", "--from-snapshot", snapshot, "--profile", "signoff")
    assert code == 4 and out == "" and "a signoff run must be signed" in err


def test_signed_run_writes_a_verifiable_envelope(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 snapshot: Path) -> None:
    one, two = generate_keypair(tmp_path / "ci"), generate_keypair(tmp_path / "approver")
    out_file = tmp_path / "saved.dsse.json"
    code, out, err = cli(capsys, "run", "--from-snapshot", snapshot, "--run-mode", "pre-promotion",
                         "--sign-with", one.private_key, "--sign-with", two.private_key, "--output", out_file)
    assert code in (1, 3) and "Signed report (2 signatures) written to" in err and out.startswith("Target:")
    assert f"--key {one.public_key} --key {two.public_key} --threshold 2" in err
    verify = cli(capsys, "verify", out_file, "--key", one.public_key, "--key", two.public_key, "--threshold", "2")
    assert verify[0] == code and "(mode pre-promotion" in verify[1]


def test_a_readable_key_is_refused_unless_overridden_and_the_report_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: Path) -> None:
    pair = generate_keypair(tmp_path / "k")
    pair.private_key.chmod(0o644)
    envelope = tmp_path / "r.dsse.json"
    code, _, err = cli(capsys, "run", "--from-snapshot", snapshot, "--sign-with", pair.private_key,
                       "--output", envelope)
    assert code == 2 and "accessible by group or others (mode 0644)" in err and len(err.splitlines()) == 1
    assert not envelope.exists()
    code, _, err = cli(capsys, "run", "--from-snapshot", snapshot, "--sign-with", pair.private_key)
    assert code == 2 and "--sign-with needs --output" in err
    code, _, err = cli(capsys, "run", "--from-snapshot", snapshot, "--sign-with", pair.private_key,
                       "--output", envelope, "--insecure-key-permissions", "--format", "json")
    assert code in (1, 3) and "signing anyway (--insecure-key-permissions)" in err
    out = cli(capsys, "verify", envelope, "--key", pair.public_key)[1]
    assert "Warning:     signed with a key file readable by others" in out
    statement = json.loads(cli(capsys, "render", envelope, "--key", pair.public_key, "--format", "json")[1])
    assert statement["predicate"]["run"]["insecureKeyPermissions"] == [LocalSigner(
        load_private_key(pair.private_key, allow_insecure=True).key).keyid]


def test_report_only_maps_not_ready_to_zero_but_not_inconclusive(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  snapshot: Path) -> None:
    code, _, _ = cli(capsys, "run", "--from-snapshot", snapshot, "--format", "json")
    code_ro, _, _ = cli(capsys, "run", "--from-snapshot", snapshot, "--format", "json", "--report-only")
    assert code in (1, 3)
    assert code_ro == (0 if code == 1 else code)


def test_a_malformed_waiver_file_is_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         snapshot: Path) -> None:
    bad = tmp_path / "w.toml"
    bad.write_text('[[waiver]]\ncheck = "MEM-004"\n')
    code, out, err = cli(capsys, "run", "--from-snapshot", snapshot, "--waivers", bad)
    assert code == 2 and out == "" and err.count("\n") == 1 and "waiver 1: target is required" in err


def test_the_demo_helper_signs_with_a_throwaway_key_that_verifies(tmp_path: Path) -> None:
    from redis_audit.cli.signed import sign_throwaway
    from tests.reportkit import ALL_PASS, make_report

    report = make_report(ALL_PASS, finished=dt.datetime.now(dt.UTC).replace(microsecond=0))  # fresh: verified now
    _, lines = sign_throwaway(report, tmp_path / "redis-audit-report.dsse.json")
    assert (tmp_path / "redis-audit-report.pub.pem").is_file()
    assert not list(tmp_path.glob("*PRIVATE*")) and "BEGIN" not in "".join(
        p.read_text() for p in tmp_path.iterdir() if p.suffix == ".pem").replace("BEGIN PUBLIC KEY", "")
    assert lines[1].startswith("Verified: READY")
    assert main(["verify", str(tmp_path / "redis-audit-report.dsse.json"), "--key",
                 str(tmp_path / "redis-audit-report.pub.pem")]) == 0
