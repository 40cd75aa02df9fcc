"""HA-006: the primary's write rate into the replication stream, measured over a short window."""

from __future__ import annotations

import time

from redis_audit.collect.base import CollectContext, NodeSession, classify_error
from redis_audit.facts.parse import parse_info
from redis_audit.facts.values import as_int
from redis_audit.jsonvalue import JsonObject
from redis_audit.snapshot import Fact
from redis_audit.topology import Role


def _sample(session: NodeSession) -> dict[str, str]:
    replication = parse_info(str(session.call("INFO", "replication"))).get("replication", {})
    stats = parse_info(str(session.call("INFO", "stats"))).get("stats", {})
    return {**replication, **stats}


class ReplicationRateCollector:
    """master_repl_offset and sync counters twice, ha.write_rate_sample_ms apart, on each primary."""

    name = "replication.rate"
    roles = frozenset({Role.PRIMARY})
    commands: tuple[str, ...] = ("info",)
    provides: tuple[str, ...] = ("replication.rate",)

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        has_replicas = any(n.role is Role.REPLICA for n in ctx.topology.nodes)
        return session.node.role is Role.PRIMARY and has_replicas

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        try:
            before = _sample(session)
            started = time.monotonic()
            # Never spend more than a quarter of what is left of the run waiting.
            time.sleep(max(0.0, min(ctx.profile.ha.write_rate_sample_ms / 1000, session.deadline.remaining() / 4)))
            after = _sample(session)
            elapsed_ms = max(1, int((time.monotonic() - started) * 1000))
        except Exception as exc:
            return {self.name: Fact(error=classify_error(exc, "info"))}
        written = max(0, as_int(after.get("master_repl_offset")) - as_int(before.get("master_repl_offset")))
        value: JsonObject = {
            "elapsedMs": elapsed_ms,
            "offsetDelta": written,
            "bytesPerSecond": written * 1000 // elapsed_ms,
            "backlogBytes": as_int(after.get("repl_backlog_size")),
            "syncFullBefore": as_int(before.get("sync_full")),
            "syncFullAfter": as_int(after.get("sync_full")),
            "syncPartialOk": as_int(after.get("sync_partial_ok")),
            "syncPartialErr": as_int(after.get("sync_partial_err")),
        }
        return {self.name: Fact(value=value)}
