"""What nodes a topology has, and how to bring each topology to a ready state once its processes run."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

import redis

from redis_audit.sandbox.config import Listener
from redis_audit.sandbox.model import Role, SandboxNode, SandboxSpec
from redis_audit.sandbox.ports import free_ports
from redis_audit.sandbox.readiness import Deadline, command, info_field, wait_until

CLUSTER_SLOTS = 16384

ClientFactory = Callable[[SandboxNode], redis.Redis]


@dataclass(frozen=True)
class NodePlan:
    """A node before it runs: its name, role, shard and ports, and the primary it replicates."""

    name: str
    role: Role
    shard: int | None
    listener: Listener
    primary: Listener | None = None  # set for replicas outside a cluster, and for Sentinels


def plan_nodes(spec: SandboxSpec) -> list[NodePlan]:
    """Every node of the topology, with fresh free ports."""
    cluster = spec.topology == "cluster"
    primaries = spec.cluster_primaries if cluster else 1
    per_primary = spec.replicas_per_primary
    sentinels = spec.sentinels if spec.topology == "sentinel" else 0
    data_count = primaries * (1 + per_primary)
    total = data_count + sentinels
    # With TLS and the bad preset a server listens twice: TLS and plaintext.
    dual = spec.tls and spec.preset == "bad"
    # The cluster bus listens at client port + 10000, so it must be free too.
    data_ports = free_ports(data_count, with_cluster_bus=cluster)
    other_ports = free_ports(sentinels + (total if dual else 0))
    sentinel_ports, plaintext_ports = other_ports[:sentinels], other_ports[sentinels:]

    def listener(index: int, port: int) -> Listener:
        if not spec.tls:
            return Listener(port, port, tls=False)
        return Listener(port, plaintext_ports[index] if dual else None, tls=True)

    plans: list[NodePlan] = []
    for shard in range(primaries):
        primary = listener(len(plans), data_ports[len(plans)])
        plans.append(NodePlan(f"primary-{shard}", "primary", shard, primary))
        for r in range(per_primary):
            replica = listener(len(plans), data_ports[len(plans)])
            upstream = None if cluster else primary
            plans.append(NodePlan(f"replica-{shard}-{r}", "replica", shard, replica, upstream))
    for s in range(sentinels):
        plans.append(
            NodePlan(f"sentinel-{s}", "sentinel", None, listener(len(plans), sentinel_ports[s]), plans[0].listener)
        )
    return plans


def bring_up(
    spec: SandboxSpec,
    nodes: list[SandboxNode],
    client: ClientFactory,
    launch: Callable[[SandboxNode], None],
    deadline: Deadline,
) -> None:
    """Start the data nodes and make them ready (cluster built, replicas linked), then the Sentinels.

    Sentinels start last so that their first INFO of the primary already lists every replica;
    otherwise they only learn about the replicas from the next INFO, 10 s later.
    """
    data_nodes = [n for n in nodes if not n.is_sentinel]
    sentinels = [n for n in nodes if n.is_sentinel]
    with ExitStack() as stack:
        clients: dict[str, redis.Redis] = {}

        def start(group: list[SandboxNode]) -> None:
            for node in group:
                launch(node)
                clients[node.name] = stack.enter_context(client(node))
            wait_until(deadline, group, lambda n: None if clients[n.name].ping() else "no PONG", "PING")

        start(data_nodes)
        if spec.topology == "cluster":
            _build_cluster(spec, data_nodes, clients, deadline)
        _wait_replication(spec, data_nodes, clients, deadline)
        if sentinels:
            start(sentinels)
            _wait_sentinels(spec, sentinels, clients, deadline)


def _wait_replication(
    spec: SandboxSpec, data_nodes: list[SandboxNode], clients: dict[str, redis.Redis], deadline: Deadline
) -> None:
    def linked(node: SandboxNode) -> str | None:
        c = clients[node.name]
        if node.role == "replica":
            status = info_field(c, "replication", "master_link_status")
            return None if status == "up" else f"master_link_status is {status}"
        # Online, not only connected: after a sync the primary waits for the replica's first ACK
        # (state=wait_bgsave until then), and a failover preflight rightly refuses such a replica.
        replication = c.info("replication")
        online = sum(1 for key, value in replication.items()
                     if key.startswith("slave") and isinstance(value, dict) and value.get("state") == "online")
        wanted = spec.replicas_per_primary
        return None if online >= wanted else f"{online} of {wanted} replicas online"

    wait_until(deadline, data_nodes, linked, "replication links")


def _wait_sentinels(
    spec: SandboxSpec, sentinels: list[SandboxNode], clients: dict[str, redis.Redis], deadline: Deadline
) -> None:
    def sees_everyone(node: SandboxNode) -> str | None:
        master = command(clients[node.name], "SENTINEL", "MASTER", spec.master_name)
        fields = master if isinstance(master, dict) else dict(zip(master[::2], master[1::2], strict=True))
        others = int(fields.get("num-other-sentinels", 0))
        replicas = int(fields.get("num-slaves", 0))
        if others != len(sentinels) - 1 or replicas != spec.replicas:
            return f"sees {others} other Sentinels and {replicas} replicas"
        if "down" in fields.get("flags", "") or "disconnected" in fields.get("flags", ""):
            return f"master flags are {fields.get('flags')}"
        return None

    wait_until(deadline, sentinels, sees_everyone, "Sentinels to see each other and the replicas")


def _build_cluster(
    spec: SandboxSpec, nodes: list[SandboxNode], clients: dict[str, redis.Redis], deadline: Deadline
) -> None:
    """Assign slots, introduce the nodes to each other, then attach the replicas (like redis-cli does)."""
    primaries = [n for n in nodes if n.role == "primary"]
    ids = {n.name: str(command(clients[n.name], "CLUSTER", "MYID")) for n in nodes}
    # Distinct config epochs up front spare the cluster its epoch-collision dance.
    for epoch, node in enumerate(nodes, start=1):
        command(clients[node.name], "CLUSTER", "SET-CONFIG-EPOCH", epoch)
    for index, node in enumerate(primaries):
        first = index * CLUSTER_SLOTS // len(primaries)
        last = (index + 1) * CLUSTER_SLOTS // len(primaries) - 1
        command(clients[node.name], "CLUSTER", "ADDSLOTSRANGE", first, last)
    # Every pair meets directly: waiting for gossip to spread the news takes seconds on 30 nodes.
    for index, node in enumerate(nodes):
        pipe = clients[node.name].pipeline(transaction=False)
        for other in nodes[index + 1 :]:
            pipe.execute_command("CLUSTER", "MEET", other.host, other.port)
        pipe.execute()

    def knows_everyone(node: SandboxNode) -> str | None:
        lines = str(command(clients[node.name], "CLUSTER", "NODES")).splitlines()
        settled = [ln for ln in lines if "handshake" not in ln and "noaddr" not in ln]
        return None if len(settled) == len(nodes) else f"knows {len(settled)} of {len(nodes)} nodes"

    wait_until(deadline, nodes, knows_everyone, "every cluster node to know all others")
    for node in nodes:
        if node.role == "replica":
            primary = next(p for p in primaries if p.shard == node.shard)
            command(clients[node.name], "CLUSTER", "REPLICATE", ids[primary.name])

    replicas_wanted = len(nodes) - len(primaries)

    def cluster_ok(node: SandboxNode) -> str | None:
        c = clients[node.name]
        state = str(command(c, "CLUSTER", "INFO"))
        if "cluster_state:ok" not in state:
            return "cluster_state is not ok"
        lines = str(command(c, "CLUSTER", "NODES")).splitlines()
        seen_replicas = sum(1 for ln in lines if "slave" in ln.split()[2])
        if seen_replicas != replicas_wanted:
            return f"sees {seen_replicas} of {replicas_wanted} replicas"
        return None

    wait_until(deadline, nodes, cluster_ok, "cluster_state:ok and every replica attached")
