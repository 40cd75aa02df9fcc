"""What was judged must be what was collected, when it was collected.

A snapshot saved from a real (bad) sandbox, then hand-edited the way a user wanting a green report would:
64 days old, maxmemory raised, the eviction policy changed, the target renamed to another deployment.
Signed modes refuse it before judging; a local report from it says, everywhere, that it was judged
offline (with the file's sha256 and the collection time as the snapshot states it); validity counts
from the collection; and the relying party's policy (`verify --require-live`, `--max-age`) refuses it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from redis_audit.cli.main import main
from redis_audit.provenance import LIVE, SNAPSHOT, Evidence, SnapshotFile
from redis_audit.sandbox import SandboxSpec, sandbox_cli_args
from redis_audit.signing.keys import KeyPairPaths, generate_keypair
from redis_audit.signing.sign import sign_report
from redis_audit.signing.signers import LocalSigner
from redis_audit.waivers import parse_rfc3339, rfc3339
from tests.reportkit import ALL_PASS, DEPLOYMENT, FINISHED, make_report

BAD = SandboxSpec(topology="standalone", preset="bad")
AT = "2026-05-04T12:00:00Z"


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> KeyPairPaths:
    return generate_keypair(tmp_path_factory.mktemp("prov-key"))


@pytest.fixture(scope="module")
def live_run(sandboxes: Any, key: KeyPairPaths, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A live, signed local run of the bad sandbox that also saved its snapshot."""
    tmp = tmp_path_factory.mktemp("prov-live")
    snapshot, envelope = tmp / "snap.json", tmp / "live.dsse.json"
    code = main([str(a) for a in ("run", *sandbox_cli_args(sandboxes.get(BAD), tmp), "--name", "cache-bad",
                                  "--save-snapshot", snapshot, "--sign-with", key.private_key, "--output", envelope)])
    assert code == 1
    return {"snapshot": snapshot, "envelope": envelope}


def edited(source: Path, target: Path, age: dt.timedelta) -> Path:
    """The hand edit: collected `age` ago, maxmemory raised, policy changed, the target renamed."""
    data = json.loads(source.read_text())
    started = now() - age
    data["startedAt"], data["finishedAt"] = rfc3339(started), rfc3339(started + dt.timedelta(seconds=3))
    data["target"]["name"] = "prod-payments"
    for node in data["nodes"].values():
        config = node["facts"]["config"]["value"]
        config.update({"maxmemory": str(4 * 1024**3), "maxmemory-policy": "allkeys-lru"})
    target.write_text(json.dumps(data, indent=2))
    return target


def predicate(capsys: pytest.CaptureFixture[str], envelope: Path, key: KeyPairPaths) -> dict[str, Any]:
    code, out, err = cli(capsys, "render", envelope, "--key", key.public_key, "--format", "json")
    assert code in (0, 1, 3), err
    return json.loads(out)["predicate"]  # type: ignore[no-any-return]


def test_a_live_run_records_its_collection_window_and_the_saved_snapshot(
        live_run: dict[str, Any], key: KeyPairPaths, capsys: pytest.CaptureFixture[str]) -> None:
    report = predicate(capsys, live_run["envelope"], key)
    evidence = report["evidence"]
    assert evidence["source"] == LIVE and evidence["snapshot"] is None
    assert evidence["savedSnapshotSha256"] == hashlib.sha256(live_run["snapshot"].read_bytes()).hexdigest()
    saved = json.loads(live_run["snapshot"].read_text())
    assert (evidence["collectionStartedAt"], evidence["collectionFinishedAt"]) == (saved["startedAt"],
                                                                                   saved["finishedAt"])
    assert report["run"]["startedAt"] == evidence["collectionStartedAt"] <= report["run"]["finishedAt"]
    until = parse_rfc3339(report["verdict"]["validUntil"])
    assert until == parse_rfc3339(evidence["collectionStartedAt"]) + dt.timedelta(hours=168)
    code, out, _ = cli(capsys, "verify", live_run["envelope"], "--key", key.public_key, "--require-live",
                       "--max-age", "1h")
    assert code == 1 and "Evidence:    collected live, " in out


@pytest.mark.parametrize("mode", ["pre-promotion", "signoff"])
def test_a_64_day_old_hand_edited_snapshot_is_refused_before_judging(
        live_run: dict[str, Any], key: KeyPairPaths, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        mode: str) -> None:
    snapshot = edited(live_run["snapshot"], tmp_path / "old.json", dt.timedelta(days=64))
    out_file = tmp_path / "r.dsse.json"
    code, out, err = cli(capsys, "run", "--from-snapshot", snapshot, "--run-mode", mode,
                         "--sign-with", key.private_key, "--output", out_file)
    assert code == 2 and out == "" and err.count("\n") == 1 and not out_file.exists()
    limit = {"pre-promotion": 24, "signoff": 6}[mode]
    assert "collected at" in err and "64 d 0 h ago" in err and f"up to {limit} h old" in err


