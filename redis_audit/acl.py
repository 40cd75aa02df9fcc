"""The least-privilege ACL rule for the auditor user, derived from what the engine sends."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from redis_audit.collect.base import Declared
from redis_audit.guard import DATA_NODE_READ_COMMANDS, SENTINEL_READ_COMMANDS, acl_rule_tokens
from redis_audit.topology import DATA_ROLES, Role


def auditor_acl_rule(version: tuple[int, int] = (7, 0), *, sentinel: bool = False) -> list[str]:
    """ACL SETUSER tokens (without the user name, 'on' or password) for a read-only auditor.

    Data nodes also get read access to keys (TTL, TYPE and MEMORY USAGE need it for the
    keyspace census); '%R~*' keeps it read-only on 7.0+, while 6.x only knows '~*'.
    """
    commands = SENTINEL_READ_COMMANDS if sentinel else DATA_NODE_READ_COMMANDS
    tokens = acl_rule_tokens(commands, version)
    return tokens if sentinel else _with_key_reads(tokens, version)


def _with_key_reads(tokens: list[str], version: tuple[int, int]) -> list[str]:
    """Read access to keys instead of none: '%R~*' on 7.0+ (read-only), '~*' on 6.x."""
    key_rule = "%R~*" if version >= (7, 0) else "~*"
    return [t if t != "resetkeys" else key_rule for t in tokens]


# Sent on every connection (the client names itself); AUTH and HELLO need no grant.
CONNECTION_COMMANDS = ("client|setname", "client|setinfo", "ping")
# What discovery (discovery.py, not a collector) sends to find every node.
DATA_DISCOVERY_COMMANDS = ("info", "cluster|shards", "cluster|nodes")
SENTINEL_DISCOVERY_COMMANDS = ("info", "sentinel|master", "sentinel|masters", "sentinel|replicas",
                               "sentinel|sentinels", "sentinel|myid")
# Commands that read keys: they need a key pattern, read-only where the server knows '%R~'.
KEY_COMMANDS = frozenset({"ttl", "pttl", "type", "exists", "object|encoding", "object|refcount", "strlen", "zcard",
                          "hlen", "scard", "llen", "xlen", "memory|usage"})


@dataclass(frozen=True)
class Suggestion:
    """What the registered checks need from the auditor, per kind of node."""

    tokens: list[str]
    commands: list[str]
    facts: list[str]
    unprovided: list[str]  # facts a check needs that no collector declares


def needed_commands(needs: Iterable[str], collectors: Sequence[Declared], *, sentinel: bool) -> tuple[set[str],
                                                                                                   set[str]]:
    """(commands the collectors providing `needs` send to this kind of node, facts nobody provides)."""
    wanted = set(needs)
    commands = {*CONNECTION_COMMANDS, *(SENTINEL_DISCOVERY_COMMANDS if sentinel else DATA_DISCOVERY_COMMANDS)}
    provided: set[str] = set()
    for collector in collectors:
        runs_here = Role.SENTINEL in collector.roles if sentinel else bool(collector.roles & DATA_ROLES)
        provided |= set(collector.provides)
        if runs_here and wanted & set(collector.provides):
            commands |= set(collector.commands)
    return commands, wanted - provided


def suggest_rule(needs: Iterable[str], collectors: Sequence[Declared], version: tuple[int, int], *,
                 sentinel: bool = False) -> Suggestion:
    """The least-privilege ACL tokens for the facts `needs`, derived from the collectors' declarations.

    Only commands on the read-only allowlist for this kind of node and version are granted.
    """
    needs = sorted(set(needs))
    names, unprovided = needed_commands(needs, collectors, sentinel=sentinel)
    group = SENTINEL_READ_COMMANDS if sentinel else DATA_NODE_READ_COMMANDS
    chosen = [c for c in group if c.name in names]
    tokens = acl_rule_tokens(chosen, version)
    if not sentinel and names & KEY_COMMANDS:
        tokens = _with_key_reads(tokens, version)
    granted = sorted(c.name for c in chosen if c.for_acl and version >= c.since)
    return Suggestion(tokens, granted, needs, sorted(unprovided))
