"""Which AWS-managed deployment an audit targets, and how to reach its control plane."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AwsKind(StrEnum):
    REPLICATION_GROUP = "aws-elasticache"  # ElastiCache node-based replication group
    SERVERLESS = "aws-elasticache-serverless"
    MEMORYDB = "aws-memorydb"


@dataclass(frozen=True)
class AwsSettings:
    """Where the control plane is: region and named profile (None: the usual boto3 chain)."""

    region: str | None = None
    profile: str | None = None


@dataclass(frozen=True)
class AwsResource:
    kind: AwsKind
    id: str  # replication group id, serverless cache name or MemoryDB cluster name
    settings: AwsSettings = AwsSettings()

    def describe(self) -> str:
        labels = {
            AwsKind.REPLICATION_GROUP: "ElastiCache replication group",
            AwsKind.SERVERLESS: "ElastiCache serverless cache",
            AwsKind.MEMORYDB: "MemoryDB cluster",
        }
        return f"{labels[self.kind]} {self.id}"


@dataclass(frozen=True)
class AwsSecretRefs:
    """Secrets Manager secrets whose metadata the audit judges (SECRET-001/002); never their values.

    Named by --password-secret and --aws-app-secret, for an AWS-managed deployment or a self-hosted one.
    """

    arns: tuple[str, ...]
    settings: AwsSettings = AwsSettings()
