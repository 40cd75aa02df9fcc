"""Each topology comes up healthy on real servers, on Redis and on Valkey."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from redis_audit.sandbox import Sandbox, SandboxSpec
from redis_audit.sandbox.readiness import command
from tests.conftest import SandboxPool


def _sentinel_master(client: redis.Redis, name: str) -> dict[str, Any]:
    reply = command(client, "SENTINEL", "MASTER", name)
    return reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2], strict=True))


def _assert_replication_healthy(sb: Sandbox, replicas_per_primary: int) -> None:
    for node in sb.info.nodes:
        if node.is_sentinel:
            continue
        with sb.admin_client(node) as client:
            replication = client.info("replication")
        if node.role == "primary":
            assert replication["role"] == "master"
            assert replication["connected_slaves"] == replicas_per_primary
        else:
            assert replication["role"] == "slave"
            assert replication["master_link_status"] == "up"


def _assert_sentinels_healthy(sb: Sandbox, spec: SandboxSpec) -> None:
    sentinels = sb.info.nodes_with_role("sentinel")
    assert len(sentinels) == spec.sentinels
    primary = sb.info.nodes_with_role("primary")[0]
    for node in sentinels:
        with sb.admin_client(node) as client:
            master = _sentinel_master(client, spec.master_name)
        assert int(master["num-other-sentinels"]) == spec.sentinels - 1
        assert int(master["num-slaves"]) == spec.replicas
        assert int(master["port"]) == primary.port
        assert master["flags"] == "master"


def test_standalone_answers_ping(sandboxes: SandboxPool) -> None:
    sb = sandboxes.get(SandboxSpec(topology="standalone"))
    [node] = sb.info.nodes
    assert node.role == "primary"
    assert sb.info.target_url == f"redis://127.0.0.1:{node.port}"
    with sb.admin_client(node) as client:
        assert client.ping()
        assert client.info("replication")["connected_slaves"] == 0


def test_replicated_links_are_up(sandboxes: SandboxPool) -> None:
    spec = SandboxSpec(topology="replicated")
    sb = sandboxes.get(spec)
    assert len(sb.info.nodes_with_role("replica")) == spec.replicas
    _assert_replication_healthy(sb, spec.replicas)


def test_sentinel_tls_sees_replicas_and_peers(sandboxes: SandboxPool) -> None:
    spec = SandboxSpec(topology="sentinel", tls=True)
    sb = sandboxes.get(spec)
    hosts = ",".join(n.address for n in sb.info.nodes_with_role("sentinel"))
    assert sb.info.target_url == f"rediss+sentinel://{hosts}/mymaster"
    _assert_replication_healthy(sb, spec.replicas)
    _assert_sentinels_healthy(sb, spec)


def test_cluster_is_ok_with_a_replica_per_primary(sandboxes: SandboxPool) -> None:
    spec = SandboxSpec(topology="cluster")
    sb = sandboxes.get(spec)
    data_nodes = [n for n in sb.info.nodes if not n.is_sentinel]
    assert len(sb.info.nodes_with_role("primary")) == 3
    assert len(data_nodes) == 6
    for node in data_nodes:
        with sb.admin_client(node) as client:
            info = str(command(client, "CLUSTER", "INFO"))
            assert "cluster_state:ok" in info
            assert "cluster_slots_assigned:16384" in info
            assert "cluster_known_nodes:6" in info
    _assert_replication_healthy(sb, spec.cluster_replicas)
    # Each replica follows the primary of its own shard.
    for replica in sb.info.nodes_with_role("replica"):
        primary = next(p for p in sb.info.nodes_with_role("primary") if p.shard == replica.shard)
        with sb.admin_client(replica) as client:
            assert client.info("replication")["master_port"] == primary.port


@pytest.mark.parametrize("topology", ["standalone", "sentinel"])
def test_valkey_comes_up(sandboxes: SandboxPool, topology: str) -> None:
    spec = SandboxSpec(topology=topology, engine="valkey")  # type: ignore[arg-type]
    sb = sandboxes.get(spec)
    assert sb.info.engine == "valkey"
    assert int(sb.info.version.split(".")[0]) >= 8
    with sb.admin_client(sb.info.nodes[0]) as client:
        assert "valkey_version" in client.info("server")
    if topology == "sentinel":
        _assert_replication_healthy(sb, spec.replicas)
        _assert_sentinels_healthy(sb, spec)


@pytest.mark.slow
def test_thirty_node_cluster_comes_up(fresh_sandbox: Callable[[SandboxSpec], Sandbox]) -> None:
    # The benchmark audits a 30-node cluster: it must start, and start in seconds.
    started = time.monotonic()
    sb = fresh_sandbox(SandboxSpec(topology="cluster", cluster_primaries=15, cluster_replicas=1))
    assert time.monotonic() - started < 30
    assert len(sb.info.nodes) == 30
    seed = sb.info.nodes[0]
    assert sb.info.target_url == f"redis://127.0.0.1:{seed.port}"
    with sb.admin_client(seed) as client:
        info = str(command(client, "CLUSTER", "INFO"))
    assert "cluster_state:ok" in info and "cluster_known_nodes:30" in info
