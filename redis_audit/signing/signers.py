"""Signers: local Ed25519 / ECDSA P-256 key files and AWS KMS (ECC_NIST_P256, ECDSA_SHA_256)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from redis_audit.exitcodes import UsageError
from redis_audit.files import note_input
from redis_audit.signing.errors import SigningError
from redis_audit.signing.keys import PrivateKey, PublicKey, keyid_for, load_private_key, load_public_key_der


class Signer(Protocol):
    @property
    def keyid(self) -> str:
        """A hint for verifiers; trust comes only from the pinned public keys."""
        ...

    @property
    def warnings(self) -> tuple[str, ...]:
        """Things the user should hear about (e.g. a private key file readable by others)."""
        ...

    def sign(self, pae: bytes) -> bytes: ...

    def public_key(self) -> PublicKey: ...


class LocalSigner:
    """Signs with a private key held in memory; ECDSA signatures are DER over SHA-256, as KMS's are."""

    def __init__(self, private_key: PrivateKey, warnings: tuple[str, ...] = (), insecure: bool = False) -> None:
        self._private_key = private_key
        self._keyid = keyid_for(private_key.public_key())
        self._warnings = warnings
        self.insecure = insecure  # its file was readable by others and --insecure-key-permissions allowed it

    @classmethod
    def from_file(cls, path: Path, allow_insecure: bool = False) -> LocalSigner:
        """The key in `path`, refused when group or others can access it unless `allow_insecure`."""
        note_input(path, "--sign-with")  # nothing this run writes may replace it
        loaded = load_private_key(path, allow_insecure)
        return cls(loaded.key, loaded.warnings, loaded.insecure)

    def __repr__(self) -> str:  # never the key itself
        return f"LocalSigner(keyid={self._keyid!r})"

    @property
    def keyid(self) -> str:
        return self._keyid

    @property
    def warnings(self) -> tuple[str, ...]:
        return self._warnings

    def sign(self, pae: bytes) -> bytes:
        if isinstance(self._private_key, ed25519.Ed25519PrivateKey):
            return self._private_key.sign(pae)
        return self._private_key.sign(pae, ec.ECDSA(hashes.SHA256()))

    def public_key(self) -> PublicKey:
        return self._private_key.public_key()


class KmsClient(Protocol):
    """The two calls KmsSigner needs from a boto3 KMS client (a fake in tests)."""

    def sign(self, *, KeyId: str, Message: bytes, MessageType: str, SigningAlgorithm: str) -> Mapping[str, Any]: ...

    def get_public_key(self, *, KeyId: str) -> Mapping[str, Any]: ...


KMS_RAW_MESSAGE_LIMIT = 4096  # bytes; KMS rejects larger RAW messages (moto does not, real KMS does)
KMS_KEY_SPEC = "ECC_NIST_P256"
KMS_SIGNING_ALGORITHM = "ECDSA_SHA_256"


class KmsSigner:
    """AWS KMS asymmetric key: RAW up to 4096 bytes of PAE, sha256 DIGEST above.

    Both give the same DER ECDSA signature over SHA-256(PAE), so verification never needs to know.
    """

    def __init__(self, key_id: str, client: KmsClient | None = None, region: str | None = None) -> None:
        if not key_id:
            raise UsageError("kms: needs a key id, alias or ARN, e.g. kms:alias/redis-audit")
        self._key_id = key_id
        self._client = client if client is not None else _boto3_kms_client(region or _arn_region(key_id))
        self._public: tuple[str, PublicKey] | None = None  # (key ARN, key), fetched once
        self.last_message_type: str | None = None  # "RAW" or "DIGEST", for tests and diagnostics

    def __repr__(self) -> str:
        return f"KmsSigner({self._key_id!r})"

    @property
    def keyid(self) -> str:
        return self._describe()[0]

    @property
    def warnings(self) -> tuple[str, ...]:
        return ()

    def public_key(self) -> PublicKey:
        return self._describe()[1]

    def sign(self, pae: bytes) -> bytes:
        self._describe()  # refuse a key of the wrong type before asking KMS to sign
        if len(pae) <= KMS_RAW_MESSAGE_LIMIT:
            message, message_type = pae, "RAW"
        else:
            message, message_type = hashlib.sha256(pae).digest(), "DIGEST"
        response = self._call(
            "sign",
            lambda: self._client.sign(
                KeyId=self._key_id,
                Message=message,
                MessageType=message_type,
                SigningAlgorithm=KMS_SIGNING_ALGORITHM,
            ),
        )
        self.last_message_type = message_type
        signature = response.get("Signature")
        if not isinstance(signature, bytes):
            raise SigningError(f"KMS sign with {self._key_id} returned no signature")
        return signature

    def _describe(self) -> tuple[str, PublicKey]:
        if self._public is None:
            response = self._call("get_public_key", lambda: self._client.get_public_key(KeyId=self._key_id))
            # Real KMS returns KeySpec; moto only the deprecated CustomerMasterKeySpec.
            spec = response.get("KeySpec") or response.get("CustomerMasterKeySpec")
            if spec != KMS_KEY_SPEC:
                raise SigningError(f"KMS key {self._key_id} has key spec {spec}; need {KMS_KEY_SPEC}")
            algorithms = response.get("SigningAlgorithms") or []
            if KMS_SIGNING_ALGORITHM not in algorithms:
                raise SigningError(f"KMS key {self._key_id} cannot sign with {KMS_SIGNING_ALGORITHM}")
            der = response.get("PublicKey")
            if not isinstance(der, bytes):
                raise SigningError(f"KMS key {self._key_id} returned no public key")
            arn = str(response.get("KeyId") or self._key_id)
            self._public = (arn, load_public_key_der(der, f"KMS key {self._key_id}"))
        return self._public

    def _call(self, operation: str, call: Callable[[], Mapping[str, Any]]) -> Mapping[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            result = call()
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, text = error.get("Code", "error"), error.get("Message", "")
            raise SigningError(f"KMS {operation} with {self._key_id} failed: {code}: {text}") from None
        except BotoCoreError as exc:
            raise SigningError(f"KMS {operation} with {self._key_id} failed: {exc}") from None
        return result


def _arn_region(key_id: str) -> str | None:
    # arn:aws:kms:REGION:ACCOUNT:key/ID — an ARN names its region, so none has to be configured.
    parts = key_id.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[2] == "kms":
        return parts[3] or None
    return None


def _boto3_kms_client(region: str | None) -> KmsClient:
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        client: KmsClient = boto3.client("kms", region_name=region)
    except BotoCoreError as exc:
        raise SigningError(f"cannot create a KMS client: {exc}") from None
    return client


def signer_from_spec(spec: str, allow_insecure: bool = False) -> Signer:
    """`kms:KEY_ID_OR_ALIAS_OR_ARN` for AWS KMS; `file:PATH` or a plain path for a local PEM key
    (refused when others can read it, unless `allow_insecure`)."""
    if spec.startswith("kms:"):
        return KmsSigner(spec.removeprefix("kms:"))
    path = spec.removeprefix("file:")
    if not path:
        raise UsageError("--sign-with needs kms:ARN_OR_ALIAS or the path of a private key file")
    return LocalSigner.from_file(Path(path), allow_insecure)


def insecure_keyids(signers: Sequence[Signer]) -> list[str]:
    """The keyids of local keys loaded under --insecure-key-permissions (the report records them)."""
    return sorted(s.keyid for s in signers if isinstance(s, LocalSigner) and s.insecure)
