"""What discovery found: the nodes of a deployment, its Sentinels, and the nodes it could not reach."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from redis_audit.jsonvalue import JsonObject


class Role(StrEnum):
    PRIMARY = "primary"
    REPLICA = "replica"
    SENTINEL = "sentinel"


class DeploymentKind(StrEnum):
    STANDALONE = "standalone"  # one primary, no replica
    REPLICATED = "replicated"  # primary + replicas, no Sentinel
    SENTINEL = "sentinel"
    CLUSTER = "cluster"
    UNKNOWN = "unknown"  # nothing could be reached


DATA_ROLES = frozenset({Role.PRIMARY, Role.REPLICA})


@dataclass(frozen=True, order=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> Address:
        """Parse 'host:port' or '[v6]:port'."""
        text = text.strip()
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            return cls(host, int(rest.lstrip(":")))
        host, _, port = text.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"not a host:port address: {text!r}")
        return cls(host, int(port))


@dataclass(frozen=True)
class Node:
    address: Address
    role: Role
    shard: str | None = None  # cluster shard id, or the primary's address for replication groups
    run_id: str | None = None
    node_id: str | None = None  # cluster node id
    primary: Address | None = None  # for replicas: the primary they follow

    def to_json(self) -> JsonObject:
        return {
            "address": str(self.address),
            "role": str(self.role),
            "shard": self.shard,
            "runId": self.run_id,
            "nodeId": self.node_id,
            "primary": str(self.primary) if self.primary else None,
        }

    @classmethod
    def from_json(cls, data: JsonObject) -> Node:
        primary = data.get("primary")
        return cls(
            address=Address.parse(str(data["address"])),
            role=Role(str(data["role"])),
            shard=_opt_str(data.get("shard")),
            run_id=_opt_str(data.get("runId")),
            node_id=_opt_str(data.get("nodeId")),
            primary=Address.parse(str(primary)) if primary else None,
        )


@dataclass(frozen=True)
class Unreachable:
    address: Address
    role: Role | None
    reason: str

    def to_json(self) -> JsonObject:
        return {"address": str(self.address), "role": str(self.role) if self.role else None, "reason": self.reason}

    @classmethod
    def from_json(cls, data: JsonObject) -> Unreachable:
        role = data.get("role")
        return cls(Address.parse(str(data["address"])), Role(str(role)) if role else None, str(data["reason"]))


@dataclass(frozen=True)
class Topology:
    kind: DeploymentKind
    nodes: tuple[Node, ...] = ()  # data nodes: primaries and replicas
    sentinels: tuple[Node, ...] = ()
    unreachable: tuple[Unreachable, ...] = ()
    master_name: str | None = None  # the Sentinel master name
    notes: tuple[str, ...] = field(default=())

    def all_nodes(self) -> Iterator[Node]:
        yield from self.nodes
        yield from self.sentinels

    def primaries(self) -> list[Node]:
        return [n for n in self.nodes if n.role is Role.PRIMARY]

    def replicas_of(self, primary: Node) -> list[Node]:
        if primary.shard is not None:
            return [n for n in self.nodes if n.role is Role.REPLICA and n.shard == primary.shard]
        return [n for n in self.nodes if n.role is Role.REPLICA and n.primary == primary.address]

    def to_json(self) -> JsonObject:
        return {
            "kind": str(self.kind),
            "masterName": self.master_name,
            "nodes": [n.to_json() for n in self.nodes],
            "sentinels": [n.to_json() for n in self.sentinels],
            "unreachable": [u.to_json() for u in self.unreachable],
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: JsonObject) -> Topology:
        return cls(
            kind=DeploymentKind(str(data["kind"])),
            nodes=tuple(Node.from_json(n) for n in _objects(data.get("nodes"))),
            sentinels=tuple(Node.from_json(n) for n in _objects(data.get("sentinels"))),
            unreachable=tuple(Unreachable.from_json(u) for u in _objects(data.get("unreachable"))),
            master_name=_opt_str(data.get("masterName")),
            notes=tuple(str(n) for n in _list(data.get("notes"))),
        )


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


def _objects(value: object) -> list[JsonObject]:
    return [v for v in _list(value) if isinstance(v, dict)]
