"""Cluster and Sentinel facts, read from every node so that checks can compare their views."""

from __future__ import annotations

from typing import Any

from redis_audit.collect.base import CollectContext, NodeSession
from redis_audit.collect.probes import ping_without_credentials
from redis_audit.facts.parse import pairs_to_dict, parse_cluster_nodes, parse_info, to_json
from redis_audit.jsonvalue import JsonValue
from redis_audit.snapshot import Fact
from redis_audit.topology import DATA_ROLES, Address, DeploymentKind, Role


def parse_cluster_info(reply: Any) -> JsonValue:
    return next(iter(parse_info(str(reply)).values()), {})


class ClusterCollector:
    name = "cluster"
    roles = DATA_ROLES
    commands: tuple[str, ...] = ("cluster|info", "cluster|nodes", "cluster|myid", "cluster|shards")
    provides: tuple[str, ...] = ("cluster.info", "cluster.nodes", "cluster.myid", "cluster.shards")

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


def announced_addresses(facts: dict[str, Fact]) -> list[tuple[str, str]]:
    """(kind, "ip:port") for every address this Sentinel announces: the primary, replicas, peers."""
    out: list[tuple[str, str]] = []
    addr = facts["sentinel.master_addr"].value
    if isinstance(addr, list) and len(addr) == 2:
        out.append(("primary", f"{addr[0]}:{addr[1]}"))
    for kind, fact in (("replica", facts["sentinel.replicas"]), ("sentinel", facts["sentinel.sentinels"])):
        for item in fact.value if isinstance(fact.value, list) else []:
            if isinstance(item, dict) and item.get("ip") and item.get("port"):
                out.append((kind, f"{item['ip']}:{item['port']}"))
    return out


def announced_reachability(facts: dict[str, Fact], session: NodeSession, ctx: CollectContext) -> JsonValue:
    """SEN-006: does an unauthenticated client from this host get any reply at each announced address?"""
    results: list[JsonValue] = []
    for kind, text in announced_addresses(facts):
        try:
            address = Address.parse(text)
        except ValueError:
            results.append({"kind": kind, "address": text, "reachable": False, "error": "not host:port"})
            continue
        probe = ping_without_credentials(address, ctx.target.tls, session)
        results.append({"kind": kind, "address": text, "reachable": bool(probe.get("answered")),
                        "reply": probe.get("reply")})
    return results


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
    commands: tuple[str, ...] = ("sentinel|master", "sentinel|replicas", "sentinel|sentinels",
                                 "sentinel|get-master-addr-by-name", "sentinel|ckquorum")
    provides: tuple[str, ...] = ("sentinel.master", "sentinel.replicas", "sentinel.sentinels",
                                 "sentinel.master_addr", "sentinel.ckquorum", "sentinel.reachability")

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        return session.node.role is Role.SENTINEL and ctx.topology.master_name is not None

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        name = str(ctx.topology.master_name)

        def many(reply: Any) -> JsonValue:
            return [pairs_to_dict(x) for x in reply] if isinstance(reply, list) else []

        facts = {
            "sentinel.master": session.attempt(pairs_to_dict, "SENTINEL", "MASTER", name),
            "sentinel.replicas": session.attempt(many, "SENTINEL", "REPLICAS", name),
            "sentinel.sentinels": session.attempt(many, "SENTINEL", "SENTINELS", name),
            "sentinel.master_addr": session.attempt(to_json, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name),
            "sentinel.ckquorum": self._ckquorum(session, name),
        }
        facts["sentinel.reachability"] = Fact(value=announced_reachability(facts, session, ctx))
        return facts

    @staticmethod
    def _ckquorum(session: NodeSession, name: str) -> Fact:
        # CKQUORUM answers an error reply when the quorum is not reachable: that is a fact, not a failure.
        fact = session.attempt(lambda r: {"ok": True, "message": str(r)}, "SENTINEL", "CKQUORUM", name)
        if fact.error is not None and fact.error.kind.value == "error":
            return Fact(value={"ok": False, "message": fact.error.message})
        return fact
