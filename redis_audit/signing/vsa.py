"""A Verification Summary Attestation (SLSA VSA v1) of a verified readiness report.

Generic attestation tooling (policy engines, cosign, GUAC) knows the VSA shape and not redis-audit's
predicate: `verify --emit-vsa` states, as the verifier, that this deployment's signed report verified
against the pinned keys and whether it passed the readiness policy (READY). The full report stays the
source of truth; the VSA points at it by digest (inputAttestations).
"""

from __future__ import annotations

import datetime as dt

from redis_audit import __version__
from redis_audit.jsonvalue import JsonObject
from redis_audit.signing.intoto import Statement
from redis_audit.signing.verify import VerifiedStatement

VSA_PREDICATE_TYPE = "https://slsa.dev/verification_summary/v1"
VERIFIER_ID = "https://redis-audit.dev/verify"
POLICY_URI = "https://redis-audit.dev/profiles/"
READY_LEVEL = "REDIS_AUDIT_READY"  # a custom verifiedLevels value (the spec reserves SLSA_*)


def _sha256_hex(digest: object) -> str:
    return str(digest).removeprefix("sha256:")


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_vsa(verified: VerifiedStatement, envelope_uri: str, time_verified: dt.datetime) -> Statement:
    """The VSA statement about the report's subject: PASSED only for a verified READY report."""
    report = verified.predicate
    verdict = report.get("verdict")
    profile = report.get("profile")
    decision = verdict.get("decision") if isinstance(verdict, dict) else None
    passed = decision == "READY"
    subject = verified.subject  # the one whose digest matched the report's fingerprint
    profile_digest = profile.get("digest") if isinstance(profile, dict) else None
    origin = profile.get("origin") if isinstance(profile, dict) else None
    evidence = report.get("evidence")
    # The policy is named by its origin or digest, never by the name a profile file gives itself.
    policy_path = (f"builtin/{origin.get('name')}" if isinstance(origin, dict) and origin.get("kind") == "builtin"
                   else f"sha256/{_sha256_hex(profile_digest)}")
    predicate: JsonObject = {
        "verifier": {"id": VERIFIER_ID, "version": {"redis-audit": __version__}},
        "timeVerified": _rfc3339(time_verified),
        "resourceUri": subject.name,
        "policy": {"uri": f"{POLICY_URI}{policy_path}", "digest": {"sha256": _sha256_hex(profile_digest)}},
        "inputAttestations": [{"uri": envelope_uri, "digest": {"sha256": verified.envelope_sha256}}],
        "verificationResult": "PASSED" if passed else "FAILED",
        "verifiedLevels": [READY_LEVEL] if passed else ["FAILED"],
        # Beyond the VSA fields (consumers ignore unknown fields): what the policy decided, and until when.
        "redisAudit": {"decision": str(decision), "validUntil": str(verdict.get("validUntil"))
                       if isinstance(verdict, dict) else "", "reportPredicateType": verified.statement.predicate_type,
                       # live, or judged offline from a snapshot (collected when the file says)
                       "evidence": {k: evidence.get(k) for k in ("source", "collectionStartedAt")}
                       if isinstance(evidence, dict) else None},
    }
    return Statement((subject,), VSA_PREDICATE_TYPE, predicate)
