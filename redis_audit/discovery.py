"""Discovery: from any seed to the whole deployment (replication, Sentinel or Cluster).

Discovery only reads (INFO, SENTINEL MASTER/REPLICAS/SENTINELS, CLUSTER SHARDS/NODES)
through the same guarded connections as collection.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import AuthenticationError

from redis_audit.client import Timeouts, open_client
from redis_audit.collect.base import Deadline, answers_without_password, classify_error
from redis_audit.exitcodes import UsageError
from redis_audit.facts.parse import pairs_to_dict, parse_cluster_nodes, parse_info, parse_info_fields
from redis_audit.node_trust import NodeTrust
from redis_audit.target import Credentials, Target
from redis_audit.topology import Address, DeploymentKind, Node, Role, Topology, Unreachable


class DiscoveryFailed(Exception):
    """Not one seed could be reached: the audit is inconclusive."""


@dataclass
class _Found:
    nodes: dict[Address, Node] = field(default_factory=dict)
    sentinels: dict[Address, Node] = field(default_factory=dict)
    unreachable: dict[Address, Unreachable] = field(default_factory=dict)

    def add(self, node: Node) -> None:
        bucket = self.sentinels if node.role is Role.SENTINEL else self.nodes
        bucket.setdefault(node.address, node)

    def fail(self, address: Address, role: Role | None, reason: str) -> None:
        self.unreachable.setdefault(address, Unreachable(address, role, reason))


class Discoverer:
    def __init__(self, target: Target, timeouts: Timeouts, deadline: Deadline) -> None:
        self.target = target
        self.timeouts = timeouts
        self.deadline = deadline
        self.trust = NodeTrust.for_target(target)

    def _admit(self, found: _Found, address: Address, role: Role | None, advertised_by: str) -> bool:
        """Whether a node the servers named may receive the credentials; if not, it is reported, not contacted."""
        if address in self.target.seeds or self.trust.allows(address):
            return True
        found.fail(address, role, self.trust.refusal(address, advertised_by))
        return False

    def _call(self, address: Address, credentials: Credentials, *args: Any) -> Any:
        timeouts = self.deadline.timeouts(self.timeouts)
        client = open_client(address, tls=self.target.tls, credentials=credentials, timeouts=timeouts,
                             deadline=self.deadline)
        try:
            return client.execute_command(*args)
        except AuthenticationError:
            # Refused because the server has no password at all? Then discovery goes on without one;
            # collection finds the same and reports the open server (collect.base.open_session).
            if credentials == Credentials() or answers_without_password(address, self.target.tls, timeouts,
                                                                        self.deadline) is None:
                raise
            return self._call(address, Credentials(), *args)
        finally:
            client.close()

    def data(self, address: Address, *args: Any) -> Any:
        return self._call(address, self.target.credentials, *args)

    def sentinel(self, address: Address, *args: Any) -> Any:
        return self._call(address, self.target.sentinel_credentials, *args)

    # -- entry point -------------------------------------------------------------------------
    def discover(self) -> Topology:
        if self.target.kind == "sentinel":
            return self._from_sentinels(list(self.target.seeds), str(self.target.master_name))
        seed = self.target.seeds[0]
        try:
            server = parse_info(str(self.data(seed, "INFO", "server"))).get("server", {})
        except Exception as exc:
            raise DiscoveryFailed(f"{seed}: {classify_error(exc, 'info').message}") from None
        mode = server.get("redis_mode", server.get("server_mode", "standalone"))
        if mode == "cluster":
            return self._from_cluster(seed)
        if mode == "sentinel":
            return self._from_sentinel_seed(seed)
        return self._from_replication(seed)

    # -- replication -------------------------------------------------------------------------
    def _from_replication(self, seed: Address) -> Topology:
        found = _Found()
        queue: deque[tuple[Address, Role | None, str]] = deque([(seed, None, "the target")])
        seen: set[Address] = set()
        while queue:
            address, role, advertised_by = queue.popleft()
            if address in seen:
                continue
            seen.add(address)
            if not self._admit(found, address, role, advertised_by):
                continue
            try:
                info = parse_info(str(self.data(address, "INFO", "replication"))).get("replication", {})
                run_id = parse_info(str(self.data(address, "INFO", "server"))).get("server", {}).get("run_id")
            except Exception as exc:
                found.fail(address, None, classify_error(exc, "info").message)
                continue
            if info.get("role") == "slave":
                primary = Address(info.get("master_host", ""), int(info.get("master_port", "0") or 0))
                found.add(Node(address, Role.REPLICA, run_id=run_id, primary=primary, shard=str(primary)))
                queue.append((primary, Role.PRIMARY, f"{address} (INFO replication master_host)"))
            else:
                found.add(Node(address, Role.PRIMARY, run_id=run_id, shard=str(address)))
            queue.extend((replica, Role.REPLICA, f"{address} (INFO replication {field})")
                         for field, replica in _replica_addresses(info))
        if not found.nodes:
            raise DiscoveryFailed("; ".join(f"{u.address}: {u.reason}" for u in found.unreachable.values()))
        kind = DeploymentKind.REPLICATED if len(found.nodes) > 1 else DeploymentKind.STANDALONE
        return _topology(kind, found)

    # -- Sentinel ----------------------------------------------------------------------------
    def _from_sentinel_seed(self, seed: Address) -> Topology:
        try:
            masters = [pairs_to_dict(m) for m in self.sentinel(seed, "SENTINEL", "MASTERS")]
        except Exception as exc:
            raise DiscoveryFailed(f"{seed}: {classify_error(exc, 'sentinel|masters').message}") from None
        if len(masters) != 1:
            names = ", ".join(sorted(str(m.get("name")) for m in masters)) or "none"
            raise UsageError(
                f"{seed} is a Sentinel watching {len(masters)} masters ({names}); "
                "use redis+sentinel://host:port/MASTERNAME"
            )
        return self._from_sentinels([seed], str(masters[0]["name"]))

    def _from_sentinels(self, seeds: list[Address], name: str) -> Topology:
        found = _Found()
        queue: deque[tuple[Address, str]] = deque((s, "the target") for s in seeds)
        seen: set[Address] = set()
        while queue:
            address, advertised_by = queue.popleft()
            if address in seen:
                continue
            seen.add(address)
            if not self._admit(found, address, Role.SENTINEL, advertised_by):
                continue
            try:
                master = pairs_to_dict(self.sentinel(address, "SENTINEL", "MASTER", name))
                replicas = [pairs_to_dict(r) for r in self.sentinel(address, "SENTINEL", "REPLICAS", name)]
                peers = [pairs_to_dict(s) for s in self.sentinel(address, "SENTINEL", "SENTINELS", name)]
                my_id = str(self.sentinel(address, "SENTINEL", "MYID"))
            except Exception as exc:
                found.fail(address, Role.SENTINEL, classify_error(exc, "sentinel|master").message)
                continue
            found.add(Node(address, Role.SENTINEL, run_id=my_id))
            primary = Address(str(master["ip"]), int(str(master["port"])))
            if self._admit(found, primary, Role.PRIMARY, f"Sentinel {address} (SENTINEL MASTER {name})"):
                found.add(Node(primary, Role.PRIMARY, run_id=_opt(master.get("runid")), shard=name))
            for replica in replicas:
                replica_address = Address(str(replica["ip"]), int(str(replica["port"])))
                if self._admit(found, replica_address, Role.REPLICA, f"Sentinel {address} (SENTINEL REPLICAS)"):
                    found.add(Node(replica_address, Role.REPLICA, run_id=_opt(replica.get("runid")), primary=primary,
                                   shard=name))
            queue.extend((Address(str(p["ip"]), int(str(p["port"]))), f"Sentinel {address} (SENTINEL SENTINELS)")
                         for p in peers)
        if not found.sentinels:
            raise DiscoveryFailed("; ".join(f"{u.address}: {u.reason}" for u in found.unreachable.values()))
        return _topology(DeploymentKind.SENTINEL, found, master_name=name)

    # -- Cluster -----------------------------------------------------------------------------
    def _from_cluster(self, seed: Address) -> Topology:
        found = _Found()
        try:
            shards = self.data(seed, "CLUSTER", "SHARDS")
            self._add_shards(found, shards, seed)
        except Exception:
            # Before 7.0 there is no CLUSTER SHARDS: CLUSTER NODES says the same in text.
            try:
                text = str(self.data(seed, "CLUSTER", "NODES"))
            except Exception as exc:
                raise DiscoveryFailed(f"{seed}: {classify_error(exc, 'cluster|nodes').message}") from None
            self._add_cluster_nodes(found, text, seed)
        return _topology(DeploymentKind.CLUSTER, found)

    def _add_shards(self, found: _Found, shards: Any, seed: Address) -> None:
        for raw in shards:
            shard = pairs_to_dict(raw)
            nodes = [pairs_to_dict(n) for n in shard.get("nodes") or []]  # type: ignore[union-attr]
            primary = next((n for n in nodes if n.get("role") == "master"), None)
            shard_id = str(shard.get("id") or (primary or {}).get("id") or "")
            primary_address = self._shard_address(primary, seed) if primary else None
            for node in nodes:
                address = self._shard_address(node, seed)
                role = Role.PRIMARY if node.get("role") == "master" else Role.REPLICA
                if self._admit(found, address, role, f"{seed} (CLUSTER SHARDS)"):
                    found.add(Node(address, role, shard=shard_id, node_id=_opt(node.get("id")),
                                   primary=None if role is Role.PRIMARY else primary_address))

    def _shard_address(self, node: dict[str, Any], seed: Address) -> Address:
        port_key = "tls-port" if self.target.tls.enabled and node.get("tls-port") else "port"
        host = str(node.get("ip") or node.get("endpoint") or seed.host)
        return Address(host, int(node.get(port_key) or 0))

    def _add_cluster_nodes(self, found: _Found, text: str, seed: Address) -> None:
        parsed = parse_cluster_nodes(text)
        by_id = {str(n["id"]): n for n in parsed}
        for node in parsed:
            flags = node["flags"] if isinstance(node["flags"], list) else []
            host, _, port = str(node["address"]).rpartition(":")
            address = Address(host or seed.host, int(port or 0))
            is_primary = "master" in flags
            shard = str(node["id"]) if is_primary else str(node["primaryId"])
            primary_node = by_id.get(str(node["primaryId"]))
            primary = None
            if primary_node is not None:
                p_host, _, p_port = str(primary_node["address"]).rpartition(":")
                primary = Address(p_host or seed.host, int(p_port or 0))
            role = Role.PRIMARY if is_primary else Role.REPLICA
            if self._admit(found, address, role, f"{seed} (CLUSTER NODES)"):
                found.add(Node(address, role, shard=shard, node_id=str(node["id"]), primary=primary))


def _replica_addresses(replication: dict[str, str]) -> list[tuple[str, Address]]:
    """(INFO field, address) of every replica a primary lists: ("slave0", 10.0.0.2:6379)."""
    out = []
    for key, value in replication.items():
        if key.startswith("slave") and key[5:].isdigit():
            fields = parse_info_fields(value)
            if "ip" in fields and "port" in fields:
                out.append((key, Address(fields["ip"], int(fields["port"]))))
    return out


def _opt(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def _topology(kind: DeploymentKind, found: _Found, master_name: str | None = None) -> Topology:
    unreachable = [u for a, u in found.unreachable.items() if a not in found.nodes and a not in found.sentinels]
    # A node named by others but unreachable at discovery is still part of the deployment.
    return Topology(
        kind=kind,
        nodes=tuple(sorted(found.nodes.values(), key=lambda n: (n.role != Role.PRIMARY, n.address))),
        sentinels=tuple(sorted(found.sentinels.values(), key=lambda n: n.address)),
        unreachable=tuple(sorted(unreachable, key=lambda u: u.address)),
        master_name=master_name,
    )


def discover(target: Target, timeouts: Timeouts, deadline: Deadline) -> Topology:
    return Discoverer(target, timeouts, deadline).discover()
