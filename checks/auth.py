"""AUTH and NET: nobody reaches the data without credentials."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from redis_audit.check import CheckContext, Scope
from redis_audit.facts.values import as_int
from redis_audit.jsonvalue import JsonObject, as_object, as_objects
from redis_audit.model import Finding, Severity
from redis_audit.snapshot import NO_PASSWORD, NodeSnapshot
from redis_audit.topology import DeploymentKind, Role
from redis_audit.wording import plural

from ._facts import acl_users, fact_or_none, flags_of, optional, unless_required
from .pack import PACK

ALL_ROLES = frozenset(Role)


def open_evidence(node: NodeSnapshot) -> JsonObject:
    found = fact_or_none(node, NO_PASSWORD)
    return dict(as_object(found))


def needs_no_password(node: NodeSnapshot) -> str | None:
    """Why the node is open to anyone, when the audit's own credentials showed it (collect.base.open_session)."""
    found = open_evidence(node)
    if not found:
        return None
    return (f"the server needs no password: it refused the audit's credentials ({found.get('credentialsRefused')}) "
            f"and answered {found.get('unauthenticatedPing')} to a client that sent none; it was audited "
            "unauthenticated")


@PACK.check(
    id="AUTH-001",
    title="No user is nopass, and the default user is off or password-protected",
    severity=Severity.CRITICAL,
    category="authentication",
    verifies="ACL GETUSER (or ACL LIST) shows no user with the nopass flag; the default user is off, "
    "or on with a password and without +@all.",
    risk="A nopass user authenticates every new connection automatically: anyone who reaches the port "
    "reads and writes every key.",
    remediation="ACL SETUSER default off (or resetpass >long-random-password), give every application its "
    "own user with a password, and persist the ACLs in an aclfile.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/",),
    needs=("acl.users", "acl.list"),
)
@unless_required("require_auth")
def no_passwordless_user(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    open_server = needs_no_password(node)
    if open_server is not None:
        known = optional(lambda: acl_users(node)) or {}
        nopass = sorted(n for n, u in known.items() if "nopass" in flags_of(u) and "on" in flags_of(u))
        yield ctx.failed(node, open_server, observed={"nopassUsers": nopass or ["default"], **open_evidence(node)},
                         expected={"nopassUsers": [], "credentialsAccepted": True})
        return
    users = acl_users(node)
    nopass = sorted(name for name, user in users.items() if "nopass" in flags_of(user) and "on" in flags_of(user))
    default = users.get("default", {})
    default_flags = flags_of(default)
    observed = {"nopassUsers": nopass, "defaultUser": "off" if "off" in default_flags else "on"}
    if nopass:
        yield ctx.failed(node, f"users without a password: {', '.join(nopass)}", observed=observed,
                         expected={"nopassUsers": []})
    elif "on" in default_flags and "+@all" in str(default.get("commands", "")):
        yield ctx.warned(node, "the default user is on with a password and +@all", observed=observed,
                         expected="default user off, or without +@all")
    else:
        yield ctx.passed(node, "no nopass user; default user off or protected", observed=observed)


@PACK.check(
    id="NET-002",
    title="Unauthenticated connections are refused",
    severity=Severity.CRITICAL,
    category="network",
    verifies="A connection that never authenticates gets NOAUTH (or nothing) in reply to PING, on every "
    "data node and Sentinel.",
    risk="If PING answers PONG without AUTH, every client that reaches the port has full access.",
    remediation="Disable the default user or give it a password (ACL SETUSER default off), on data nodes "
    "and Sentinels alike.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/security/",),
    needs=("probe.unauthenticated",),
    roles=ALL_ROLES,
)
@unless_required("require_auth")
def unauthenticated_refused(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    open_server = needs_no_password(node)
    if open_server is not None:
        yield ctx.failed(node, open_server, observed=open_evidence(node), expected="NOAUTH or connection refused")
        return
    probe = node.fact("probe.unauthenticated")
    result = as_object(probe)
    reply = str(result.get("reply"))
    if result.get("accepted"):
        yield ctx.failed(node, f"an unauthenticated PING was answered: {reply}", observed=reply,
                         expected="NOAUTH or connection refused")
    else:
        yield ctx.passed(node, "unauthenticated PING was refused", observed=reply,
                         expected="NOAUTH or connection refused")


_WILDCARDS = frozenset({"*", "0.0.0.0", "::", "::*", "-*"})


def _bind_exposure(bind: str) -> tuple[bool, list[str]]:
    """(binds every interface, the public addresses it binds)."""
    addresses = [a.lstrip("-") for a in bind.split()]
    if not addresses or any(a in _WILDCARDS for a in addresses):
        return True, []
    public = []
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address)
            if not (ip.is_private or ip.is_loopback):
                public.append(address)
        except ValueError:
            public.append(address)  # a host name: cannot prove it is private
    return False, public


