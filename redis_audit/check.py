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
import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from redis_audit.jsonvalue import JsonObject, JsonValue
from redis_audit.model import DEPLOYMENT, Finding, Severity, Status, evidence
from redis_audit.snapshot import NodeSnapshot, Snapshot
from redis_audit.topology import DATA_ROLES, DeploymentKind, Role

if TYPE_CHECKING:
    from redis_audit.profile import Profile

NOT_APPLICABLE = "notApplicable"  # the evidence key of a not-applicable SKIP
# The catalogue's ids (checks.md: NET-001, SECRET-002); a third-party check outside the catalogue takes
# its own namespace after "X-" (X-ACME-001), so it never takes an id the catalogue may give later.
CATALOGUE_ID = re.compile(r"^[A-Z]{2,6}-[0-9]{3}$")
THIRD_PARTY_ID = re.compile(r"^X-[A-Z][A-Z0-9]{1,15}-[0-9]{3}$")
ID_RULE = "the id must be a catalogue id like 'MEM-001' (2-6 capitals, 3 digits) or a third-party id like 'X-ACME-001'"
ALL_KINDS = frozenset(DeploymentKind)


class Scope(StrEnum):
    NODE = "node"
    DEPLOYMENT = "deployment"


class Category(StrEnum):
    """The catalogue's headings (checks.md), plus the audit's own health."""

    NETWORK = "network"
    TLS = "tls"
    AUTHENTICATION = "authentication"
    ACL = "acl"
    HARDENING = "hardening"
    SECRETS = "secrets"
    ENCRYPTION = "encryption"
    AVAILABILITY = "availability"  # HA, and the failover probe's FO
    SENTINEL = "sentinel"
    CLUSTER = "cluster"
    MEMORY = "memory"
    LIMITER = "limiter"
    LATENCY = "latency"
    CLIENT = "client"
    PERSISTENCE = "persistence"
    HOST = "host"
    MONITORING = "monitoring"
    AUDIT = "audit"


# What the judge passes a check's function, by scope (judge._evaluate).
PARAMETERS = {Scope.NODE: ("ctx", "node"), Scope.DEPLOYMENT: ("ctx",)}


class CheckDefinitionError(ValueError):
    """A check (or extension) that breaks the check API, refused when it registers: at the pack's import,
    never as an ERROR on every node at judge time. `check` names it (id, and function when known)."""

    def __init__(self, check: str, reason: str, pack: str | None = None) -> None:
        super().__init__(f"check pack {pack!r}: {check}: {reason}" if pack else f"{check}: {reason}")
        self.check, self.reason, self.pack = check, reason, pack

    def in_pack(self, pack: str, function: Callable[..., Any] | None = None) -> CheckDefinitionError:
        check = f"{self.check} ({function_name(function)})" if function is not None else self.check
        return CheckDefinitionError(check, self.reason, pack)


def function_name(function: Callable[..., Any]) -> str:
    return str(getattr(function, "__qualname__", None) or getattr(function, "__name__", None) or repr(function))


def _member(kind: type[StrEnum], value: object, what: str) -> Any:
    try:
        if not isinstance(value, str):  # every member is its own value, a str
            raise ValueError(value)
        return kind(value)
    except ValueError:
        raise ValueError(f"unknown {what} {value!r} (known: {', '.join(str(m) for m in kind)})") from None


def _members(kind: type[StrEnum], values: object, what: str, one: str) -> frozenset[Any]:
    """A set of enum members from members or their values; a one-line reason for anything else."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValueError(f"{what} must be a set of {kind.__name__} values, not {values!r}")
    members = {_member(kind, value, one) for value in values}
    if not members:
        raise ValueError(f"{what} is empty: the check would never run")
    return frozenset(members)


def valid_id(check_id: object) -> bool:
    return isinstance(check_id, str) and bool(CATALOGUE_ID.match(check_id) or THIRD_PARTY_ID.match(check_id))


def _url_problem(reference: object) -> str | None:
    if not isinstance(reference, str):
        return f"reference {reference!r} is not a string"
    parts = urlsplit(reference)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in reference):
        return f"reference {reference!r} is not a well-formed http(s) URL"
    return None


def signature_problem(function: object, scope: Scope) -> str | None:
    """Why the judge could not call `function` for a check of this scope, or None (as pluggy checks a hook
    implementation against its spec: the parameter names and their count)."""
    wanted = PARAMETERS[scope]
    expected = f"a {scope}-scoped check is called as ({', '.join(wanted)})"
    if not callable(function):
        return f"is a {type(function).__name__}, not a function: {expected}"
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return f"has no signature to check: {expected}"
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if tuple(p.name for p in parameters) == wanted and all(p.kind in positional for p in parameters):
        return None
    return f"takes ({', '.join(map(_shown, parameters))}), but {expected}"


def _shown(parameter: inspect.Parameter) -> str:
    if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
        return f"*{parameter.name}"
    if parameter.kind is inspect.Parameter.VAR_KEYWORD:
        return f"**{parameter.name}"
    return f"*, {parameter.name}" if parameter.kind is inspect.Parameter.KEYWORD_ONLY else parameter.name


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
        set_field("severity", _member(Severity, self.severity, "severity"))
        set_field("scope", _member(Scope, self.scope, "scope"))
        set_field("topologies", _members(DeploymentKind, self.topologies, "topologies", "deployment kind"))
        set_field("roles", _members(Role, self.roles, "roles", "role"))
        if isinstance(self.references, str) or not isinstance(self.references, Iterable):
            raise ValueError("references must be a tuple of URLs")
        set_field("references", tuple(self.references))
        problem = next((p for p in map(_url_problem, self.references) if p), None)
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
                parsed_scope = _member(Scope, scope, "scope")
                parsed_roles = _members(Role, roles, "roles", "role")
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

    @property
    def deployment(self) -> str:
        return DEPLOYMENT
