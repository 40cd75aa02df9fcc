"""INFO, ROLE and CONFIG GET: the facts almost every check reads."""

from __future__ import annotations

from typing import Any

from redis_audit.collect.base import CollectContext, NodeSession
from redis_audit.facts.parse import pairs_to_dict, parse_info, to_json
from redis_audit.jsonvalue import JsonObject
from redis_audit.snapshot import Fact
from redis_audit.topology import DATA_ROLES, Role

# The parameters the checks read. Secrets (requirepass, masterauth, tls-key-file-pass, ...)
# are never asked for, and are dropped should a server return them anyway.
CONFIG_PARAMETERS: tuple[str, ...] = (
    "maxmemory", "maxmemory-policy", "maxmemory-clients", "maxmemory-samples", "maxclients",
    "port", "tls-port", "tls-replication", "tls-cluster", "tls-protocols", "tls-auth-clients",
    "bind", "protected-mode", "enable-debug-command", "enable-module-command", "enable-protected-configs",
    "min-replicas-to-write", "min-replicas-max-lag", "repl-backlog-size", "repl-diskless-sync",
    "replica-read-only", "replica-serve-stale-data", "masteruser",
    "replica-priority", "replica-announced", "cluster-replica-no-failover", "repl-ping-replica-period",
    "save", "appendonly", "appendfsync", "no-appendfsync-on-rewrite", "stop-writes-on-bgsave-error",
    "aclfile", "acl-pubsub-default", "timeout", "tcp-keepalive", "tcp-backlog",
    "cluster-node-timeout", "cluster-require-full-coverage", "cluster-allow-reads-when-down",
    "cluster-replica-validity-factor", "cluster-migration-barrier", "cluster-announce-ip",
    "latency-monitor-threshold", "latency-tracking", "slowlog-log-slower-than", "slowlog-max-len",
    "lazyfree-lazy-eviction", "lazyfree-lazy-expire", "activedefrag", "hz", "io-threads",
    "client-output-buffer-limit", "notify-keyspace-events", "availability-zone",
)
SECRET_PARAMETERS = frozenset({"requirepass", "masterauth", "tls-key-file-pass", "tls-client-key-file-pass"})


def clean_config(values: JsonObject) -> JsonObject:
    return {k: v for k, v in values.items() if k not in SECRET_PARAMETERS}


class InfoCollector:
    name = "info"
    roles = frozenset(Role)
    commands: tuple[str, ...] = ("info", "role")
    provides: tuple[str, ...] = ("info", "role")

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        return True

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        def parse(reply: Any) -> Any:
            return parse_info(str(reply))

        # Sentinels do not know 'everything'; a plain INFO gives all their sections.
        args = ("INFO",) if session.node.role is Role.SENTINEL else ("INFO", "everything")
        return {"info": session.attempt(parse, *args), "role": session.attempt(to_json, "ROLE")}


class ConfigCollector:
    name = "config"
    roles = DATA_ROLES
    commands: tuple[str, ...] = ("config|get",)
    provides: tuple[str, ...] = ("config",)

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        return session.node.role in self.roles

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        fact = session.attempt(lambda r: clean_config(pairs_to_dict(r)), "CONFIG", "GET", *CONFIG_PARAMETERS)
        if fact.ok:
            return {"config": fact}
        # Before 7.0 CONFIG GET takes one parameter; ask one by one.
        if fact.error is not None and fact.error.kind.value in ("unsupported", "error"):
            merged: JsonObject = {}
            for param in CONFIG_PARAMETERS:
                one = session.attempt(pairs_to_dict, "CONFIG", "GET", param)
                if not one.ok:
                    return {"config": one}
                merged.update(clean_config(one.value if isinstance(one.value, dict) else {}))
            return {"config": Fact(value=merged)}
        return {"config": fact}
