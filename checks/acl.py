"""ACL: the rate limiter's own user can do what the limiter needs, and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from redis_audit.check import CheckContext
from redis_audit.facts.values import as_int
from redis_audit.jsonvalue import JsonObject, as_object, as_objects
from redis_audit.model import Finding, Severity
from redis_audit.snapshot import NodeSnapshot
from redis_audit.topology import Role
from redis_audit.wording import plural

from ._facts import acl_users, fact_or_none, optional
from .pack import PACK

# Rules that grant what ACL-001 forbids, when DRYRUN cannot be asked (before 7.0, or denied).
_ALL = ("+@all", "allcommands")
_REMOVALS = ("-@dangerous", "-@admin")
_DANGEROUS_GRANTS = ("+@dangerous", "+@admin", "+config", "+flushall", "+flushdb", "+keys", "+debug",
                     "+shutdown", "+replicaof", "+slaveof", "+module", "+script|flush", "+script")


def _skip_without_app(ctx: CheckContext, node: NodeSnapshot) -> Finding | None:
    if ctx.profile.application.user:
        return None
    return ctx.skipped(node, "no application user is named in the profile ([application] user = \"...\")")


def static_grants(commands: str) -> list[str]:
    """The dangerous grants in an ACL command rule (GETUSER 'commands' or ACL LIST tokens)."""
    tokens = commands.split()
    found = [t for t in tokens if t.lower() in _DANGEROUS_GRANTS]
    if any(t in _ALL for t in tokens) and not any(t in _REMOVALS for t in tokens):
        found.insert(0, "+@all without -@dangerous/-@admin")
    return found


@PACK.check(
    id="ACL-001",
    title="The limiter's application user cannot run admin or dangerous commands",
    severity=Severity.HIGH,
    category="acl",
    verifies="ACL DRYRUN <application.user> answers 'no permissions' for CONFIG GET/SET, FLUSHALL, FLUSHDB, "
    "KEYS *, DEBUG SLEEP 0, SCRIPT FLUSH, SHUTDOWN, REPLICAOF, MODULE LIST, ACL SETUSER, CLIENT KILL, BGSAVE "
    "and MONITOR (DRYRUN evaluates the rules and executes nothing). Before 7.0, or where DRYRUN is denied, "
    "the user's rules (ACL GETUSER/LIST) are read statically: +@all without -@dangerous/-@admin fails.",
    risk="An application credential that can FLUSHALL, CONFIG SET or SHUTDOWN turns any bug or leak in the "
    "application into an outage or a takeover of the server.",
    remediation="Give the limiter an allowlist: ACL SETUSER app resetkeys ~rl:* resetchannels -@all +evalsha "
    "+eval +get +incr +pexpire +zadd +zremrangebyscore +zcard ... (or at least +@all -@dangerous -@admin).",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/",),
    needs=("acl.dryrun", "acl.users", "acl.list"),
)
def app_least_privilege(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    skip = _skip_without_app(ctx, node)
    if skip:
        yield skip
        return
    name = ctx.profile.application.user
    dryrun = fact_or_none(node, "acl.dryrun")
    if isinstance(dryrun, dict):
        if not dryrun.get("exists"):
            yield ctx.failed(node, f"the application user {name!r} does not exist on this node",
                             observed={"user": name, "exists": False}, expected={"exists": True})
            return
        results = as_objects(dryrun.get("commands"))
        allowed = [str(r.get("command")) for r in results if r.get("allowed")]
        observed: JsonObject = {"user": name, "method": "ACL DRYRUN", "probed": len(results), "allowed": allowed,
                                "replies": {str(r.get("command")): str(r.get("reply")) for r in results}}
        if allowed:
            yield ctx.failed(node, f"{name} may run {', '.join(allowed)}", observed=observed,
                             expected={"allowed": []})
        else:
            yield ctx.passed(node, f"{name} is denied all {plural(len(results), 'dangerous command')} probed",
                             observed=observed, expected={"allowed": []})
        return
    users = acl_users(node)  # DRYRUN unavailable: judge the rules; raises (SKIP) when those are unreadable too
    missing = node.facts.get("acl.dryrun")
    why = missing.error.describe() if missing is not None and missing.error is not None else "not collected"
    user = users.get(name)
    if user is None:
        yield ctx.failed(node, f"the application user {name!r} does not exist on this node",
                         observed={"user": name, "exists": False, "users": sorted(users)})
        return
    commands = str(user.get("commands", ""))
    grants = static_grants(commands)
    observed = {"user": name, "method": "static rules (ACL DRYRUN unavailable)", "dryrun": why,
                "commands": commands, "dangerousGrants": grants}
    if grants:
        yield ctx.failed(node, f"{name}'s rules grant {', '.join(grants)}", observed=observed,
                         expected={"dangerousGrants": []})
    else:
        yield ctx.passed(node, f"{name}'s rules grant no dangerous command", observed=observed)


def key_patterns(user: dict[str, Any]) -> list[str]:
    """The user's key patterns without their '~'/'%R~' markers ('*' means every key)."""
    raw = user.get("keys", "")
    tokens = [str(t) for t in raw] if isinstance(raw, list) else str(raw).split()
    patterns = []
    for token in tokens:
        if token == "allkeys":
            patterns.append("*")
        elif "~" in token:
            patterns.append(token.split("~", 1)[1])
        elif token:
            patterns.append(token)  # 6.2 lists bare patterns
    for selector in as_objects(user.get("selectors")):
        patterns.extend(key_patterns(selector))
    return patterns