def test_a_snapshot_within_the_mode_limit_is_judged_and_its_validity_counts_from_its_collection(
        live_run: dict[str, Any], key: KeyPairPaths, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = edited(live_run["snapshot"], tmp_path / "fresh.json", dt.timedelta(hours=7))
    out_file = tmp_path / "r.dsse.json"
    # 7 h: within pre-promotion's 24 h, beyond signoff's 6 h.
    assert cli(capsys, "run", "--from-snapshot", snapshot, "--run-mode", "signoff", "--sign-with",
               key.private_key, "--output", out_file)[0] == 2
    code, _, err = cli(capsys, "run", "--from-snapshot", snapshot, "--run-mode", "pre-promotion", "--sign-with",
                       key.private_key, "--output", out_file)
    assert code in (0, 1, 3), err
    report = predicate(capsys, out_file, key)
    collected = json.loads(snapshot.read_text())["startedAt"]
    assert report["verdict"]["validUntil"] == rfc3339(parse_rfc3339(collected) + dt.timedelta(hours=168))
    assert parse_rfc3339(report["run"]["startedAt"]) > parse_rfc3339(collected) + dt.timedelta(hours=6)


def test_a_local_report_from_the_edited_snapshot_says_offline_in_every_rendering(
        live_run: dict[str, Any], key: KeyPairPaths, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = edited(live_run["snapshot"], tmp_path / "old.json", dt.timedelta(days=64))
    collected = json.loads(snapshot.read_text())["startedAt"]
    sha256 = hashlib.sha256(snapshot.read_bytes()).hexdigest()
    code, out, err = cli(capsys, "run", "--from-snapshot", snapshot, "--format", "json")
    assert code in (0, 1, 3), err
    evidence = json.loads(out)["evidence"]
    assert evidence["source"] == SNAPSHOT and evidence["collectionStartedAt"] == collected
    assert evidence["snapshot"] == {"name": "old.json", "sha256": sha256, "statedToolVersion": "0.1.0"}
    phrase = f"judged offline from a snapshot collected at {collected}"
    for fmt in ("table", "markdown", "html", "junit", "sarif"):
        code, out, _ = cli(capsys, "run", "--from-snapshot", snapshot, "--format", fmt)
        assert phrase in out and sha256 in out, fmt
    # Signed (local mode signs too when asked): validity counts from the collection, so it would be born
    # expired: refused before judging.
    envelope = tmp_path / "old.dsse.json"
    code, out, err = cli(capsys, "run", "--from-snapshot", snapshot, "--sign-with", key.private_key, "--output",
                         envelope)
    assert code == 2 and out == "" and "would already be expired (168 h validity from collection)" in err
    # ...and two days old, it verifies, names the other deployment, and says how it was judged.
    snapshot = edited(live_run["snapshot"], tmp_path / "two-days.json", dt.timedelta(days=2))
    code, _, err = cli(capsys, "run", "--from-snapshot", snapshot, "--sign-with", key.private_key, "--output",
                       envelope)
    assert code in (0, 1, 3), err
    verified = cli(capsys, "verify", envelope, "--key", key.public_key, "--expect-target", "prod-payments")
    assert verified[0] == code and "Evidence:    judged offline from a snapshot collected at" in verified[1]
    code, out, err = cli(capsys, "verify", envelope, "--key", key.public_key, "--require-live")
    assert code == 5 and out == "" and err.count("\n") == 1 and "judged offline from a snapshot" in err
    code, _, err = cli(capsys, "verify", envelope, "--key", key.public_key, "--max-age", "1d")
    assert code == 5 and "more than --max-age 1d ago" in err
    assert cli(capsys, "verify", envelope, "--key", key.public_key, "--max-age", "3d")[0] == verified[0]
    assert cli(capsys, "render", envelope, "--key", key.public_key, "--require-live")[0] == 5


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.update(startedAt="yesterday"), "startedAt: 'yesterday' does not match"),  # the schema
    (lambda d: d.update(startedAt="2026-13-45T00:00:00Z"), "not RFC 3339 UTC times"),
    (lambda d: d.update(startedAt=rfc3339(now() + dt.timedelta(days=1)),
                        finishedAt=rfc3339(now() + dt.timedelta(days=1))), "in the future"),
    (lambda d: d.update(finishedAt="2020-01-01T00:00:00Z"), "is before startedAt"),
])
def test_a_snapshot_without_an_honest_collection_time_is_refused_in_every_mode(
        live_run: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: Any, message: str) -> None:
    data = json.loads(live_run["snapshot"].read_text())
    edit(data)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    code, out, err = cli(capsys, "run", "--from-snapshot", path)
    assert code == 2 and out == "" and message in err and err.count("\n") == 1


# Hand-built payloads, re-signed with the trusted key: verify recomputes the provenance rules.

def offline(collected: dt.datetime) -> Evidence:
    return Evidence(SNAPSHOT, collected, collected + dt.timedelta(seconds=5),
                    SnapshotFile("s.json", "ab" * 32, "0.1.0"))