def _auth_enforced(node: NodeSnapshot) -> bool | None:
    """True when no user is nopass (ACL) or unauthenticated PING was refused; None when unknown."""
    users = optional(lambda: acl_users(node))
    if users:
        return not any("nopass" in flags_of(u) and "on" in flags_of(u) for u in users.values())
    probe = fact_or_none(node, "probe.unauthenticated")
    if isinstance(probe, dict):
        return not probe.get("accepted")
    return None


@PACK.check(
    id="NET-001",
    title="Protected mode is on and the server binds only private interfaces",
    severity=Severity.HIGH,
    category="network",
    verifies="CONFIG GET protected-mode is yes and bind lists only private or loopback addresses. Binding every "
    "interface (or a public address) WARNs when authentication is enforced and FAILs with protected-mode no "
    "and a nopass user.",
    risk="A server bound to every interface with protected mode off and a nopass default user is open to "
    "anyone who can route to it: the classic exposed-Redis compromise (CONFIG SET dir, then write files).",
    remediation="protected-mode yes; bind the private interface(s) only (bind 10.0.0.5 -::1); keep auth on.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/security/",),
    needs=("config", "acl.users", "acl.list", "probe.unauthenticated"),
)
def protected_and_bound(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    protected = node.config("protected-mode")
    bind = node.config("bind") or ""
    every, public = _bind_exposure(bind)
    auth = _auth_enforced(node)
    observed = {"protectedMode": protected, "bind": bind, "bindsEveryInterface": every, "publicAddresses": public,
                "authEnforced": auth}
    expected = {"protectedMode": "yes", "bind": "private or loopback addresses only"}
    exposed = every or bool(public)
    if exposed and protected != "yes" and auth is False:
        yield ctx.failed(node, "protected-mode is off, the server binds beyond private interfaces, and a nopass "
                         "user lets anyone in", observed=observed, expected=expected)
    elif exposed:
        why = "every interface" if every else f"public addresses {', '.join(public)}"
        yield ctx.warned(node, f"the server binds {why}" + ("" if auth else " and authentication is not proven"),
                         observed=observed, expected=expected)
    elif protected != "yes":
        yield ctx.warned(node, "protected-mode is off (bind is private, so this is defence in depth)",
                         observed=observed, expected=expected)
    else:
        yield ctx.passed(node, f"protected-mode yes; bind {bind}", observed=observed, expected=expected)


def _age_seconds(entry: dict[str, Any]) -> float:
    try:
        return float(str(entry.get("age-seconds", "0")))
    except ValueError:
        return 0.0


@PACK.check(
    id="AUTH-003",
    title="Authentication failures are visible and currently near zero",
    severity=Severity.MEDIUM,
    category="authentication",
    verifies="ACL LOG holds no reason=auth entry younger than security.auth_failure_window_s (1 h); recent "
    "failures only from application.client_addresses WARN (a stale secret), from anywhere else FAIL "
    "(someone is guessing). INFO stats acl_access_denied_auth is reported as the count since start. The window "
    "is a profile setting: the catalogue asks for 'new' failures and a snapshot has no earlier reading.",
    risk="Failed AUTHs are either an application with a stale secret (about to lose access at the next "
    "reconnect) or someone guessing passwords.",
    remediation="Find the source in ACL LOG (client address, username), rotate or fix the client's secret, and "
    "alarm on acl_access_denied_auth (CloudWatch AuthenticationFailures on ElastiCache).",
    references=("https://redis.io/docs/latest/commands/acl-log/",),
    needs=("acl.log", "info"),
    roles=ALL_ROLES,
)
def auth_failures(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    window = ctx.profile.security.auth_failure_window_s
    entries = as_objects(node.fact("acl.log"))
    recent = [e for e in entries if e.get("reason") == "auth" and _age_seconds(e) <= window]
    since_start = optional(lambda: node.info_int("stats", "acl_access_denied_auth"))
    known = set(ctx.profile.application.client_addresses)
    sources = sorted({str(e.get("clientIp", "unknown")) for e in recent})
    failures = sum(as_int(e.get("count"), 1) for e in recent)
    observed: JsonObject = {"recentAuthFailures": failures, "windowSeconds": window, "sources": sources,
                "users": sorted({str(e.get("username")) for e in recent}), "sinceStart": since_start}
    unknown = [s for s in sources if s not in known]
    if not recent:
        yield ctx.passed(node, f"no authentication failure in the last {window} s", observed=observed, expected=0)
    elif unknown:
        yield ctx.failed(node, f"{failures} authentication failures from unknown sources {', '.join(unknown)}",
                         observed=observed, expected=0, knownSources=sorted(known))
    else:
        yield ctx.warned(node, f"{failures} authentication failures from application hosts: a stale secret?",
                         observed=observed, expected=0)


@PACK.check(
    id="AUTH-004",
    title="Sentinels require authentication, and share one ACL configuration",
    severity=Severity.HIGH,
    category="authentication",
    verifies="An unauthenticated SENTINEL MASTERS is refused (NOAUTH) by every Sentinel; the Sentinels' ACL "
    "rules (ACL LIST, passwords redacted) are identical.",
    risk="An open Sentinel tells anyone the topology and accepts SENTINEL SET/FAILOVER/RESET: one client can "
    "trigger failovers or repoint the deployment. Sentinels with different users break their own gossip.",
    remediation="Give every Sentinel the same users (user default off, an auditor and a peer user; "
    "sentinel sentinel-user/sentinel-pass) in its configuration file.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/",),
    topologies=frozenset({DeploymentKind.SENTINEL}),
    needs=("probe.sentinel_unauthenticated", "acl.list"),
    scope=Scope.DEPLOYMENT,
)
@unless_required("require_auth")
def sentinels_authenticate(ctx: CheckContext) -> Iterator[Finding]:
    rules: dict[str, list[str]] = {}
    for sentinel in sorted(ctx.snapshot.sentinel_nodes(), key=lambda n: n.address):
        probe = fact_or_none(sentinel, "probe.sentinel_unauthenticated")
        if not isinstance(probe, dict):
            yield ctx.skipped(sentinel, "the unauthenticated SENTINEL MASTERS probe did not run")
        elif probe.get("accepted"):
            yield ctx.failed(sentinel, "SENTINEL MASTERS was answered without authentication",
                             observed=probe.get("reply"), expected="NOAUTH")
        else:
            yield ctx.passed(sentinel, "unauthenticated SENTINEL MASTERS was refused", observed=probe.get("reply"),
                             expected="NOAUTH")
        listed = fact_or_none(sentinel, "acl.list")
        if isinstance(listed, list):
            rules[str(sentinel.address)] = sorted(_normalised_rule(str(r)) for r in listed)
    variants = {tuple(r) for r in rules.values()}
    if len(variants) > 1:
        yield ctx.warned(ctx.deployment, f"the {plural(len(rules), 'Sentinel')} have {len(variants)} different ACL "
                         "configurations", observed=dict(rules), expected="identical ACL LIST on every Sentinel")


def _normalised_rule(rule: str) -> str:
    """An ACL LIST line with its rule tokens sorted: Sentinels list the same rules in different orders."""
    tokens = rule.split()
    return " ".join(tokens[:2] + sorted(tokens[2:]))
