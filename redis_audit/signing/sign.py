"""One call from a report to a signed envelope, for `run --sign-with`."""

from __future__ import annotations

from collections.abc import Sequence

from redis_audit.jsonvalue import JsonObject
from redis_audit.signing.dsse import INTOTO_PAYLOAD_TYPE, Envelope, sign_envelope
from redis_audit.signing.intoto import build_statement
from redis_audit.signing.signers import Signer


def sign_report(report: JsonObject, target_name: str, signers: Sequence[Signer]) -> Envelope:
    """Wrap the report in an in-toto Statement and sign it with every signer.

    The subject digest is taken from `report.target.fingerprint`, the same place `verify_envelope`
    re-derives it from, so the two can never disagree.
    """
    target = report.get("target")
    fingerprint = target.get("fingerprint") if isinstance(target, dict) else None
    if not isinstance(fingerprint, dict):
        raise ValueError("report.target.fingerprint is missing or not an object")
    statement = build_statement(target_name, fingerprint, report)
    return sign_envelope(statement.to_bytes(), INTOTO_PAYLOAD_TYPE, signers)
