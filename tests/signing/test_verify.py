from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import pytest

from redis_audit.signing.canonical import canonical_bytes
from redis_audit.signing.dsse import INTOTO_PAYLOAD_TYPE, Envelope, Signature, sign_envelope
from redis_audit.signing.errors import InvalidReport
from redis_audit.signing.intoto import PREDICATE_TYPE, STATEMENT_TYPE, Subject, build_statement
from redis_audit.signing.signers import LocalSigner
from redis_audit.signing.verify import verify_envelope

from .conftest import TARGET_NAME, sign_report, small_report

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def reason_for(data: bytes, signers: list[LocalSigner], **kwargs: object) -> str:
    with pytest.raises(InvalidReport) as excinfo:
        verify_envelope(data, [s.public_key() for s in signers], now=NOW, **kwargs)  # type: ignore[arg-type]
    assert "\n" not in excinfo.value.reason
    return excinfo.value.reason


def test_a_signed_report_verifies_and_returns_the_exact_payload(ed_signer: LocalSigner) -> None:
    report = small_report()
    data = sign_report(report, [ed_signer])
    verified = verify_envelope(data, [ed_signer.public_key()], expect_subject_name=TARGET_NAME, now=NOW)
    assert verified.predicate == report
    assert verified.signer_keyids == (ed_signer.keyid,)
    assert verified.payload == Envelope.from_bytes(data).payload
    assert json.loads(verified.payload)["predicateType"] == PREDICATE_TYPE
    assert verified.statement.subjects == (Subject(TARGET_NAME, verified.statement.subjects[0].sha256),)
    assert verified.envelope_sha256 == hashlib.sha256(data).hexdigest()


def test_the_same_report_gives_the_same_payload_bytes(ed_signer: LocalSigner) -> None:
    one = Envelope.from_bytes(sign_report(small_report(), [ed_signer])).payload
    two = Envelope.from_bytes(sign_report(small_report(), [ed_signer])).payload
    assert one == two == canonical_bytes(json.loads(one))


def test_every_single_byte_change_to_the_payload_is_rejected(p256_signer: LocalSigner) -> None:
    envelope = Envelope.from_bytes(sign_report(small_report(), [p256_signer]))
    keys = [p256_signer.public_key()]
    for position in range(len(envelope.payload)):
        for flip in (0x01, 0x20, 0x80):  # low bit, ASCII case, high bit (invalid UTF-8)
            payload = bytearray(envelope.payload)
            payload[position] ^= flip
            tampered = Envelope(bytes(payload), envelope.payload_type, envelope.signatures)
            with pytest.raises(InvalidReport, match="no signature verifies"):
                verify_envelope(tampered.to_bytes(), keys, now=NOW)


def test_every_single_byte_change_to_a_signature_is_rejected(ed_signer: LocalSigner, p256_signer: LocalSigner) -> None:
    for signer in (ed_signer, p256_signer):
        envelope = Envelope.from_bytes(sign_report(small_report(), [signer]))
        keys = [signer.public_key()]
        sig = envelope.signatures[0].sig
        for position in range(len(sig)):
            for flip in (0x01, 0x80, 0xFF):  # every position; all 255 values take seconds with P-256
                changed = sig[:position] + bytes([sig[position] ^ flip]) + sig[position + 1 :]
                tampered = Envelope(envelope.payload, envelope.payload_type, (Signature(signer.keyid, changed),))
                with pytest.raises(InvalidReport):
                    verify_envelope(tampered.to_bytes(), keys, now=NOW)


def test_every_single_byte_change_to_the_payload_type_is_rejected(ed_signer: LocalSigner) -> None:
    data = sign_report(small_report(), [ed_signer])
    quoted = json.dumps(INTOTO_PAYLOAD_TYPE).encode()
    start = data.index(quoted) + 1  # the type's bytes inside the JSON string
    keys = [ed_signer.public_key()]
    for position in range(start, start + len(INTOTO_PAYLOAD_TYPE)):
        for flip in (0x01, 0x20, 0x80, 0xFF):  # bit, ASCII case, invalid UTF-8, all bits
            tampered = data[:position] + bytes([data[position] ^ flip]) + data[position + 1 :]
            with pytest.raises(InvalidReport):
                verify_envelope(tampered, keys, now=NOW)


def test_a_payload_type_change_is_caught_by_the_signature_not_the_type_check(ed_signer: LocalSigner) -> None:
    envelope = Envelope.from_bytes(sign_report(small_report(), [ed_signer]))
    renamed = Envelope(envelope.payload, "application/vnd.in-toto+jsom", envelope.signatures)
    assert "no signature verifies" in reason_for(renamed.to_bytes(), [ed_signer])


def test_a_report_signed_by_another_key_is_rejected(ed_signer: LocalSigner, other_signer: LocalSigner) -> None:
    data = sign_report(small_report(), [other_signer])
    assert "no signature verifies" in reason_for(data, [ed_signer])


def test_threshold_two_with_one_signature_is_rejected(ed_signer: LocalSigner, p256_signer: LocalSigner) -> None:
    data = sign_report(small_report(), [ed_signer])
    assert reason_for(data, [ed_signer, p256_signer], threshold=2) == "1 trusted key(s) signed, 2 required"


