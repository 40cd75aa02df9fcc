"""CLU-006: the hash slots of sampled limiter keys, from a bounded SCAN and CLUSTER KEYSLOT."""

from __future__ import annotations

from typing import Any

from redis_audit.collect.base import CollectContext, NodeSession
from redis_audit.jsonvalue import JsonObject
from redis_audit.snapshot import Fact
from redis_audit.topology import DeploymentKind, Role

SCAN_COUNT = 200
MAX_SCAN_CALLS = 50  # per prefix and node: the sample stays bounded on a huge keyspace


def scan_prefix(session: NodeSession, prefix: str, limit: int) -> tuple[list[str], bool]:
    """Up to `limit` keys matching prefix*; True when the SCAN went through the whole keyspace."""
    keys: list[str] = []
    cursor = "0"
    for _ in range(MAX_SCAN_CALLS):
        reply: Any = session.call("SCAN", cursor, "MATCH", f"{_escape(prefix)}*", "COUNT", str(SCAN_COUNT))
        cursor = str(reply[0])
        keys.extend(str(k) for k in reply[1])
        if len(keys) >= limit:
            return keys[:limit], False
        if cursor == "0":
            return keys, True
    return keys, False


def _escape(prefix: str) -> str:
    """A literal prefix inside a glob pattern."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in prefix)


class LimiterKeySampler:
    """On each cluster primary: sample the limiter's keys, and ask the server which slot each hashes to."""

    name = "cluster.keyslots"
    roles = frozenset({Role.PRIMARY})
    commands: tuple[str, ...] = ("scan", "cluster|keyslot")
    provides: tuple[str, ...] = ("cluster.keyslots",)

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        return (ctx.topology.kind is DeploymentKind.CLUSTER and session.node.role is Role.PRIMARY
                and bool(ctx.profile.application.key_prefixes))

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        limit = ctx.profile.cluster.key_sample_limit
        slots: JsonObject = {}
        complete = True
        for prefix in ctx.profile.application.key_prefixes:
            keys, whole = scan_prefix(session, prefix, max(0, limit - len(slots)))
            complete = complete and whole
            for key in keys:
                slots[key] = int(session.call("CLUSTER", "KEYSLOT", key))
        value: JsonObject = {"prefixes": list(ctx.profile.application.key_prefixes), "complete": complete,
                             "slots": slots}
        return {self.name: Fact(value=value)}
