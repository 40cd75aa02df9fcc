"""The snapshot: every fact collected in one run, versioned, JSON-serialisable and free of secrets.

Checks read only this. A fact is either a value or the reason it is unavailable
(command denied, unknown to this server, timed out), so a check can SKIP with that reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from redis_audit.facts.values import as_int
from redis_audit.facts.versions import UNKNOWN, parse_version
from redis_audit.jsonvalue import JsonObject, JsonValue, NotCanonical, ensure_canonical
from redis_audit.topology import Address, Role, Topology

SNAPSHOT_SCHEMA = "redis-audit/snapshot/v1"
# A node's fact: it refused the audit's credentials but answers without any, so it was audited unauthenticated.
NO_PASSWORD = "auth.not_required"


class FactErrorKind(StrEnum):
    DENIED = "denied"  # NOPERM, or a command renamed away (managed services)
    UNSUPPORTED = "unsupported"  # unknown command or subcommand on this server/version
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    ERROR = "error"  # any other error reply
    NOT_COLLECTED = "not-collected"  # no collector provided it for this node


@dataclass(frozen=True)
class FactError:
    kind: FactErrorKind
    command: str  # the command that failed, e.g. "config|get"
    message: str

    def to_json(self) -> JsonObject:
        return {"kind": str(self.kind), "command": self.command, "message": self.message}

    @classmethod
    def from_json(cls, data: Mapping[str, JsonValue]) -> FactError:
        return cls(FactErrorKind(str(data["kind"])), str(data["command"]), str(data["message"]))

    def describe(self) -> str:
        """One line for a SKIP message, naming the permission that would make it possible."""
        if self.kind is FactErrorKind.DENIED and ":" in self.command:
            # A cloud API call ("elasticache:DescribeReplicationGroups"): the permission is an IAM action.
            return f"{self.command} was denied ({self.message}); grant {self.command} to the audit's IAM identity"
        if self.kind is FactErrorKind.DENIED:
            return f"{self.command.upper()} was denied ({self.message}); grant +{self.command} to the auditor user"
        if self.kind is FactErrorKind.UNSUPPORTED:
            return f"{self.command.upper()} is not supported by this server ({self.message})"
        name = self.command if ":" in self.command else self.command.upper()
        return f"{name}: {self.kind} ({self.message})"


@dataclass(frozen=True)
class Fact:
    value: JsonValue = None
    error: FactError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> JsonObject:
        if self.error is not None:
            return {"error": self.error.to_json()}
        return {"value": self.value}

    @classmethod
    def from_json(cls, data: Mapping[str, JsonValue]) -> Fact:
        error = data.get("error")
        if isinstance(error, Mapping):
            return cls(error=FactError.from_json(error))
        return cls(value=data.get("value"))


class FactUnavailable(Exception):
    """Raised by a snapshot accessor when a check needs a fact that could not be collected."""

    def __init__(self, fact: str, error: FactError) -> None:
        super().__init__(f"{fact}: {error.describe()}")
        self.fact = fact
        self.error = error


# INFO fields that stand in for CONFIG GET where CONFIG is denied (managed services).
INFO_FALLBACK: dict[str, tuple[str, str]] = {
    "maxmemory": ("memory", "maxmemory"),
    "maxmemory-policy": ("memory", "maxmemory_policy"),
    "maxclients": ("clients", "maxclients"),
    "port": ("server", "tcp_port"),
    "appendonly": ("persistence", "aof_enabled"),
}


@dataclass
class NodeSnapshot:
    address: Address
    role: Role
    facts: dict[str, Fact] = field(default_factory=dict)

    def fact(self, name: str) -> JsonValue:
        """The value of a fact, or FactUnavailable with the reason."""
        found = self.facts.get(name)
        if found is None:
            raise FactUnavailable(
                name, FactError(FactErrorKind.NOT_COLLECTED, name, "not collected for this node")
            )
        if found.error is not None:
            raise FactUnavailable(name, found.error)
        return found.value

    def has(self, name: str) -> bool:
        found = self.facts.get(name)
        return found is not None and found.ok

    def info(self, section: str, key: str) -> str | None:
        """An INFO field as text, None when the server does not report it."""
        sections = self.fact("info")
        if not isinstance(sections, Mapping):
            return None
        values = sections.get(section)
        if not isinstance(values, Mapping):
            return None
        value = values.get(key)
        return None if value is None else str(value)

    def info_section(self, section: str) -> dict[str, str]:
        """One INFO section as {key: text}, empty when the server does not report it."""
        sections = self.fact("info")
        values = sections.get(section) if isinstance(sections, Mapping) else None
        return {str(k): str(v) for k, v in values.items()} if isinstance(values, Mapping) else {}

    def info_int(self, section: str, key: str, default: int = 0) -> int:
        return as_int(self.info(section, key), default, truncate=True)

    def config(self, name: str) -> str | None:
        """A CONFIG GET value; None when the server does not know the parameter."""
        values = self.fact("config")
        if not isinstance(values, Mapping):
            return None
        value = values.get(name)
        return None if value is None else str(value)

    def setting(self, name: str) -> str | None:
        """A configuration value from CONFIG GET, falling back to INFO where CONFIG is denied."""
        try:
            return self.config(name)
        except FactUnavailable:
            fallback = INFO_FALLBACK.get(name)
            if fallback is None:
                raise
            return self.info(*fallback)

    def version(self) -> tuple[int, int, int]:
        """The engine version (Valkey's own when it reports one), or (0, 0, 0) when unknown."""
        text = self.info("server", "valkey_version") or self.info("server", "redis_version")
        return parse_version(text, strict=False) or UNKNOWN

    def to_json(self) -> JsonObject:
        return {
            "address": str(self.address),
            "role": str(self.role),
            "facts": {name: fact.to_json() for name, fact in sorted(self.facts.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JsonValue]) -> NodeSnapshot:
        facts = data.get("facts")
        return cls(
            address=Address.parse(str(data["address"])),
            role=Role(str(data["role"])),
            facts={
                str(k): Fact.from_json(v)
                for k, v in (facts.items() if isinstance(facts, Mapping) else [])
                if isinstance(v, Mapping)
            },
        )


@dataclass(frozen=True)
class TargetInfo:
    """How the target was addressed: everything but the credentials."""

    url: str  # with any password removed
    kind: str  # "redis", "sentinel", or a control-plane kind such as "aws-elasticache"
    seeds: tuple[str, ...]
    tls: bool
    tls_verify: bool
    user: str | None
    master_name: str | None = None
    name: str | None = None  # a deployment name given by the user, for the report subject

    def to_json(self) -> JsonObject:
        return {
            "url": self.url,
            "kind": self.kind,
            "seeds": list(self.seeds),
            "tls": self.tls,
            "tlsVerify": self.tls_verify,
            "user": self.user,
            "masterName": self.master_name,
            "name": self.name,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JsonValue]) -> TargetInfo:
        seeds = data.get("seeds")
        return cls(
            url=str(data["url"]),
            kind=str(data["kind"]),
            seeds=tuple(str(s) for s in (seeds if isinstance(seeds, list) else [])),
            tls=bool(data.get("tls")),
            tls_verify=bool(data.get("tlsVerify")),
            user=None if data.get("user") is None else str(data.get("user")),
            master_name=None if data.get("masterName") is None else str(data.get("masterName")),
            name=None if data.get("name") is None else str(data.get("name")),
        )


@dataclass
class Snapshot:
    target: TargetInfo
    topology: Topology
    nodes: dict[str, NodeSnapshot]  # by address text
    started_at: str  # RFC 3339, UTC
    finished_at: str
    tool_version: str
    deployment_facts: dict[str, Fact] = field(default_factory=dict)  # probes, control plane
    schema: str = SNAPSHOT_SCHEMA

    def node(self, address: Address | str) -> NodeSnapshot | None:
        return self.nodes.get(str(address))

    def data_nodes(self, *roles: Role) -> Iterator[NodeSnapshot]:
        wanted = set(roles) or {Role.PRIMARY, Role.REPLICA}
        for node in self.nodes.values():
            if node.role in wanted:
                yield node

    def sentinel_nodes(self) -> Iterator[NodeSnapshot]:
        return self.data_nodes(Role.SENTINEL)

    def deployment_fact(self, name: str) -> JsonValue:
        found = self.deployment_facts.get(name)
        if found is None:
            raise FactUnavailable(
                name, FactError(FactErrorKind.NOT_COLLECTED, name, "not collected for this run")
            )
        if found.error is not None:
            raise FactUnavailable(name, found.error)
        return found.value

    def to_json(self) -> JsonObject:
        data: JsonObject = {
            "schema": self.schema,
            "toolVersion": self.tool_version,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "target": self.target.to_json(),
            "topology": self.topology.to_json(),
            "nodes": {addr: node.to_json() for addr, node in sorted(self.nodes.items())},
            "deploymentFacts": {k: f.to_json() for k, f in sorted(self.deployment_facts.items())},
        }
        ensure_canonical(data)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, JsonValue]) -> Snapshot:
        if data.get("schema") != SNAPSHOT_SCHEMA:
            raise ValueError(f"unsupported snapshot schema {data.get('schema')!r}; expected {SNAPSHOT_SCHEMA}")
        nodes = data.get("nodes")
        facts = data.get("deploymentFacts")
        target = data.get("target")
        topology = data.get("topology")
        if not isinstance(target, dict) or not isinstance(topology, dict):
            raise ValueError("snapshot lacks its target or topology")
        return cls(
            target=TargetInfo.from_json(target),
            topology=Topology.from_json(topology),
            nodes={
                str(k): NodeSnapshot.from_json(v)
                for k, v in (nodes.items() if isinstance(nodes, Mapping) else [])
                if isinstance(v, Mapping)
            },
            started_at=str(data.get("startedAt", "")),
            finished_at=str(data.get("finishedAt", "")),
            tool_version=str(data.get("toolVersion", "")),
            deployment_facts={
                str(k): Fact.from_json(v)
                for k, v in (facts.items() if isinstance(facts, Mapping) else [])
                if isinstance(v, Mapping)
            },
        )

    def to_text(self) -> str:
        """The snapshot file's content (written by `redis_audit.files`, like every file the tool writes)."""
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"

    def to_bytes(self) -> bytes:
        """The file `--save-snapshot` writes (its sha256 links it to the live run's report)."""
        return self.to_text().encode("utf-8")

    def save(self, path: Path) -> None:
        from redis_audit.files import write_file

        write_file(path, self.to_text(), what="snapshot")

    @classmethod
    def load(cls, path: Path) -> Snapshot:
        """A saved snapshot, refused (SchemaViolation, one line) unless it is exactly what a run writes."""
        return cls.from_json(parse_snapshot(path.read_text(encoding="utf-8")))


def parse_snapshot(text: str) -> JsonObject:
    """Snapshot JSON from outside, checked: depth, schema version, the schema, then the integer-only subset."""
    from redis_audit.schemas import SchemaViolation, parse_json, validate

    data = parse_json(text)
    if not isinstance(data, dict):
        raise SchemaViolation(f"top level: expected an object, got {type(data).__name__}")
    if data.get("schema") != SNAPSHOT_SCHEMA:
        raise SchemaViolation(f"unsupported snapshot schema {str(data.get('schema'))[:80]!r}; "
                              f"this version reads {SNAPSHOT_SCHEMA}")
    validate("snapshot", data)
    try:
        ensure_canonical(data)
    except NotCanonical as exc:
        raise SchemaViolation(str(exc)[:200]) from None
    return data
