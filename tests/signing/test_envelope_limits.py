"""verify against envelopes made to mislead or exhaust it: several subjects, a time before the run,
thousands of signatures, deep nesting, and mutated envelopes (hypothesis). Every refusal is exit 5
and one line; nothing else escapes."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from redis_audit.cli.main import main
from redis_audit.signing.canonical import sha256_hex
from redis_audit.signing.dsse import INTOTO_PAYLOAD_TYPE, sign_envelope
from redis_audit.signing.intoto import PREDICATE_TYPE, Statement, Subject
from redis_audit.signing.keys import generate_keypair
from redis_audit.signing.signers import LocalSigner
from tests.reportkit import ALL_PASS, make_report


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory):
    pair = generate_keypair(tmp_path_factory.mktemp("limits") / "keys")
    return pair, LocalSigner.from_file(pair.private_key)


def envelope_of(statement: Statement, signer: LocalSigner) -> bytes:
    return sign_envelope(statement.to_bytes(), INTOTO_PAYLOAD_TYPE, [signer]).to_bytes()


def verify(path: Path, public: Path, *extra: str) -> int:
    return main(["verify", str(path), "--key", str(public), "--at", "2026-05-04T11:00:00Z", *extra])


def test_the_summary_names_the_subject_whose_digest_matched(keys, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    pair, signer = keys
    report = make_report(ALL_PASS).to_json()
    digest = sha256_hex(report["target"]["fingerprint"])
    statement = Statement((Subject("redis://decoy-deployment", "0" * 64), Subject("redis://payments-cache", digest)),
                          PREDICATE_TYPE, copy.deepcopy(report))
    path = tmp_path / "two-subjects.dsse.json"
    path.write_bytes(envelope_of(statement, signer))
    assert verify(path, pair.public_key) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "VALID: signed readiness report for redis://payments-cache"
    assert verify(path, pair.public_key, "--expect-target", "decoy-deployment") == 5
    assert "report is about 'redis://payments-cache'" in capsys.readouterr().err
