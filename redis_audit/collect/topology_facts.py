"""Cluster and Sentinel facts, read from every node so that checks can compare their views."""

from __future__ import annotations

from typing import Any

from redis_audit.collect.base import CollectContext, NodeSession
from redis_audit.collect.parse import pairs_to_dict, parse_cluster_nodes, parse_info, to_json
from redis_audit.jsonvalue import JsonValue
from redis_audit.snapshot import Fact
from redis_audit.topology import DATA_ROLES, DeploymentKind, Role


def parse_cluster_info(reply: Any) -> JsonValue:
    return next(iter(parse_info(str(reply)).values()), {})


class ClusterCollector:
    name = "cluster"
    roles = DATA_ROLES

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        return ctx.topology.kind is DeploymentKind.CLUSTER and session.node.role in self.roles

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        facts = {
            "cluster.info": session.attempt(parse_cluster_info, "CLUSTER", "INFO"),
            "cluster.nodes": session.attempt(lambda r: parse_cluster_nodes(str(r)), "CLUSTER", "NODES"),
            "cluster.myid": session.attempt(to_json, "CLUSTER", "MYID"),
        }
        shards = session.attempt(parse_shards, "CLUSTER", "SHARDS")
        if shards.ok:
            facts["cluster.shards"] = shards
        return facts


def parse_shards(reply: Any) -> JsonValue:
    shards: list[JsonValue] = []
    for raw in reply if isinstance(reply, list) else []:
        shard = pairs_to_dict(raw)
        nodes = shard.get("nodes")
        shard["nodes"] = [pairs_to_dict(n) for n in nodes] if isinstance(nodes, list) else []
        shards.append(shard)
    return shards


class SentinelCollector:
    name = "sentinel"
    roles = frozenset({Role.SENTINEL})

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        return session.node.role is Role.SENTINEL and ctx.topology.master_name is not None

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        name = str(ctx.topology.master_name)

        def many(reply: Any) -> JsonValue:
            return [pairs_to_dict(x) for x in reply] if isinstance(reply, list) else []

        return {
            "sentinel.master": session.attempt(pairs_to_dict, "SENTINEL", "MASTER", name),
            "sentinel.replicas": session.attempt(many, "SENTINEL", "REPLICAS", name),
            "sentinel.sentinels": session.attempt(many, "SENTINEL", "SENTINELS", name),
            "sentinel.master_addr": session.attempt(to_json, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name),
            "sentinel.ckquorum": self._ckquorum(session, name),
        }

    @staticmethod
    def _ckquorum(session: NodeSession, name: str) -> Fact:
        # CKQUORUM answers an error reply when the quorum is not reachable: that is a fact, not a failure.
        fact = session.attempt(lambda r: {"ok": True, "message": str(r)}, "SENTINEL", "CKQUORUM", name)
        if fact.error is not None and fact.error.kind.value == "error":
            return Fact(value={"ok": False, "message": fact.error.message})
        return fact
