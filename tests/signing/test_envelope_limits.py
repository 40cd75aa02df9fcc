"""verify against envelopes made to mislead or exhaust it: several subjects, a time before the run,
thousands of signatures, deep nesting, and mutated envelopes (hypothesis). Every refusal is exit 5
and one line; nothing else escapes."""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redis_audit.cli.main import main
from redis_audit.signing.canonical import sha256_hex
from redis_audit.signing.dsse import (
    INTOTO_PAYLOAD_TYPE,
    MAX_ENVELOPE_BYTES,
    MAX_SIGNATURES,
    sign_envelope,
)
from redis_audit.signing.intoto import PREDICATE_TYPE, Statement, Subject
from redis_audit.signing.keys import Verifier, generate_keypair
from redis_audit.signing.sign import sign_report
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


# -- helpers for the class tests ------------------------------------------------------------------

def run_cli(*args: str) -> tuple[int, str, str]:
    """main() in-process with its output captured (hypothesis runs it many times per test)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def assert_refused(code: int, err: str, reason: str | None = None) -> None:
    assert code == 5, err
    assert len(err.splitlines()) == 1 and "invalid report" in err and "internal error" not in err, err
    if reason:
        assert reason in err, err


AT = "2026-05-04T11:00:00Z"  # within the reportkit report's validity


def test_verify_at_a_time_before_the_run_started_is_refused(keys, tmp_path: Path) -> None:
    pair, signer = keys
    path = tmp_path / "report.dsse.json"
    path.write_bytes(sign_report(make_report(ALL_PASS).to_json(), "redis://payments-cache", [signer]).to_bytes())
    public = str(pair.public_key)
    assert run_cli("verify", str(path), "--key", public, "--at", AT)[0] == 0
    started = "2026-05-04T10:00:00Z"  # reportkit: the run took the 7 s before FINISHED
    assert run_cli("verify", str(path), "--key", public, "--at", started)[0] == 0
    for before in ("2026-05-04T09:59:59Z", "2026-01-01T00:00:00Z", "1970-01-01T00:00:00Z"):
        code, _, err = run_cli("verify", str(path), "--key", public, "--at", before)
        assert_refused(code, err, "not valid before its run started")
        code, _, err = run_cli("render", str(path), "--key", public, "--at", before, "--format", "markdown")
        assert_refused(code, err, "not valid before its run started")


def test_thousands_of_signatures_are_refused_before_any_is_checked(keys, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pair, signer = keys
    data = json.loads(sign_report(make_report(ALL_PASS).to_json(), "redis://payments-cache", [signer]).to_bytes())
    calls = []
    original = Verifier.verify
    monkeypatch.setattr(Verifier, "verify", lambda self, sig, msg: calls.append(1) or original(self, sig, msg))
    path = tmp_path / "many.dsse.json"
    for count, refused in ((MAX_SIGNATURES, False), (MAX_SIGNATURES + 1, True), (5000, True)):
        forged = [{"keyid": f"k{i}", "sig": base64.b64encode(bytes(64)).decode()} for i in range(count - 1)]
        path.write_text(json.dumps({**data, "signatures": [*forged, *data["signatures"]]}))
        calls.clear()
        code, _, err = run_cli("verify", str(path), "--key", str(pair.public_key), "--at", AT)
        if refused:
            assert_refused(code, err, f"at most {MAX_SIGNATURES}")
            assert not calls
        else:
            assert code == 0 and len(calls) <= MAX_SIGNATURES
    oversized = {**data, "signatures": [{"keyid": "k", "sig": base64.b64encode(bytes(4096)).decode()}]}
    path.write_text(json.dumps(oversized))
    assert_refused(*run_cli("verify", str(path), "--key", str(pair.public_key))[::2], "sig is longer")
    path.write_text(json.dumps({**data, "signatures": [{**data["signatures"][0], "keyid": "k" * 100_000}]}))
    assert_refused(*run_cli("verify", str(path), "--key", str(pair.public_key))[::2], "keyid is longer")


@pytest.mark.parametrize("depth", [65, 500, 5_000, 200_000])
def test_deeply_nested_json_is_refused_signed_or_not(keys, tmp_path: Path, depth: int) -> None:
    pair, signer = keys
    nested = "[" * depth + "]" * depth
    statement = ('{"_type":"https://in-toto.io/Statement/v1","predicateType":"' + PREDICATE_TYPE
                 + '","subject":[{"name":"x","digest":{"sha256":"00"}}],"predicate":{"deep":' + nested + "}}")
    signed = sign_envelope(statement.encode(), INTOTO_PAYLOAD_TYPE, [signer]).to_bytes()
    path = tmp_path / "deep.dsse.json"
    path.write_bytes(signed)
    assert_refused(*run_cli("verify", str(path), "--key", str(pair.public_key))[::2], "nested deeper than 64")
    path.write_text('{"payload":"","payloadType":"x","signatures":[],"extra":' + nested + "}")
    assert_refused(*run_cli("verify", str(path), "--key", str(pair.public_key))[::2], "nested deeper than 64")


def test_an_envelope_larger_than_any_report_is_refused_unread(keys, tmp_path: Path) -> None:
    pair, _ = keys
    path = tmp_path / "huge.dsse.json"
    with path.open("wb") as handle:
        handle.truncate(MAX_ENVELOPE_BYTES + 1)  # sparse: costs no disk
    assert_refused(*run_cli("verify", str(path), "--key", str(pair.public_key))[::2], "larger than")


# -- the class: mutated envelopes, unsigned and signed ---------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def envelope_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzzed.dsse.json"


@pytest.fixture(scope="module")
def valid_envelope(keys) -> dict:
    _, signer = keys
    report = make_report([*ALL_PASS, ("MEM-001", "FAIL", "critical", "10.0.0.3:6379", "no maxmemory")]).to_json()
    return json.loads(sign_report(report, "redis://payments-cache", [signer]).to_bytes())


def paths_in(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every (container path, key) a mutation can target."""
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        found.append((*prefix, key))
        found += paths_in(child, (*prefix, key))
    return found


