"""AUTH and NET: nobody reaches the data without credentials."""

from __future__ import annotations

from collections.abc import Iterator

from redis_audit.check import CheckContext
from redis_audit.model import Finding, Severity
from redis_audit.snapshot import NodeSnapshot
from redis_audit.topology import Role

from ._facts import acl_users, flags_of
from .pack import PACK

ALL_ROLES = frozenset(Role)


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
def no_passwordless_user(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
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
def unauthenticated_refused(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    probe = node.fact("probe.unauthenticated")
    result = probe if isinstance(probe, dict) else {}
    reply = str(result.get("reply"))
    if result.get("accepted"):
        yield ctx.failed(node, f"an unauthenticated PING was answered: {reply}", observed=reply,
                         expected="NOAUTH or connection refused")
    else:
        yield ctx.passed(node, "unauthenticated PING was refused", observed=reply,
                         expected="NOAUTH or connection refused")
