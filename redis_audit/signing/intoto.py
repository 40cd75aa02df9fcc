"""in-toto Statement v1 around the readiness report (the predicate)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from redis_audit.jsonvalue import JsonObject, JsonValue
from redis_audit.signing.canonical import StrictJsonError, canonical_bytes, loads_strict_object, sha256_hex
from redis_audit.signing.errors import InvalidReport, short_repr

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
# The major version lives in the URI: a breaking change to the report's shape means .../v2.
PREDICATE_TYPE = "https://redis-audit.dev/attestations/readiness/v2"  # v2: evidence, profile origin


@dataclass(frozen=True)
class Subject:
    name: str
    sha256: str  # of the canonical target fingerprint

    def to_json(self) -> JsonObject:
        return {"name": self.name, "digest": {"sha256": self.sha256}}


@dataclass(frozen=True)
class Statement:
    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: JsonObject

    def to_json(self) -> JsonObject:
        return {
            "_type": STATEMENT_TYPE,
            "subject": [subject.to_json() for subject in self.subjects],
            "predicateType": self.predicate_type,
            "predicate": self.predicate,
        }

    def to_bytes(self) -> bytes:
        """The DSSE payload: canonical JSON, the same bytes for the same report every time."""
        return canonical_bytes(self.to_json())


def build_statement(
    target_name: str,
    fingerprint: Mapping[str, JsonValue],
    predicate: JsonObject,
    predicate_type: str = PREDICATE_TYPE,
) -> Statement:
    """A Statement whose subject is the target, identified by sha256(canonical(fingerprint))."""
    return Statement((Subject(target_name, sha256_hex(fingerprint)),), predicate_type, predicate)


def parse_statement(payload: bytes) -> Statement:
    """Parse payload bytes into a Statement; structural problems are InvalidReport.

    Checks only the Statement layer (types, subjects); the caller decides which predicateType it accepts.
    Unknown top-level fields are ignored, as the in-toto spec requires.
    """
    try:
        document = loads_strict_object(payload)
    except StrictJsonError as exc:
        raise InvalidReport(f"payload: {exc}") from None
    if document.get("_type") != STATEMENT_TYPE:
        raise InvalidReport(f"payload _type is {short_repr(document.get('_type'))}, expected {STATEMENT_TYPE}")
    predicate_type = document.get("predicateType")
    if not isinstance(predicate_type, str):
        raise InvalidReport("statement has no predicateType")
    predicate = document.get("predicate")
    if not isinstance(predicate, dict):
        raise InvalidReport("statement predicate is missing or not an object")
    raw_subjects = document.get("subject")
    if not isinstance(raw_subjects, list) or not raw_subjects:
        raise InvalidReport("statement has no subject")
    subjects = tuple(_parse_subject(item, index) for index, item in enumerate(raw_subjects))
    return Statement(subjects, predicate_type, predicate)


def _parse_subject(item: JsonValue, index: int) -> Subject:
    if not isinstance(item, dict):
        raise InvalidReport(f"subject {index} is not an object")
    name, digest = item.get("name"), item.get("digest")
    if not isinstance(name, str):
        raise InvalidReport(f"subject {index} has no name")
    sha256 = digest.get("sha256") if isinstance(digest, dict) else None
    if not isinstance(sha256, str):
        raise InvalidReport(f"subject {index} has no sha256 digest")
    return Subject(name, sha256)
