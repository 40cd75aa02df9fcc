"""Shared keys and a small report for the signing tests."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from redis_audit.jsonvalue import JsonObject
from redis_audit.signing.sign import sign_report as sign_report_envelope
from redis_audit.signing.signers import LocalSigner, Signer

TARGET_NAME = "redis://payments-cache-prod"


def small_report(valid_until: str = "2099-01-01T00:00:00Z") -> JsonObject:
    """The least a predicate needs for verification: fingerprint and verdict."""
    return {
        "target": {"fingerprint": {"deployment": "payments-cache-prod", "redisVersion": "7.2.5"}},
        "verdict": {"decision": "READY", "validUntil": valid_until},
    }


def sign_report(report: JsonObject, signers: Sequence[Signer], name: str = TARGET_NAME) -> bytes:
    return sign_report_envelope(copy.deepcopy(report), name, signers).to_bytes()


@pytest.fixture(scope="session")
def ed_signer() -> LocalSigner:
    return LocalSigner(ed25519.Ed25519PrivateKey.generate())


@pytest.fixture(scope="session")
def p256_signer() -> LocalSigner:
    return LocalSigner(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="session")
def other_signer() -> LocalSigner:
    return LocalSigner(ed25519.Ed25519PrivateKey.generate())
