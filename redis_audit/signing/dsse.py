"""DSSE v1 envelopes: PAE, (de)serialisation, multi-signature signing, threshold verification.

Signatures always cover PAE(payloadType, exact payload bytes); nothing is re-serialised to verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from redis_audit.jsonvalue import JsonValue
from redis_audit.signing.canonical import StrictJsonError, canonical_bytes, loads_strict_object
from redis_audit.signing.errors import InvalidReport, SigningError
from redis_audit.signing.keys import Verifier
from redis_audit.signing.signers import Signer

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"

# Bounds on what verify reads (an envelope is untrusted input until its signature checks): a real
# report is well under a megabyte and carries one to a few signatures of 64-72 bytes (Ed25519,
# DER ECDSA P-256); each signature costs a verification per pinned key.
MAX_ENVELOPE_BYTES = 64 * 1024 * 1024
MAX_SIGNATURES = 32
MAX_SIGNATURE_BYTES = 1024
MAX_KEYID_CHARS = 512

_STANDARD_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_URLSAFE_B64 = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def pae(payload_type: str, payload: bytes) -> bytes:
    """Pre-Authentication Encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.

    LEN is the byte length in ASCII decimal; the type is measured after UTF-8 encoding.
    """
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


@dataclass(frozen=True)
class Signature:
    keyid: str  # an unauthenticated hint, never used to decide trust
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    payload: bytes  # the exact signed bytes (base64 only on the wire)
    payload_type: str
    signatures: tuple[Signature, ...]

    def pae(self) -> bytes:
        return pae(self.payload_type, self.payload)

    def to_json(self) -> dict[str, object]:
        return {
            "payload": _b64(self.payload),
            "payloadType": self.payload_type,
            "signatures": [{"keyid": s.keyid, "sig": _b64(s.sig)} for s in self.signatures],
        }

    def to_bytes(self) -> bytes:
        """Canonical JSON, so that the envelope sha256 of a given envelope is reproducible."""
        return canonical_bytes(self.to_json())

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        """Parse an envelope strictly; any deviation is InvalidReport with the reason."""
        if len(data) > MAX_ENVELOPE_BYTES:
            raise InvalidReport(f"envelope is larger than {MAX_ENVELOPE_BYTES // (1024 * 1024)} MiB")
        try:
            document = loads_strict_object(data)
        except StrictJsonError as exc:
            raise InvalidReport(f"envelope: {exc}") from None
        payload = _b64decode(_string_field(document, "payload", "envelope"), "payload")
        payload_type = _string_field(document, "payloadType", "envelope")
        raw_signatures = document.get("signatures")
        if not isinstance(raw_signatures, list) or not raw_signatures:
            raise InvalidReport("envelope has no signatures")
        if len(raw_signatures) > MAX_SIGNATURES:
            raise InvalidReport(f"envelope has {len(raw_signatures)} signatures; at most {MAX_SIGNATURES} are read")
        signatures = tuple(_parse_signature(item, index) for index, item in enumerate(raw_signatures))
        return cls(payload, payload_type, signatures)


def _parse_signature(item: object, index: int) -> Signature:
    where = f"signature {index}"
    if not isinstance(item, dict):
        raise InvalidReport(f"{where} is not a JSON object")
    keyid = item.get("keyid", "")  # optional in the spec
    if not isinstance(keyid, str):
        raise InvalidReport(f"{where}: keyid is not a string")
    if len(keyid) > MAX_KEYID_CHARS:
        raise InvalidReport(f"{where}: keyid is longer than {MAX_KEYID_CHARS} characters")
    text = _string_field(item, "sig", where)
    if len(text) > (MAX_SIGNATURE_BYTES + 2) // 3 * 4:
        raise InvalidReport(f"{where}: sig is longer than {MAX_SIGNATURE_BYTES} bytes")
    return Signature(keyid, _b64decode(text, f"{where} sig"))


def _string_field(document: Mapping[str, JsonValue], name: str, where: str) -> str:
    value = document.get(name)
    if not isinstance(value, str):
        raise InvalidReport(f"{where}: {name} is missing or not a string")
    return value


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    """Standard or URL-safe base64 (the spec requires both), padded or not, in canonical form only.

    Canonical form (zero padding bits) means one set of bytes has exactly one spelling per alphabet.
    """
    urlsafe = not _STANDARD_B64.fullmatch(text)
    if urlsafe and not _URLSAFE_B64.fullmatch(text):
        raise InvalidReport(f"{what} is not base64")
    unpadded = text.rstrip("=")
    try:
        decoded = base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), altchars=b"-_" if urlsafe else None)
    except binascii.Error:
        raise InvalidReport(f"{what} is not base64") from None
    reencoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(decoded).decode("ascii")
    if reencoded.rstrip("=") != unpadded or (len(text) != len(unpadded) and text != reencoded):
        raise InvalidReport(f"{what} is not canonical base64")
    return decoded


def sign_envelope(payload: bytes, payload_type: str, signers: Sequence[Signer]) -> Envelope:
    """Sign with every signer (several signers make a multi-signature envelope for dual control).

    Each signature is checked against its signer's public key before it is accepted, so a
    misbehaving signer (a KMS key of another type, a mock that hashes twice) fails here, not at verify.
    """
    if not signers:
        raise SigningError("no signer given")
    message = pae(payload_type, payload)
    signatures = []
    for signer in signers:
        sig = signer.sign(message)
        if not Verifier(signer.public_key()).verify(sig, message):
            raise SigningError(f"signature from {signer.keyid} does not verify against its own public key")
        signatures.append(Signature(signer.keyid, sig))
    return Envelope(payload, payload_type, tuple(signatures))


def verified_keyids(envelope: Envelope, verifiers: Iterable[Verifier]) -> tuple[str, ...]:
    """The keyids of the pinned keys with a valid signature; each key counts once, whatever the keyids say.

    A signature's keyid only orders the attempts: the hinted key is tried first, then all others.
    """
    message = envelope.pae()
    verified = []
    for verifier in _unique(verifiers):
        keyid = verifier.keyid
        hinted_first = sorted(envelope.signatures, key=lambda s: s.keyid != keyid)
        if any(verifier.verify(s.sig, message) for s in hinted_first):
            verified.append(keyid)
    return tuple(verified)


def _unique(verifiers: Iterable[Verifier]) -> list[Verifier]:
    seen: dict[str, Verifier] = {}
    for verifier in verifiers:
        seen.setdefault(verifier.keyid, verifier)
    return list(seen.values())


def envelope_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