def test_threshold_two_with_ed25519_and_p256_passes(ed_signer: LocalSigner, p256_signer: LocalSigner) -> None:
    data = sign_report(small_report(), [ed_signer, p256_signer])
    verified = verify_envelope(data, [p256_signer.public_key(), ed_signer.public_key()], threshold=2, now=NOW)
    assert set(verified.signer_keyids) == {ed_signer.keyid, p256_signer.keyid}


def test_the_same_key_twice_counts_once(ed_signer: LocalSigner, p256_signer: LocalSigner) -> None:
    data = sign_report(small_report(), [ed_signer, ed_signer])
    assert len(Envelope.from_bytes(data).signatures) == 2
    reason = reason_for(data, [ed_signer, ed_signer, p256_signer], threshold=2)
    assert reason == "1 trusted key(s) signed, 2 required"


def test_an_expired_report_is_rejected(ed_signer: LocalSigner) -> None:
    data = sign_report(small_report(valid_until="2026-05-04T09:59:59Z"), [ed_signer])
    assert reason_for(data, [ed_signer]) == "report expired at 2026-05-04T09:59:59Z"


def test_valid_until_must_be_an_rfc3339_utc_time(ed_signer: LocalSigner) -> None:
    for bad in ("2099-01-01T00:00:00+02:00", "2099-01-01", "tomorrow", "2099-13-01T00:00:00Z"):
        data = sign_report(small_report(valid_until=bad), [ed_signer])
        assert "validUntil" in reason_for(data, [ed_signer])


def test_a_subject_that_does_not_match_the_fingerprint_is_rejected(ed_signer: LocalSigner) -> None:
    envelope = Envelope.from_bytes(sign_report(small_report(), [ed_signer]))
    statement = json.loads(envelope.payload)
    statement["predicate"]["target"]["fingerprint"]["redisVersion"] = "7.4.0"  # edited after fingerprinting
    resigned = sign_envelope(canonical_bytes(statement), INTOTO_PAYLOAD_TYPE, [ed_signer])
    assert reason_for(resigned.to_bytes(), [ed_signer]) == (
        "subject digest does not match predicate.target.fingerprint"
    )


def test_an_unexpected_subject_name_is_rejected(ed_signer: LocalSigner) -> None:
    data = sign_report(small_report(), [ed_signer])
    reason = reason_for(data, [ed_signer], expect_subject_name="redis://other")
    assert reason == "report is about 'redis://payments-cache-prod', expected 'redis://other'"


def unsigned_payload(**changes: object) -> bytes:
    """The statement for small_report() with top-level fields replaced (None removes the field)."""
    report = small_report()
    statement = build_statement(TARGET_NAME, {"deployment": "payments-cache-prod", "redisVersion": "7.2.5"}, report)
    document = statement.to_json() | changes
    return canonical_bytes({key: value for key, value in document.items() if value is not None})


def test_unsigned_payload_helper_matches_the_signed_reports(ed_signer: LocalSigner) -> None:
    assert unsigned_payload() == Envelope.from_bytes(sign_report(small_report(), [ed_signer])).payload


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"_type": "https://in-toto.io/Statement/v0.1"}, "payload _type is"),
        ({"_type": None}, "payload _type is None"),
        ({"predicateType": "https://redis-audit.dev/attestations/readiness/v1"}, "predicateType is"),  # the old major
        ({"predicateType": None}, "statement has no predicateType"),
        ({"subject": []}, "statement has no subject"),
        ({"predicate": {"verdict": {}}}, "predicate.target is missing"),
    ],
)
def test_statement_layer_problems_are_rejected(ed_signer: LocalSigner, changes: dict[str, object], reason: str) -> None:
    payload = unsigned_payload(**changes)
    data = sign_envelope(payload, INTOTO_PAYLOAD_TYPE, [ed_signer]).to_bytes()
    assert reason_for(data, [ed_signer]).startswith(reason)


def test_a_wrong_payload_type_is_rejected_even_when_signed(ed_signer: LocalSigner) -> None:
    data = sign_envelope(unsigned_payload(), "application/json", [ed_signer]).to_bytes()
    assert reason_for(data, [ed_signer]).startswith("payloadType is 'application/json'")


def test_recomputed_verdict_must_match_the_stated_one(ed_signer: LocalSigner) -> None:
    data = sign_report(small_report(), [ed_signer])
    keys = [ed_signer.public_key()]
    assert verify_envelope(data, keys, now=NOW, recompute_verdict=lambda predicate: "READY")
    reason = reason_for(data, [ed_signer], recompute_verdict=lambda predicate: "NOT_READY")
    assert reason == "verdict mismatch: report states 'READY', findings give NOT_READY"


def test_urlsafe_payload_encoding_still_verifies(ed_signer: LocalSigner) -> None:
    document = json.loads(sign_report(small_report(), [ed_signer]))
    document["payload"] = base64.urlsafe_b64encode(base64.b64decode(document["payload"])).decode()
    verify_envelope(json.dumps(document).encode(), [ed_signer.public_key()], now=NOW)


def test_statement_type_constant() -> None:
    assert STATEMENT_TYPE == "https://in-toto.io/Statement/v1"


def test_sign_report_needs_the_fingerprint_where_verify_looks_for_it(ed_signer: LocalSigner) -> None:
    with pytest.raises(ValueError, match=r"report\.target\.fingerprint"):
        sign_report({"verdict": {}}, [ed_signer])
