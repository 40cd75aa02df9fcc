from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from redis_audit.signing.dsse import Envelope, Signature, pae, sign_envelope, verified_keyids
from redis_audit.signing.errors import InvalidReport, SigningError
from redis_audit.signing.keys import PublicKey, Verifier, load_public_key_pem, public_key_pem
from redis_audit.signing.signers import LocalSigner

# The DSSE spec's test vector (protocol.md): a P-256 key and its RFC 6979 signature, raw r||s.
SPEC_TYPE = "http://example.com/HelloWorld"
SPEC_X = 46950820868899156662930047687818585632848591499744589407958293238635476079160
SPEC_Y = 5640078356564379163099075877009565129882514886557779369047442380624545832820
SPEC_D = 97358161215184420915383655311931858321456579547487070936769975997791359926199
SPEC_SIGNATURE_RAW = "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="


def test_pae_matches_the_spec_vector() -> None:
    assert pae(SPEC_TYPE, b"hello world") == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"


def test_pae_lengths_are_bytes_not_characters() -> None:
    assert pae("application/vnd.exämple+json", b"{}").startswith(b"DSSEv1 29 ")
    assert pae("t", "é".encode()) == b"DSSEv1 1 t 2 \xc3\xa9"


def test_the_spec_signature_verifies_once_converted_to_der() -> None:
    raw = base64.b64decode(SPEC_SIGNATURE_RAW)
    der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    public_key = ec.EllipticCurvePublicNumbers(SPEC_X, SPEC_Y, ec.SECP256R1()).public_key()
    verifier = Verifier(load_public_key_pem(public_key_pem(public_key)))
    assert verifier.verify(der, pae(SPEC_TYPE, b"hello world"))
    assert not verifier.verify(der, pae(SPEC_TYPE, b"hello world!"))


def test_a_local_p256_signer_reproduces_the_spec_signature_deterministically() -> None:
    private_key = ec.derive_private_key(SPEC_D, ec.SECP256R1())
    der = private_key.sign(pae(SPEC_TYPE, b"hello world"), ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    assert base64.b64encode(r.to_bytes(32) + s.to_bytes(32)).decode() == SPEC_SIGNATURE_RAW


def test_envelope_round_trip_with_two_signers(ed_signer: LocalSigner, p256_signer: LocalSigner) -> None:
    envelope = sign_envelope(b'{"a":1}', "application/vnd.in-toto+json", [ed_signer, p256_signer])
    parsed = Envelope.from_bytes(envelope.to_bytes())
    assert parsed == envelope
    assert [s.keyid for s in parsed.signatures] == [ed_signer.keyid, p256_signer.keyid]
    verifiers = [Verifier(ed_signer.public_key()), Verifier(p256_signer.public_key())]
    assert verified_keyids(parsed, verifiers) == (ed_signer.keyid, p256_signer.keyid)


def test_keyid_is_only_a_hint(ed_signer: LocalSigner) -> None:
    envelope = sign_envelope(b"x", "t", [ed_signer])
    misleading = Envelope(envelope.payload, envelope.payload_type, (Signature("wrong", envelope.signatures[0].sig),))
    assert verified_keyids(misleading, [Verifier(ed_signer.public_key())]) == (ed_signer.keyid,)


def test_url_safe_and_unpadded_base64_are_accepted(p256_signer: LocalSigner) -> None:
    envelope = sign_envelope(b"\xfb\xff payload?>", "t", [p256_signer])
    document = envelope.to_json()
    sig = base64.urlsafe_b64encode(envelope.signatures[0].sig).decode().rstrip("=")
    document["payload"] = base64.urlsafe_b64encode(envelope.payload).decode()
    document["signatures"] = [{"keyid": p256_signer.keyid, "sig": sig}]
    assert Envelope.from_bytes(json.dumps(document).encode()) == envelope


@pytest.mark.parametrize("payload", ["aGk==", "aGl=", "a", "aG k=", "aG+_", "aGk=aGk="])
def test_malformed_or_non_canonical_base64_is_rejected(payload: str) -> None:
    document = {"payload": payload, "payloadType": "t", "signatures": [{"sig": "aGk="}]}
    data = json.dumps(document).encode()
    with pytest.raises(InvalidReport, match="base64"):
        Envelope.from_bytes(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"[]", "not a JSON object"),
        (b'{"payload":"","payloadType":"t","signatures":[]}', "no signatures"),
        (b'{"payloadType":"t","signatures":[{"sig":""}]}', "payload is missing"),
        (b'{"payload":"","payloadType":1,"signatures":[{"sig":""}]}', "payloadType is missing"),
        (b'{"payload":"","payload":"","payloadType":"t","signatures":[{"sig":""}]}', "duplicate key"),
        (b'{"payload":"","payloadType":"t","signatures":[{"keyid":3,"sig":""}]}', "keyid is not a string"),
    ],
)
def test_structurally_bad_envelopes_give_one_line_reasons(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidReport, match=reason) as excinfo:
        Envelope.from_bytes(data)
    assert "\n" not in excinfo.value.reason


class MismatchedSigner:
    """Signs with one key but presents another's public key, like a misconfigured KMS alias."""

    def __init__(self, signing: LocalSigner, presented: LocalSigner) -> None:
        self.signing, self.presented = signing, presented
        self.keyid, self.warnings = presented.keyid, ()

    def sign(self, pae: bytes) -> bytes:
        return self.signing.sign(pae)

    def public_key(self) -> PublicKey:
        return self.presented.public_key()


def test_a_signer_whose_signature_does_not_match_its_key_fails_at_signing(
    ed_signer: LocalSigner, other_signer: LocalSigner
) -> None:
    with pytest.raises(SigningError, match="does not verify"):
        sign_envelope(b"x", "t", [MismatchedSigner(ed_signer, other_signer)])