def signed_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path, report: dict[str, Any], key: KeyPairPaths,
               *args: object) -> tuple[int, str, str]:
    path = tmp_path / "hand.dsse.json"
    path.write_bytes(sign_report(report, f"redis://{DEPLOYMENT}", [LocalSigner.from_file(key.private_key)]).to_bytes())
    return cli(capsys, "verify", path, "--key", key.public_key, "--at", AT, *args)


@pytest.mark.parametrize(("tamper", "message"), [
    (lambda r: r.pop("evidence"), "report has no evidence object"),
    (lambda r: r["evidence"].update(source="live", snapshot=None), "a live collection started before the run"),
    (lambda r: r["evidence"].update(collectionStartedAt="2026-05-04T09:00:00Z",
                                    collectionFinishedAt="2026-05-04T09:00:05Z"), "verdict.validUntil"),
    (lambda r: r["verdict"].update(validUntil="2026-05-11T10:00:07Z"), "after the collection"),
    (lambda r: r["evidence"]["snapshot"].update(sha256="edited"), "needs the sha256 of the judged file"),
    (lambda r: r["evidence"].update(collectionFinishedAt="2026-05-04T10:00:03Z"), "collected after the judging"),
])
def test_verify_refuses_a_payload_whose_provenance_was_bent(key: KeyPairPaths, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str], tamper: Any,
                                                             message: str) -> None:
    report = make_report(ALL_PASS, evidence=offline(FINISHED - dt.timedelta(hours=2))).to_json()
    assert signed_cli(capsys, tmp_path, report, key)[0] == 0
    tamper(report)
    code, out, err = signed_cli(capsys, tmp_path, report, key)
    assert code == 5 and out == "" and message in err, err


def test_verify_refuses_a_pre_promotion_payload_judged_from_a_too_old_snapshot(
        key: KeyPairPaths, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ok = make_report(ALL_PASS, mode="pre-promotion", evidence=offline(FINISHED - dt.timedelta(hours=23)))
    assert signed_cli(capsys, tmp_path, ok.to_json(), key)[0] == 0
    old = make_report(ALL_PASS, mode="pre-promotion", evidence=offline(FINISHED - dt.timedelta(hours=25)))
    code, _, err = signed_cli(capsys, tmp_path, old.to_json(), key, "--at", "2026-05-04T10:00:08Z")
    assert code == 5 and "more than the 24 h allowed" in err


def test_validity_ends_with_the_waiver_it_relies_on(tmp_path: Path, key: KeyPairPaths,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from redis_audit.waivers import load_waivers
    from tests.test_waivers import waiver, waiver_file

    waivers = load_waivers(waiver_file(tmp_path, waiver(expires="2026-05-06")), FINISHED, 90)
    report = make_report([*ALL_PASS, ("MEM-004", "FAIL", "high", "10.0.0.9:6379", "volatile-lru")],
                         waiver_file=waivers)
    assert report.verdict.decision == "READY" and rfc3339(report.valid_until) == "2026-05-06T00:00:00Z"
    data = report.to_json()
    assert signed_cli(capsys, tmp_path, data, key)[0] == 0
    data["verdict"]["validUntil"] = "2026-05-11T10:00:00Z"  # type: ignore[index]
    assert signed_cli(capsys, tmp_path, data, key)[0] == 5


def test_policy_options_are_checked(tmp_path: Path, key: KeyPairPaths, capsys: pytest.CaptureFixture[str]) -> None:
    report = make_report(ALL_PASS, mode="signoff").to_json()
    digest = str(report["profile"]["digest"])  # type: ignore[index]
    assert signed_cli(capsys, tmp_path, report, key, "--max-validity", "1d", "--require-mode", "signoff",
                      "--require-profile-digest", digest)[0] == 1  # valid; NOT_READY: signoff blockers unproven
    code, _, err = signed_cli(capsys, tmp_path, report, key, "--max-validity", "12h")
    assert code == 5 and "more than --max-validity 12h" in err
    code, _, err = signed_cli(capsys, tmp_path, report, key, "--require-mode", "pre-promotion")
    assert code == 5 and "it is a 'signoff' report" in err
    code, _, err = signed_cli(capsys, tmp_path, report, key, "--require-profile-digest", "sha256:" + "0" * 64)
    assert code == 5 and "is not a trusted profile digest" in err
    trusted = tmp_path / "profiles.txt"
    trusted.write_text(f"# vetted\n{digest}  builtin:signoff\n")
    assert signed_cli(capsys, tmp_path, report, key, "--trusted-profiles", trusted)[0] == 1
    code, _, err = signed_cli(capsys, tmp_path, report, key, "--max-age", "soon")
    assert code == 2 and "is not a duration" in err


def test_a_saved_snapshot_round_trips_to_the_same_sha256(live_run: dict[str, Any]) -> None:
    from redis_audit.snapshot import Snapshot

    assert Snapshot.load(live_run["snapshot"]).to_bytes() == live_run["snapshot"].read_bytes()
