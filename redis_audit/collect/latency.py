"""Latency facts: the server's latency monitor and slow log, the clients connected to each node
(aggregated by name, no addresses), and a short latency probe from the audit host."""

from __future__ import annotations

import dataclasses
from typing import Any

from redis_audit.collect.base import CollectContext, Deadline, NodeSession
from redis_audit.guard import CONTAINER_COMMANDS
from redis_audit.jsonvalue import JsonValue
from redis_audit.snapshot import Fact, FactError, FactErrorKind
from redis_audit.topology import DATA_ROLES

SLOWLOG_ENTRIES = 128


def parse_latency_latest(reply: Any) -> JsonValue:
    events: list[JsonValue] = []
    for row in reply if isinstance(reply, list) else []:
        if isinstance(row, list) and len(row) >= 4:
            events.append({"event": str(row[0]), "time": int(row[1]), "latestMs": int(row[2]), "maxMs": int(row[3])})
    return events


def slowlog_command(args: object) -> str:
    """The command (and subcommand) of a slow-log entry; its arguments are never kept (secrets)."""
    words = [str(a).lower() for a in args[:2]] if isinstance(args, list) else []
    if not words:
        return ""
    return f"{words[0]}|{words[1]}" if words[0] in CONTAINER_COMMANDS and len(words) > 1 else words[0]


def parse_slowlog(reply: Any) -> JsonValue:
    entries: list[JsonValue] = []
    for row in reply if isinstance(reply, list) else []:
        if not isinstance(row, list) or len(row) < 4:
            continue
        entries.append({
            "id": int(row[0]),
            "time": int(row[1]),
            "durationUs": int(row[2]),
            "command": slowlog_command(row[3]),
            "clientName": str(row[5]) if len(row) > 5 else "",
        })
    return entries



class LatencyCollector:
    """LAT-003/LAT-004: LATENCY LATEST and the slow log (command names and durations only)."""

    name = "latency"
    roles = DATA_ROLES
    commands: tuple[str, ...] = ("latency|latest", "slowlog|get")
    provides: tuple[str, ...] = ("latency.latest", "slowlog")

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        return session.node.role in self.roles

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        return {
            "latency.latest": session.attempt(parse_latency_latest, "LATENCY", "LATEST"),
            "slowlog": session.attempt(parse_slowlog, "SLOWLOG", "GET", str(SLOWLOG_ENTRIES)),
        }


MIN_LOCAL_PROBE_MS = 300
DEADLINE_RESERVE_S = 2.0  # leave this much of the run for the collectors that finish after the probe


class LocalLatencyProbe:
    """`latency.local`: a short open-loop probe of the primary from the audit host (profile [latency])."""

    name = "latency.local"
    provides: tuple[str, ...] = ("latency.local",)

    def applies(self, ctx: CollectContext) -> bool:
        return ctx.profile.latency.local_probe and bool(ctx.topology.primaries())

    def collect(self, ctx: CollectContext, deadline: Deadline) -> dict[str, Fact]:
        # Imported here: the probe uses collect.parse, so a module-level import would be circular.
        from redis_audit.probes.latency import run_latency_probe
        from redis_audit.probes.results import origin_from_env, probe_config, result_document

        config = probe_config(ctx.profile, local=True)
        room_ms = int((deadline.remaining() - DEADLINE_RESERVE_S) * 1000) - config.read_timeout_ms
        duration_ms = min(config.duration_ms, room_ms)
        if duration_ms < MIN_LOCAL_PROBE_MS:
            error = FactError(FactErrorKind.TIMEOUT, "latency-probe", "not enough time left before the run's deadline")
            return {self.name: Fact(error=error)}
        primary = ctx.topology.primaries()[0]
        config = dataclasses.replace(config, duration_ms=duration_ms)
        result = run_latency_probe(primary.address, tls=ctx.target.tls, credentials=ctx.target.credentials,
                                   config=config, deadline=deadline)
        if result.failure is not None:  # replies refused or connections lost: the timings mean nothing
            return {self.name: Fact(error=FactError(FactErrorKind.ERROR, "latency-probe", result.failure))}
        doc = result_document(result, origin_from_env(), ctx.target.url())
        return {self.name: Fact(value=doc)}
