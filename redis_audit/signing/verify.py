"""Offline verification of a signed readiness report: signatures, types, subject, freshness, verdict."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis_audit.jsonvalue import JsonObject, JsonValue
from redis_audit.signing.canonical import sha256_hex
from redis_audit.signing.dsse import INTOTO_PAYLOAD_TYPE, Envelope, envelope_sha256, verified_keyids
from redis_audit.signing.errors import InvalidReport, short_repr
from redis_audit.signing.intoto import PREDICATE_TYPE, Statement, Subject, parse_statement
from redis_audit.signing.keys import PublicKey, Verifier

# RFC 3339 in UTC with "Z", as in-toto's field types require; fractional seconds allowed.
_RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")

VerdictRecomputer = Callable[[JsonObject], str]

# Verifying "now" tolerates this much clock difference between the signing and the verifying host;
# an explicit time (verify --at) tolerates none.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class VerifiedStatement:
    statement: Statement
    payload: bytes  # the exact signed bytes; render from these, never from the envelope again
    signer_keyids: tuple[str, ...]  # keyids of the pinned keys that verified
    envelope_sha256: str  # of the envelope file as given, for tickets
    subject: Subject  # the subject whose digest matched the predicate (and the expected name, if any)

    @property
    def predicate(self) -> JsonObject:
        return self.statement.predicate


def verify_envelope(
    data: bytes,
    public_keys: Sequence[PublicKey],
    threshold: int = 1,
    expect_subject_name: str | None = None,
    now: datetime | None = None,
    recompute_verdict: VerdictRecomputer | None = None,
) -> VerifiedStatement:
    """Verify an envelope file against pinned keys; raise InvalidReport with a one-line reason.

    `recompute_verdict`, when given, derives the decision from the predicate (findings, profile,
    waivers); a report whose stated `verdict.decision` differs is refused.
    """
    if threshold < 1:
        raise ValueError("threshold must be at least 1")
    skew = CLOCK_SKEW if now is None else timedelta(0)
    now = _aware(now)
    envelope = Envelope.from_bytes(data)

    # Signatures first, then the type, then parsing: the order the DSSE spec prescribes.
    signers = verified_keyids(envelope, [Verifier(key) for key in public_keys])
    if len(signers) < threshold:
        raise InvalidReport(_signature_reason(len(signers), threshold))
    if envelope.payload_type != INTOTO_PAYLOAD_TYPE:
        raise InvalidReport(f"payloadType is {short_repr(envelope.payload_type)}, expected {INTOTO_PAYLOAD_TYPE}")

    statement = parse_statement(envelope.payload)  # the verified bytes, never the envelope again
    if statement.predicate_type != PREDICATE_TYPE:
        raise InvalidReport(f"predicateType is {short_repr(statement.predicate_type)}, expected {PREDICATE_TYPE}")
    subject = _check_subject(statement, expect_subject_name)
    _check_valid_until(statement.predicate, now)
    _check_issued(statement.predicate, now, skew)
    if recompute_verdict is not None:
        _check_verdict(statement.predicate, recompute_verdict)
    return VerifiedStatement(statement, envelope.payload, signers, envelope_sha256(data), subject)


def _aware(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def _signature_reason(valid: int, threshold: int) -> str:
    if valid == 0:
        return "no signature verifies with the given keys (tampered, or signed by another key)"
    return f"{valid} trusted key(s) signed, {threshold} required"


def _check_subject(statement: Statement, expect_subject_name: str | None) -> Subject:
    """The subject the report is about: its digest matches the fingerprint (and its name the expected one)."""
    fingerprint = _object_at(statement.predicate, "target", "fingerprint")
    digest = sha256_hex(fingerprint)
    matching = [subject for subject in statement.subjects if subject.sha256 == digest]
    if not matching:
        raise InvalidReport("subject digest does not match predicate.target.fingerprint")
    if expect_subject_name is None:
        return matching[0]
    named = [s for s in matching if s.name == expect_subject_name]
    if not named:
        names = ", ".join(sorted({s.name for s in matching}))
        raise InvalidReport(f"report is about {short_repr(names)}, expected {short_repr(expect_subject_name)}")
    return named[0]


def _check_valid_until(predicate: JsonObject, now: datetime) -> None:
    text = _object_at(predicate, "verdict").get("validUntil")
    if now >= _utc_time(text, "verdict.validUntil"):
        raise InvalidReport(f"report expired at {text}")


def _check_issued(predicate: JsonObject, now: datetime, skew: timedelta) -> None:
    """A report is not valid before its run started: `verify --at` an earlier time is refused."""
    run = predicate.get("run")
    started = run.get("startedAt") if isinstance(run, dict) else None
    if started is None:
        return  # the report's recomputation (verify) requires a run; bare statements carry none
    if now + skew < _utc_time(started, "run.startedAt"):
        raise InvalidReport(f"report is not valid before its run started ({started}); "
                            f"checked at {now.strftime('%Y-%m-%dT%H:%M:%SZ')}")


def _utc_time(text: object, field: str) -> datetime:
    if not isinstance(text, str) or not _RFC3339_UTC.fullmatch(text):
        raise InvalidReport(f"{field} is {short_repr(text)}, expected an RFC 3339 UTC time")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidReport(f"{field} {short_repr(text)} is not a real time") from None


def _check_verdict(predicate: JsonObject, recompute_verdict: VerdictRecomputer) -> None:
    stated = _object_at(predicate, "verdict").get("decision")
    recomputed = recompute_verdict(predicate)
    if stated != recomputed:
        raise InvalidReport(f"verdict mismatch: report states {short_repr(stated)}, findings give {recomputed}")


def _object_at(document: JsonObject, *path: str) -> JsonObject:
    current: JsonValue = document
    for depth, key in enumerate(path):
        child = current.get(key) if isinstance(current, dict) else None
        if not isinstance(child, dict):
            raise InvalidReport(f"predicate.{'.'.join(path[: depth + 1])} is missing or not an object")
        current = child
    assert isinstance(current, dict)
    return current
