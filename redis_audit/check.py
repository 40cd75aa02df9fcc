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

import dataclasses
import difflib
import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis_audit.check_rules import (
    ID_RULE,
    CheckDefinitionError,
    function_name,
    member,
    members,
    signature_problem,
    url_problem,
    valid_id,
)
from redis_audit.check_rules import Category as Category
from redis_audit.check_rules import Scope as Scope
from redis_audit.grading import Limit as Limit
from redis_audit.grading import grade, passing_limit
from redis_audit.jsonvalue import JsonObject, JsonValue
from redis_audit.model import DEPLOYMENT, Finding, Severity, Status, evidence
from redis_audit.snapshot import NodeSnapshot, Snapshot
from redis_audit.topology import DATA_ROLES, DeploymentKind, Role

if TYPE_CHECKING:
    from redis_audit.profile import Profile

NOT_APPLICABLE = "notApplicable"  # the evidence key of a not-applicable SKIP
ALL_KINDS = frozenset(DeploymentKind)


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
        try:
            self._validate()
        except ValueError as exc:
            raise CheckDefinitionError(self.id if valid_id(self.id) else repr(self.id), str(exc)) from None

    def _validate(self) -> None:
        """Each field against the API; enum fields given as their values are stored as members."""
        if not valid_id(self.id):
            raise ValueError(ID_RULE)
        for name in ("title", "verifies", "risk", "remediation", "category"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} is empty")
        if len(self.title) > 150:
            raise ValueError("title longer than 150 characters")
        if self.category not in set(Category):
            close = difflib.get_close_matches(self.category, [str(c) for c in Category], 1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(Category)})"
            raise ValueError(f"unknown category {self.category!r}{hint}")
        set_field = functools.partial(object.__setattr__, self)  # frozen: normalised once, here
        set_field("severity", member(Severity, self.severity, "severity"))
        set_field("scope", member(Scope, self.scope, "scope"))
        set_field("topologies", members(DeploymentKind, self.topologies, "topologies", "deployment kind"))
        set_field("roles", members(Role, self.roles, "roles", "role"))
        if isinstance(self.references, str) or not isinstance(self.references, Iterable):
            raise ValueError("references must be a tuple of URLs")
        set_field("references", tuple(self.references))
        problem = next((p for p in map(url_problem, self.references) if p), None)
        if problem:
            raise ValueError(problem)
        if isinstance(self.needs, str) or not isinstance(self.needs, Iterable) or \
                not all(isinstance(n, str) and n for n in self.needs):
            raise ValueError(f"needs must be a tuple of fact names, not {self.needs!r}")
        set_field("needs", tuple(self.needs))
        if not isinstance(self.version, int) or isinstance(self.version, bool) or self.version < 1:
            raise ValueError(f"version must be a positive integer, not {self.version!r}")

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

    @property
    def label(self) -> str:
        """The id and the function that implements it, for messages."""
        return f"{self.id} ({function_name(self.function)})"


@dataclass
class CheckPack:
    """A named collection of checks, exported through the redis_audit.checks entry point."""

    name: str
    checks: list[Check] = field(default_factory=list)
    extensions: list[Extension] = field(default_factory=list)

    def check(self, **meta: Any) -> Callable[[Callable[..., Iterable[Finding]]], Callable[..., Iterable[Finding]]]:
        """Register a function as a check; keyword arguments are CheckMeta fields. A definition that breaks
        the API (CheckMeta's rules, the function's parameters for its scope) is refused here, at import."""

        def register(function: Callable[..., Iterable[Finding]]) -> Callable[..., Iterable[Finding]]:
            parsed = self._meta(meta, function)
            problem = signature_problem(function, parsed.scope)
            if problem is None and any(c.id == parsed.id for c in self.checks):
                problem = "defined twice in this pack"
            if problem is not None:
                raise CheckDefinitionError(parsed.id, problem).in_pack(self.name, function)
            self.checks.append(Check(parsed, function, self.name))
            return function

        return register

    def _meta(self, meta: dict[str, Any], function: Callable[..., Any]) -> CheckMeta:
        check = meta["id"] if valid_id(meta.get("id")) else repr(meta.get("id"))
        fields = {f.name for f in dataclasses.fields(CheckMeta)}
        unknown = sorted(set(meta) - fields)
        missing = sorted(f.name for f in dataclasses.fields(CheckMeta)
                         if f.default is dataclasses.MISSING and f.name not in meta)
        reasons = ([f"unknown metadata {', '.join(unknown)}"] if unknown else []) + \
            ([f"missing metadata {', '.join(missing)}"] if missing else [])
        if reasons:
            raise CheckDefinitionError(check, "; ".join(reasons)).in_pack(self.name, function)
        try:
            return CheckMeta(**meta)
        except CheckDefinitionError as exc:
            raise exc.in_pack(self.name, function) from None

    def extend(
        self,
        check_id: str,
        *,
        applies: Callable[[Snapshot], bool],
        scope: Scope = Scope.DEPLOYMENT,
        roles: frozenset[Role] = DATA_ROLES,
    ) -> Callable[[Callable[..., Iterable[Finding]]], Callable[..., Iterable[Finding]]]:
        """Register another evaluator for a check defined here or in another pack (see Extension). Its id,
        scope, roles and parameters are checked here; an id no loaded pack defines, by the registry."""

        def register(function: Callable[..., Iterable[Finding]]) -> Callable[..., Iterable[Finding]]:
            label = check_id if valid_id(check_id) else repr(check_id)
            try:
                if not valid_id(check_id):
                    raise ValueError(f"extends {check_id!r}: {ID_RULE}")
                parsed_scope = member(Scope, scope, "scope")
                parsed_roles = members(Role, roles, "roles", "role")
                if not callable(applies):
                    raise ValueError(f"applies is a {type(applies).__name__}, not a function of the snapshot")
                problem = signature_problem(function, parsed_scope)
                if problem is not None:
                    raise ValueError(problem)
            except ValueError as exc:
                raise CheckDefinitionError(f"extension of {label}", str(exc)).in_pack(self.name, function) from None
            self.extensions.append(Extension(check_id, function, parsed_scope, parsed_roles, applies, self.name))
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

    def graded(self, resource: NodeSnapshot | str, measured: int, *, warn: Limit | None = None,
               fail: Limit | None = None, message: str | Mapping[Status, str], observed: JsonValue = None,
               expected: JsonValue = None, declared: JsonValue = None, **more: JsonValue) -> Finding:
        """`measured` against the limits (grading.py): FAIL outside `fail`, else WARN outside `warn`, else PASS.

        `message` is one text, or one per status. `observed` defaults to the measure and `expected` to the
        limit a PASS stays within, so every status states the same expectation in the same unit. `declared`
        (when given) is what the profile declares beside what was observed, e.g. a pool size against the
        connections seen."""
        status = grade(measured, warn, fail)
        text = message if isinstance(message, str) else message[status]
        if declared is not None:
            more = {"declared": declared, **more}
        return self._finding(status, resource, text, measured if observed is None else observed,
                             str(passing_limit(warn, fail)) if expected is None else expected, more)

    @property
    def deployment(self) -> str:
        return DEPLOYMENT