def channel_patterns(user: dict[str, Any]) -> list[str]:
    raw = user.get("channels", "")
    tokens = [str(t) for t in raw] if isinstance(raw, list) else str(raw).split()
    return ["*" if t == "allchannels" else t.lstrip("&") for t in tokens if t]


# Command grants that start from everything, or that write/delete any key they may touch.
_BROAD_GRANTS = ("+@all", "allcommands", "+@write", "+@keyspace", "+@dangerous")


def _no_least_privilege(rule: dict[str, Any]) -> list[str]:
    """Why one rule (the user's root rule or a selector) grants writes to every key with broad commands."""
    raw = rule.get("keys", "")
    tokens = [str(t) for t in raw] if isinstance(raw, list) else str(raw).split()
    # '~*', 'allkeys', '%RW~*' and '%W~*' write every key; '%R~*' only reads them (a WARN, below).
    writes_all = any(t in ("~*", "allkeys", "*") or (t.startswith("%") and "W" in t.split("~", 1)[0].upper()
                                                     and t.endswith("~*")) for t in tokens)
    commands = str(rule.get("commands", "")).split()
    broad = [t for t in commands if t.lower() in _BROAD_GRANTS]
    return [f"every key with {' '.join(broad)}"] if writes_all and broad else []


def no_least_privilege(user: dict[str, Any]) -> list[str]:
    """The rules (root, then selectors) that leave the user no least privilege at all."""
    found = _no_least_privilege(user)
    for index, selector in enumerate(as_objects(user.get("selectors"))):
        found += [f"selector {index + 1}: {why}" for why in _no_least_privilege(selector)]
    return found


