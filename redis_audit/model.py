"""Severities, statuses and findings: the vocabulary shared by checks, the verdict and every report."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from redis_audit.jsonvalue import JsonObject, JsonValue


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for critical, 4 for info: sorts the worst first."""
        return list(Severity).index(self)


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"
    INFO = "INFO"
    SKIP = "SKIP"
    ERROR = "ERROR"

    @property
    def rank(self) -> int:
        """Attention order: ERROR and FAIL first, PASS last."""
        return [Status.ERROR, Status.FAIL, Status.WARN, Status.INFO, Status.SKIP, Status.PASS].index(self)


DEPLOYMENT = "deployment"  # the resource of a finding about the deployment as a whole


@dataclass(frozen=True)
class Finding:
    """One result of one check about one resource (a node address, or 'deployment')."""

    check_id: str
    status: Status
    resource: str
    message: str
    evidence: JsonObject = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        return {
            "checkId": self.check_id,
            "status": str(self.status),
            "resource": self.resource,
            "message": self.message,
            "evidence": self.evidence,
        }


def evidence(observed: JsonValue, expected: JsonValue = None, **more: JsonValue) -> JsonObject:
    """Evidence in the conventional shape: what was observed against what was expected."""
    out: JsonObject = {"observed": observed}
    if expected is not None:
        out["expected"] = expected
    out.update(more)
    return out
