"""KMS signing: moto for keys, RAW signing and get_public_key; a fake with AWS semantics for DIGEST.

moto 5.2 hashes a DIGEST message again (getmoto/moto#10202), so it cannot test the DIGEST path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from moto import mock_aws

from redis_audit.signing.dsse import INTOTO_PAYLOAD_TYPE, pae, sign_envelope
from redis_audit.signing.errors import SigningError
from redis_audit.signing.keys import Verifier, load_public_key_der, spki_der
from redis_audit.signing.signers import KMS_RAW_MESSAGE_LIMIT, KmsSigner, signer_from_spec
from redis_audit.signing.verify import verify_envelope

from .conftest import sign_report, small_report

REGION = "eu-west-1"


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Fake credentials and no config files: nothing in these tests can reach real AWS."""
    for name in ("AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


@pytest.fixture
def kms_key() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        client = boto3.client("kms", region_name=REGION)
        key = client.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
        client.create_alias(AliasName="alias/redis-audit", TargetKeyId=key["KeyId"])
        yield client, key["Arn"]


def test_moto_raw_signature_verifies_offline_with_the_exported_public_key(kms_key: tuple[Any, str]) -> None:
    client, arn = kms_key
    signer = KmsSigner(arn, client=client)
    data = sign_report(small_report(), [signer])
    assert signer.last_message_type == "RAW"

    exported = load_public_key_der(client.get_public_key(KeyId=arn)["PublicKey"])
    verified = verify_envelope(data, [exported])
    assert verified.signer_keyids[0].startswith("sha256:")  # pinned keys are named by SPKI digest


def test_a_moto_digest_signature_is_never_emitted_unverified(kms_key: tuple[Any, str]) -> None:
    # moto 5.2 signs sha256(digest) instead of the digest; the signer's self-check refuses that.
    # Once moto is fixed (getmoto/moto#10202) the envelope is produced and must verify.
    client, arn = kms_key
    signer = KmsSigner(arn, client=client)
    try:
        envelope = sign_envelope(b"y" * 5000, INTOTO_PAYLOAD_TYPE, [signer])
    except SigningError as exc:
        assert "does not verify against its own public key" in str(exc)
    else:
        assert Verifier(signer.public_key()).verify(envelope.signatures[0].sig, envelope.pae())
    assert signer.last_message_type == "DIGEST"


def test_kms_keyid_hint_is_the_key_arn(kms_key: tuple[Any, str]) -> None:
    client, arn = kms_key
    # moto returns a bare key id where real KMS returns the ARN; either is only a hint.
    assert KmsSigner(arn, client=client).keyid in (arn, arn.rsplit("/", 1)[1])


def test_kms_spec_with_an_alias_and_an_arn_region(kms_key: tuple[Any, str]) -> None:
    _, arn = kms_key
    by_alias = signer_from_spec("kms:alias/redis-audit")  # region from AWS_DEFAULT_REGION
    by_arn = signer_from_spec(f"kms:{arn}")  # region from the ARN
    assert spki_der(by_alias.public_key()) == spki_der(by_arn.public_key())
    assert isinstance(by_alias, KmsSigner)


def test_a_non_signing_key_is_refused(kms_key: tuple[Any, str]) -> None:
    client, _ = kms_key
    rsa = client.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    with pytest.raises(SigningError, match="key spec RSA_2048; need ECC_NIST_P256"):
        sign_envelope(b"x", INTOTO_PAYLOAD_TYPE, [KmsSigner(rsa, client=client)])


def test_kms_errors_become_signing_errors(kms_key: tuple[Any, str]) -> None:
    client, _ = kms_key
    missing = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    with pytest.raises(SigningError, match=r"KMS get_public_key with .* failed: NotFoundException"):
        KmsSigner(missing, client=client).public_key()


class FakeKms:
    """Real-KMS semantics that moto lacks: DIGEST signs the given digest, RAW is limited to 4096 bytes."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
        self.calls: list[tuple[str, int]] = []

    def get_public_key(self, *, KeyId: str) -> Mapping[str, Any]:
        return {
            "KeyId": self.arn,
            "KeySpec": "ECC_NIST_P256",
            "SigningAlgorithms": ["ECDSA_SHA_256"],
            "PublicKey": spki_der(self.private_key.public_key()),
        }

    def sign(self, *, KeyId: str, Message: bytes, MessageType: str, SigningAlgorithm: str) -> Mapping[str, Any]:
        assert SigningAlgorithm == "ECDSA_SHA_256"
        self.calls.append((MessageType, len(Message)))
        if MessageType == "DIGEST":
            assert len(Message) == 32, "DIGEST must be exactly a SHA-256 digest"
            signature = self.private_key.sign(Message, ec.ECDSA(Prehashed(hashes.SHA256())))
        else:
            assert len(Message) <= 4096, "real KMS rejects RAW messages over 4096 bytes"
            signature = self.private_key.sign(Message, ec.ECDSA(hashes.SHA256()))
        return {"KeyId": self.arn, "Signature": signature, "SigningAlgorithm": SigningAlgorithm}


def test_large_reports_are_signed_as_a_digest_and_verify_offline() -> None:
    fake = FakeKms()
    signer = KmsSigner(fake.arn, client=fake)
    report = small_report()
    report["findings"] = ["x" * 100] * 60  # a real report's PAE is over 4 KB
    data = sign_report(report, [signer])

    assert fake.calls == [("DIGEST", 32)]
    verified = verify_envelope(data, [fake.private_key.public_key()])
    assert verified.signer_keyids and len(verified.payload) > KMS_RAW_MESSAGE_LIMIT


def test_small_reports_are_signed_raw() -> None:
    fake = FakeKms()
    data = sign_report(small_report(), [KmsSigner(fake.arn, client=fake)])
    assert [kind for kind, _ in fake.calls] == ["RAW"]
    verify_envelope(data, [fake.private_key.public_key()])


def test_the_raw_limit_is_on_the_pae_length() -> None:
    fake = FakeKms()
    signer = KmsSigner(fake.arn, client=fake)
    body_at_limit = b"x" * (KMS_RAW_MESSAGE_LIMIT - len(pae("t", b"")) - 3)  # LEN grows from 1 to 4 digits
    assert len(pae("t", body_at_limit)) == KMS_RAW_MESSAGE_LIMIT
    signer.sign(pae("t", body_at_limit))
    signer.sign(pae("t", body_at_limit + b"x"))
    assert fake.calls == [("RAW", 4096), ("DIGEST", 32)]


def test_kms_signs_alongside_a_local_key_for_dual_control(ed_signer: Any) -> None:
    fake = FakeKms()
    data = sign_report(small_report(), [KmsSigner(fake.arn, client=fake), ed_signer])
    verified = verify_envelope(data, [ed_signer.public_key(), fake.private_key.public_key()], threshold=2)
    assert len(verified.signer_keyids) == 2


def test_digest_is_sha256_of_the_pae() -> None:
    fake = FakeKms()
    message = pae(INTOTO_PAYLOAD_TYPE, b"y" * 5000)
    signature = KmsSigner(fake.arn, client=fake).sign(message)
    fake.private_key.public_key().verify(
        signature, hashlib.sha256(message).digest(), ec.ECDSA(Prehashed(hashes.SHA256()))
    )