@PACK.check(
    id="ACL-002",
    title="The application user's keys are limited to the limiter's prefixes, and its channels reset",
    severity=Severity.HIGH,
    category="acl",
    verifies="Every key pattern of application.user (ACL GETUSER keys and selectors) starts with one of "
    "application.key_prefixes, no pattern is '*', no channel is allowed ('&*'), and acl-pubsub-default is "
    "resetchannels; ACL DRYRUN of GET/SET on a key outside the prefixes is denied. Wide scopes WARN; writable "
    "access to every key (~*, allkeys, %RW~*) together with commands that start from everything or write any key "
    "(+@all/allcommands, even minus @dangerous, +@write, +@keyspace) FAILs: that is no least privilege at all.",
    version=2,
    risk="A limiter user that reaches every key can read or destroy other tenants' data, and a leaked limiter "
    "secret exposes the whole keyspace.",
    remediation="ACL SETUSER app resetkeys ~rl:* ~rlz:* resetchannels; CONFIG SET acl-pubsub-default "
    "resetchannels (the 7.0 default).",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/",),
    needs=("acl.users", "acl.list", "acl.dryrun", "config"),
)
def app_key_scope(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    skip = _skip_without_app(ctx, node)
    if skip:
        yield skip
        return
    name = ctx.profile.application.user
    prefixes = ctx.profile.application.key_prefixes
    user = acl_users(node).get(name)
    if user is None:
        yield ctx.failed(node, f"the application user {name!r} does not exist on this node",
                         observed={"user": name, "exists": False})
        return
    keys = key_patterns(user)
    channels = channel_patterns(user)
    pubsub_default = optional(lambda: node.config("acl-pubsub-default"))
    dryrun = as_object(fact_or_none(node, "acl.dryrun"))
    outside = [str(r.get("command")) for r in as_objects(dryrun.get("keys")) if r.get("allowed")]
    wide = [p for p in keys if p == "*" or (prefixes and not any(p.startswith(x) for x in prefixes))]
    problems = []
    if wide:
        problems.append(f"key patterns beyond the prefixes: {', '.join(wide)}")
    if outside:
        problems.append(f"DRYRUN allowed {', '.join(outside)} outside every prefix")
    if "*" in channels:
        problems.append("every pub/sub channel (&*)")
    if pubsub_default == "allchannels":
        problems.append("acl-pubsub-default allchannels")
    unlimited = no_least_privilege(user)
    observed: JsonObject = {"user": name, "keyPatterns": list(keys), "channels": list(channels),
                            "aclPubsubDefault": pubsub_default, "outsidePrefixAllowed": list(outside),
                            "commands": str(user.get("commands", "")), "noLeastPrivilege": list(unlimited)}
    expected: JsonObject = {"keyPrefixes": list(prefixes), "channels": [], "aclPubsubDefault": "resetchannels"}
    if unlimited:
        yield ctx.failed(node, f"no least privilege: {name} may write {'; '.join(unlimited)}",
                         observed=observed, expected=expected)
    elif problems:
        yield ctx.warned(node, "; ".join(problems), observed=observed, expected=expected)
    elif not prefixes:
        yield ctx.passed(node, f"{name} has no '*' key pattern (no application.key_prefixes to compare with)",
                         observed=observed)
    else:
        yield ctx.passed(node, f"{name}'s keys are limited to {', '.join(prefixes)}", observed=observed,
                         expected=expected)


@PACK.check(
    id="ACL-003",
    title="Replication, Sentinel and the application use their own principals; ACLs are persisted",
    severity=Severity.MEDIUM,
    category="acl",
    verifies="aclfile is set; replicas authenticate with their own masteruser (not default, not +@all), and on "
    "a primary CLIENT LIST shows replica links (flag S) and Sentinel connections (name sentinel-*) under "
    "users other than default.",
    risk="When replication, Sentinel and the application share one (default) user, rotating one secret breaks "
    "all of them, and any one credential carries everyone's rights; ACLs kept only in memory vanish on restart.",
    remediation="Create a replication user (+psync +replconf +ping) set as masteruser/masterauth, the Sentinel "
    "user documented for Sentinel, and store users in an aclfile (ACL SAVE).",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/",),
    needs=("config", "clients.principals", "acl.users", "acl.list"),
)
def own_principals(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    aclfile = node.config("aclfile") or ""
    principals = as_object(fact_or_none(node, "clients.principals"))
    problems = []
    if not aclfile:
        problems.append("no aclfile: ACLs live in memory or redis.conf")
    masteruser = None
    if node.role is Role.REPLICA:
        masteruser = node.config("masteruser") or ""
        if not masteruser:
            problems.append("this replica authenticates to its primary as the default user (no masteruser)")
        else:
            rule = str(as_object(optional(lambda: acl_users(node)) or {}).get(masteruser, {}).get("commands", ""))
            if "+@all" in rule:
                problems.append(f"masteruser {masteruser} has +@all")
    for kind, key in (("replica links", "replicaUsers"), ("Sentinel connections", "sentinelUsers")):
        users = principals.get(key, [])
        if isinstance(users, list) and "default" in users:
            problems.append(f"{kind} use the default user")
    observed: JsonObject = {"aclfile": aclfile, "masteruser": masteruser,
                            "replicaLinkUsers": principals.get("replicaUsers"),
                            "sentinelUsers": principals.get("sentinelUsers")}
    if problems:
        yield ctx.warned(node, "; ".join(problems), observed=observed,
                         expected="aclfile set; replication and Sentinel under their own users")
    else:
        yield ctx.passed(node, "ACLs persisted in an aclfile; replication and Sentinel use their own users",
                         observed=observed)


_DENIALS = ("command", "key", "channel")


@PACK.check(
    id="ACL-004",
    title="The application is not being denied by its ACL",
    severity=Severity.MEDIUM,
    category="acl",
    verifies="ACL LOG holds no reason=command/key/channel entry for application.user; INFO stats "
    "acl_access_denied_cmd/_key/_channel are reported. Any denial WARNs (a proposal of the catalogue): a "
    "mis-scoped ACL shows up as application errors. Without application.user it SKIPs like ACL-001/002, but "
    "still WARNs about denials of any user other than the auditor's own.",
    version=2,
    risk="A limiter denied a command or key fails on every request it makes; depending on its error policy it "
    "fails open (no limits) or closed (an outage).",
    remediation="Read ACL LOG for the denied command/key, and grant it to the application user (or fix the "
    "application); alarm on acl_access_denied_* (CommandAuthorizationFailures on ElastiCache).",
    references=("https://redis.io/docs/latest/commands/acl-log/",),
    needs=("acl.log", "info"),
)
def app_not_denied(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    entries = as_objects(node.fact("acl.log"))
    app = ctx.profile.application.user
    auditor = ctx.snapshot.target.user or "default"
    denied = [e for e in entries if e.get("reason") in _DENIALS
              and (e.get("username") == app if app else e.get("username") != auditor)]
    counters = {k: node.info_int("stats", f"acl_access_denied_{k}") if node.has("info") else None
                for k in ("cmd", "key", "channel")}
    observed: JsonObject = {
        "user": app or f"any but {auditor}",
        "denials": sum(as_int(e.get("count"), 1) for e in denied),
        "entries": [{"reason": e.get("reason"), "object": e.get("object"), "username": e.get("username"),
                     "count": e.get("count")} for e in denied[:10]],
        "countersSinceStart": dict(counters),
    }
    if denied:
        objects = sorted({str(e.get("object")) for e in denied})
        yield ctx.warned(node, f"ACL denials for {observed['user']}: {', '.join(objects[:5])}", observed=observed,
                         expected={"denials": 0})
    elif not app:  # like ACL-001/002: nothing can be said about an application nobody named
        yield ctx.skipped(node, "no application user is named in the profile ([application] user = \"...\"); "
                          "no user but the auditor was denied either", denialCounters=observed)
    else:
        yield ctx.passed(node, "no ACL denial for the application in ACL LOG", observed=observed,
                         expected={"denials": 0})

