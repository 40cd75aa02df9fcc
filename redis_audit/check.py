"""The check API: a check is a small pure function over the snapshot, with the metadata that explains it.

A pack is a named list of checks. The built-in pack and third-party packs are both
found through the ``redis_audit.checks`` entry-point group (see registry.py)::

    PACK = CheckPack("acme")

    @PACK.check(id="X-ACME-001", title="...", severity=Severity.HIGH, category="security",
                verifies="...", risk="...", remediation="...", needs=("config",))
    def my_check(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
        yield ctx.passed(node, "all good", observed=..., expected=...)

A NODE-scoped check is called once per node of the roles it names; a DEPLOYMENT-scoped
check once per run. A check never does I/O: it reads ``ctx.snapshot`` and ``ctx.profile``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from redis_audit.jsonvalue import JsonObject, JsonValue
from redis_audit.model import DEPLOYMENT, Finding, Severity, Status, evidence
from redis_audit.snapshot import NodeSnapshot, Snapshot
from redis_audit.topology import DATA_ROLES, DeploymentKind, Role

if TYPE_CHECKING:
    from redis_audit.profile import Profile

NOT_APPLICABLE = "notApplicable"  # the evidence key of a not-applicable SKIP
CHECK_ID = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")
ALL_KINDS = frozenset(DeploymentKind)


class Scope(StrEnum):
    NODE = "node"
    DEPLOYMENT = "deployment"


@dataclass(frozen=True)
class CheckMeta:
    id: str
    title: str
    severity: Severity
    category: str
    verifies: str  # what holds when the check passes
    risk: str  # what goes wrong when it does not
    remediation: str
    references: tuple[str, ...] = ()
    topologies: frozenset[DeploymentKind] = ALL_KINDS
    needs: tuple[str, ...] = ()  # snapshot facts read, e.g. "info", "config", "acl.users"
    scope: Scope = Scope.NODE
    roles: frozenset[Role] = DATA_ROLES  # for NODE scope: which nodes it judges
    version: int = 1  # bump when the logic or a threshold changes

    def __post_init__(self) -> None:
        if not CHECK_ID.match(self.id):
            raise ValueError(f"check id {self.id!r} must look like 'ABC-001'")
        if len(self.title) > 150:
            raise ValueError(f"{self.id}: title longer than 150 characters")
        for name in ("title", "verifies", "risk", "remediation", "category"):
            if not getattr(self, name).strip():
                raise ValueError(f"{self.id}: {name} is empty")

    def to_json(self) -> JsonObject:
        return {
            "id": self.id,
            "title": self.title,
            "severity": str(self.severity),
            "category": self.category,
            "verifies": self.verifies,
            "risk": self.risk,
            "remediation": self.remediation,
            "references": list(self.references),
            "topologies": sorted(str(k) for k in self.topologies),
            "needs": list(self.needs),
            "scope": str(self.scope),
            "roles": sorted(str(r) for r in self.roles),
            "version": self.version,
        }


NodeCheckFn = Callable[["CheckContext", NodeSnapshot], Iterable[Finding]]
DeploymentCheckFn = Callable[["CheckContext"], Iterable[Finding]]


@dataclass(frozen=True)
class Extension:
    """Another way to verify an existing check, from other facts (e.g. the AWS control plane).

    It shares the check's id and metadata, so the report has one TLS-001 whether the proof
    came from the wire or from `describe_replication_groups`.
    """

    check_id: str
    function: Callable[..., Iterable[Finding]]
    scope: Scope
    roles: frozenset[Role]
    applies: Callable[[Snapshot], bool]  # whether the facts it reads exist in this snapshot
    source: str


@dataclass(frozen=True)
class Check:
    meta: CheckMeta
    function: Callable[..., Iterable[Finding]]
    source: str  # the pack's name: "builtin" or a plugin's
    extensions: tuple[Extension, ...] = ()

    @property
    def id(self) -> str:
        return self.meta.id


@dataclass
class CheckPack:
    """A named collection of checks, exported through the redis_audit.checks entry point."""

    name: str
    checks: list[Check] = field(default_factory=list)
    extensions: list[Extension] = field(default_factory=list)

    def check(self, **meta: Any) -> Callable[[Callable[..., Iterable[Finding]]], Callable[..., Iterable[Finding]]]:
        """Register a function as a check; keyword arguments are CheckMeta fields."""
        parsed = CheckMeta(**meta)

        def register(function: Callable[..., Iterable[Finding]]) -> Callable[..., Iterable[Finding]]:
            if any(c.id == parsed.id for c in self.checks):
                raise ValueError(f"pack {self.name!r} defines {parsed.id} twice")
            self.checks.append(Check(parsed, function, self.name))
            return function

        return register

    def extend(
        self,
        check_id: str,
        *,
        applies: Callable[[Snapshot], bool],
        scope: Scope = Scope.DEPLOYMENT,
        roles: frozenset[Role] = DATA_ROLES,
    ) -> Callable[[Callable[..., Iterable[Finding]]], Callable[..., Iterable[Finding]]]:
        """Register another evaluator for a check defined here or in another pack (see Extension)."""

        def register(function: Callable[..., Iterable[Finding]]) -> Callable[..., Iterable[Finding]]:
            self.extensions.append(Extension(check_id, function, scope, roles, applies, self.name))
            return function

        return register


@dataclass
class CheckContext:
    """What a check may read, and the helpers that build its findings."""

    snapshot: Snapshot
    profile: Profile
    meta: CheckMeta

    def _finding(
        self,
        status: Status,
        resource: NodeSnapshot | str,
        message: str,
        observed: JsonValue,
        expected: JsonValue,
        more: dict[str, JsonValue],
    ) -> Finding:
        where = str(resource.address) if isinstance(resource, NodeSnapshot) else resource
        return Finding(self.meta.id, status, where, message, evidence(observed, expected, **more))

    def passed(self, resource: NodeSnapshot | str, message: str, observed: JsonValue = None,
               expected: JsonValue = None, **more: JsonValue) -> Finding:
        return self._finding(Status.PASS, resource, message, observed, expected, more)

    def failed(self, resource: NodeSnapshot | str, message: str, observed: JsonValue = None,
               expected: JsonValue = None, **more: JsonValue) -> Finding:
        return self._finding(Status.FAIL, resource, message, observed, expected, more)

    def warned(self, resource: NodeSnapshot | str, message: str, observed: JsonValue = None,
               expected: JsonValue = None, **more: JsonValue) -> Finding:
        return self._finding(Status.WARN, resource, message, observed, expected, more)

    def info(self, resource: NodeSnapshot | str, message: str, observed: JsonValue = None,
             expected: JsonValue = None, **more: JsonValue) -> Finding:
        return self._finding(Status.INFO, resource, message, observed, expected, more)

    def skipped(self, resource: NodeSnapshot | str, message: str, **more: JsonValue) -> Finding:
        return self._finding(Status.SKIP, resource, message, None, None, more)

    def not_applicable(self, resource: NodeSnapshot | str, message: str) -> Finding:
        """A SKIP that needs no action: the check does not apply to this kind of deployment. Renderings
        fold these away from what needs attention (`evidence.notApplicable`)."""
        return self._finding(Status.SKIP, resource, message, None, None, {NOT_APPLICABLE: True})

    def errored(self, resource: NodeSnapshot | str, message: str, **more: JsonValue) -> Finding:
        return self._finding(Status.ERROR, resource, message, None, None, more)

    @property
    def deployment(self) -> str:
        return DEPLOYMENT