def mutate(document: object, path: tuple, action: str, replacement: object) -> object:
    document = copy.deepcopy(document)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if action == "delete":
        del parent[path[-1]]
    elif action == "nest":
        parent[path[-1]] = [[[[[[[[parent[path[-1]]]]]]]]]]
    else:
        parent[path[-1]] = replacement
    return document


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mutated_envelope_is_refused_in_one_line(keys, envelope_file: Path, valid_envelope: dict,
                                                   data: st.DataObject) -> None:
    pair, _ = keys
    kind = data.draw(st.sampled_from(["bytes", "json", "field"]))
    if kind == "bytes":
        raw = data.draw(st.binary(max_size=200))
    elif kind == "json":
        raw = json.dumps(data.draw(JSON_VALUES)).encode()
    else:
        paths = paths_in(valid_envelope)
        path = data.draw(st.sampled_from(paths))
        action = data.draw(st.sampled_from(["delete", "nest", "replace"]))
        raw = json.dumps(mutate(valid_envelope, path, action, data.draw(JSON_VALUES))).encode()
    envelope_file.write_bytes(raw)
    code, _, err = run_cli("verify", str(envelope_file), "--key", str(pair.public_key), "--at", AT)
    if code != 1:  # a mutation that leaves the envelope intact (a keyid hint, say) still verifies
        assert_refused(code, err)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mutated_statement_signed_by_a_trusted_key_is_valid_or_refused_never_a_crash(
        keys, envelope_file: Path, valid_envelope: dict, data: st.DataObject) -> None:
    """The signer is trusted, the payload's shape is not: verify and every rendering stay in control."""
    pair, signer = keys
    statement = json.loads(base64.b64decode(valid_envelope["payload"]))
    path = data.draw(st.sampled_from(paths_in(statement)))
    action = data.draw(st.sampled_from(["delete", "nest", "replace"]))
    mutated = mutate(statement, path, action, data.draw(JSON_VALUES))
    payload = json.dumps(mutated, ensure_ascii=False).encode()
    envelope_file.write_bytes(sign_envelope(payload, INTOTO_PAYLOAD_TYPE, [signer]).to_bytes())
    code, _, err = run_cli("verify", str(envelope_file), "--key", str(pair.public_key), "--at", AT)
    if code == 5:
        assert_refused(code, err)
        return
    assert code in (0, 1, 3) and "error" not in err, err
    for fmt in ("table", "markdown", "junit", "json", "sarif", "html"):
        rendered, _, err = run_cli("render", str(envelope_file), "--key", str(pair.public_key), "--at", AT,
                                     "--format", fmt)
        assert rendered == code and "error" not in err, (fmt, err)
