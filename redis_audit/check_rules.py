"""What a check definition must be, checked when it registers (check.py's CheckMeta and CheckPack), as
pluggy checks a hook implementation against its spec: the catalogue's id pattern, closed sets for the
category and every enum field, http(s) references, and the function's parameters for its scope.
Every refusal is a one-line CheckDefinitionError naming the check."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

# The catalogue's ids (checks.md: NET-001, SECRET-002); a third-party check outside the catalogue takes
# its own namespace after "X-" (X-ACME-001), so it never takes an id the catalogue may give later.
CATALOGUE_ID = re.compile(r"^[A-Z]{2,6}-[0-9]{3}$")
THIRD_PARTY_ID = re.compile(r"^X-[A-Z][A-Z0-9]{1,15}-[0-9]{3}$")
ID_RULE = "the id must be a catalogue id like 'MEM-001' (2-6 capitals, 3 digits) or a third-party id like 'X-ACME-001'"


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


def member(kind: type[StrEnum], value: object, what: str) -> Any:
    try:
        if not isinstance(value, str):  # every member is its own value, a str
            raise ValueError(value)
        return kind(value)
    except ValueError:
        raise ValueError(f"unknown {what} {value!r} (known: {', '.join(str(m) for m in kind)})") from None


def members(kind: type[StrEnum], values: object, what: str, one: str) -> frozenset[Any]:
    """A set of enum members from members or their values; a one-line reason for anything else."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValueError(f"{what} must be a set of {kind.__name__} values, not {values!r}")
    members = {member(kind, value, one) for value in values}
    if not members:
        raise ValueError(f"{what} is empty: the check would never run")
    return frozenset(members)


def valid_id(check_id: object) -> bool:
    return isinstance(check_id, str) and bool(CATALOGUE_ID.match(check_id) or THIRD_PARTY_ID.match(check_id))


def url_problem(reference: object) -> str | None:
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
