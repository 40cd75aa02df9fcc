"""The sandbox's data: what to start (SandboxSpec) and what was started (SandboxInfo, SandboxNode)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

Topology = Literal["standalone", "replicated", "sentinel", "cluster"]
Preset = Literal["good", "bad"]
Engine = Literal["redis", "valkey"]
Role = Literal["primary", "replica", "sentinel"]

TOPOLOGIES: tuple[Topology, ...] = ("standalone", "replicated", "sentinel", "cluster")
PRESETS: tuple[Preset, ...] = ("good", "bad")
ENGINES: tuple[Engine, ...] = ("redis", "valkey")


class SandboxError(Exception):
    """The sandbox could not be started, loaded or stopped; the message says why and what to do."""


@dataclass(frozen=True)
class SandboxSpec:
    """What to start. Frozen and hashable, so that test fixtures can share one sandbox per spec."""

    topology: Topology = "standalone"
    tls: bool = False
    preset: Preset = "good"
    engine: Engine = "redis"
    replicas: int = 2
    sentinels: int = 3
    cluster_primaries: int = 3
    cluster_replicas: int = 1
    master_name: str = "mymaster"

    def __post_init__(self) -> None:
        if self.topology not in TOPOLOGIES:
            raise SandboxError(f"unknown topology {self.topology!r}; choose one of {', '.join(TOPOLOGIES)}")
        if self.preset not in PRESETS:
            raise SandboxError(f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        if self.engine not in ENGINES:
            raise SandboxError(f"unknown engine {self.engine!r}; choose one of {', '.join(ENGINES)}")
        if self.replicas < 0 or self.cluster_replicas < 0:
            raise SandboxError("the number of replicas cannot be negative")
        if self.topology == "sentinel" and self.sentinels < 1:
            raise SandboxError("a sentinel topology needs at least one Sentinel")
        if self.topology == "cluster" and self.cluster_primaries < 1:
            raise SandboxError("a cluster needs at least one primary")
        if not self.master_name or any(c.isspace() or c in "/,@" for c in self.master_name):
            raise SandboxError(f"invalid Sentinel master name {self.master_name!r}")

    @property
    def replicas_per_primary(self) -> int:
        if self.topology == "cluster":
            return self.cluster_replicas
        return 0 if self.topology == "standalone" else self.replicas

    @property
    def with_acl(self) -> bool:
        """The good preset has ACL users; the bad one looks like a default install (nopass)."""
        return self.preset == "good"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxSpec:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class SandboxNode:
    """One server process. `role` is the role it was started with (a failover may change it)."""

    name: str  # "primary-0", "replica-0-1", "sentinel-2", unique within the sandbox
    role: Role
    host: str
    port: int  # the port clients use: the TLS port when TLS is on
    pid: int
    dir: Path  # working directory: config, ACL file, data
    config_file: Path
    log_file: Path
    shard: int | None = None  # cluster shard (or 0 for a replicated set); None for Sentinels
    tls: bool = False
    plaintext_port: int | None = None  # set when a plaintext port listens too (bad preset with --tls)
    started_at: int | None = None  # kernel start time of the process: guards against PID reuse

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def is_sentinel(self) -> bool:
        return self.role == "sentinel"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("dir", "config_file", "log_file"):
            data[key] = str(data[key])
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxNode:
        data = dict(data)
        for key in ("dir", "config_file", "log_file"):
            data[key] = Path(data[key])
        return cls(**data)


@dataclass
class SandboxInfo:
    """Everything a client (a test, the demo, a script) needs to audit the sandbox."""

    target_url: str
    credentials_file: Path
    ca_file: Path | None
    client_cert_file: Path | None
    client_key_file: Path | None
    auditor_user: str | None  # None with the bad preset: there are no ACL users, only `default` nopass
    app_user: str | None
    engine: str
    version: str  # "7.0.15"
    nodes: list[SandboxNode] = field(default_factory=list)

    def nodes_with_role(self, role: Role) -> list[SandboxNode]:
        return [n for n in self.nodes if n.role == role]

    def node(self, name: str) -> SandboxNode:
        for node in self.nodes:
            if node.name == name:
                return node
        raise SandboxError(f"no node named {name!r} in this sandbox")

    def to_json(self) -> dict[str, Any]:
        def path(p: Path | None) -> str | None:
            return None if p is None else str(p)

        return {
            "target_url": self.target_url,
            "credentials_file": str(self.credentials_file),
            "ca_file": path(self.ca_file),
            "client_cert_file": path(self.client_cert_file),
            "client_key_file": path(self.client_key_file),
            "auditor_user": self.auditor_user,
            "app_user": self.app_user,
            "engine": self.engine,
            "version": self.version,
            "nodes": [n.to_json() for n in self.nodes],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxInfo:
        def path(p: str | None) -> Path | None:
            return None if p is None else Path(p)

        return cls(
            target_url=data["target_url"],
            credentials_file=Path(data["credentials_file"]),
            ca_file=path(data["ca_file"]),
            client_cert_file=path(data["client_cert_file"]),
            client_key_file=path(data["client_key_file"]),
            auditor_user=data["auditor_user"],
            app_user=data["app_user"],
            engine=data["engine"],
            version=data["version"],
            nodes=[SandboxNode.from_json(n) for n in data["nodes"]],
        )
