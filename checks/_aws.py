"""Readers for the AWS control-plane facts (`aws.*`), shared by the checks/aws_*.py modules.

The three managed kinds describe themselves differently (a replication group, a serverless cache,
a MemoryDB cluster); `managed()` gives the checks one view with the fields they judge, and the
raw describe result for evidence. A missing or denied fact raises FactUnavailable, so the check
SKIPs with the reason (and the IAM action to grant).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from redis_audit.check import CheckContext, Scope
from redis_audit.jsonvalue import as_object
from redis_audit.model import Finding
from redis_audit.snapshot import FactError, FactErrorKind, FactUnavailable, Snapshot

from .pack import PACK

REPLICATION_GROUP = "aws-elasticache"
SERVERLESS = "aws-elasticache-serverless"
MEMORYDB = "aws-memorydb"
DESCRIBE_FACT = {
    REPLICATION_GROUP: "aws.replication_group",
    SERVERLESS: "aws.serverless_cache",
    MEMORYDB: "aws.memorydb_cluster",
}
AWS_REFERENCE = "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/WorkingWithRedis.html"


def is_aws(snapshot: Snapshot) -> bool:
    return "aws.resource" in snapshot.deployment_facts


def items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


@dataclass(frozen=True)
class Member:
    id: str
    role: str | None  # "primary"/"replica" where the service reports it
    zone: str | None


@dataclass(frozen=True)
class Managed:
    """One view of the managed deployment; `raw` is the describe result."""

    kind: str
    id: str
    arn: str
    raw: dict[str, Any]

    @property
    def serverless(self) -> bool:
        return self.kind == SERVERLESS

    @property
    def memorydb(self) -> bool:
        return self.kind == MEMORYDB

    def shards(self) -> list[tuple[str, list[Member]]]:
        if self.memorydb:
            return [(str(s.get("Name")), [Member(str(n.get("Name")), None, n.get("AvailabilityZone"))
                                          for n in items(s.get("Nodes")) if isinstance(n, dict)])
                    for s in items(self.raw.get("Shards")) if isinstance(s, dict)]
        return [(str(g.get("NodeGroupId")), [Member(str(m.get("CacheClusterId")), m.get("CurrentRole"),
                                                    m.get("PreferredAvailabilityZone"))
                                             for m in items(g.get("NodeGroupMembers")) if isinstance(m, dict)])
                for g in items(self.raw.get("NodeGroups")) if isinstance(g, dict)]

    def engine_version(self, snapshot: Snapshot) -> str | None:
        if self.serverless:
            return self.raw.get("FullEngineVersion") or self.raw.get("MajorEngineVersion")
        if self.memorydb:
            return self.raw.get("EnginePatchVersion") or self.raw.get("EngineVersion")
        clusters = items(snapshot.deployment_fact("aws.cache_clusters"))
        versions = sorted({str(c.get("EngineVersion")) for c in clusters if isinstance(c, dict)})
        return versions[0] if versions else None

    def engine(self) -> str:
        return str(self.raw.get("Engine") or "redis")

    def kms_key_id(self) -> str | None:
        key = self.raw.get("KmsKeyId")
        return str(key) if key else None


def managed(ctx: CheckContext) -> Managed:
    resource = as_object(ctx.snapshot.deployment_fact("aws.resource"))
    kind = str(resource.get("kind"))
    fact = DESCRIBE_FACT.get(kind)
    if fact is None:
        raise FactUnavailable("aws.resource", FactError(FactErrorKind.UNSUPPORTED, "aws.resource",
                                                        f"unknown AWS resource kind {kind!r}"))
    raw = as_object(ctx.snapshot.deployment_fact(fact))
    return Managed(kind, str(resource.get("id")), str(raw.get("ARN") or resource.get("id")), raw)


def parameter(ctx: CheckContext, name: str) -> tuple[str, str | None]:
    """(parameter group, value) from the cluster's parameter group; value None when the group lacks it."""
    found = as_object(ctx.snapshot.deployment_fact("aws.parameters"))
    value = as_object(found.get("values")).get(name)
    return str(found.get("group")), None if value is None else str(value)


AwsEvaluator = Callable[[CheckContext], Iterable[Finding]]


def extend(check_id: str) -> Callable[[AwsEvaluator], AwsEvaluator]:
    """Register an AWS evaluator of a check another module defines (one id, wire and control plane)."""
    return PACK.extend(check_id, applies=is_aws, scope=Scope.DEPLOYMENT)


def has_secret_facts(snapshot: Snapshot) -> bool:
    """Secrets Manager metadata was collected: an AWS deployment, or any target with --password-secret."""
    return is_aws(snapshot) or "aws.secrets" in snapshot.deployment_facts


def aws_check(*, applies: Callable[[Snapshot], bool] = is_aws,
              skip_reason: str = "applies to AWS-managed deployments (no control-plane facts)",
              not_applicable: bool = True, **meta: Any) -> Callable[[AwsEvaluator], AwsEvaluator]:
    """Register a check that only the control plane can verify; other deployments SKIP it.

    `applies` widens that where a fact can exist without an AWS deployment (secrets of a self-hosted
    one); `not_applicable=False` keeps such a SKIP among what needs attention (an input is missing).
    Should a wire evaluator of the same id appear, the AWS function becomes an `extend()` of it.
    """

    def register(function: AwsEvaluator) -> AwsEvaluator:
        def evaluate(ctx: CheckContext) -> Iterator[Finding]:
            if not applies(ctx.snapshot):
                yield (ctx.not_applicable if not_applicable else ctx.skipped)(ctx.deployment, skip_reason)
                return
            yield from function(ctx)

        evaluate.__name__ = function.__name__
        evaluate.__doc__ = function.__doc__
        PACK.check(scope=Scope.DEPLOYMENT, **meta)(evaluate)
        return function

    return register
