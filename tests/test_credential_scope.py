"""The auditor's credentials go only to hosts the operator vouched for, whatever the servers advertise.

A real replica that announces itself (replica-announce-ip / cluster-announce-ip) at a listener we
control is named by the primary's INFO replication, by Sentinel's replica list, by the cluster's
shard map: the audit reports it (AUDIT-001, with who advertised it) and never sends it a byte. A
legitimate node on another loopback address is audited once the profile allows its host.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from redis_audit.cli.main import main
from redis_audit.node_trust import NodeTrust, parse_allowed
from redis_audit.sandbox import Sandbox, SandboxSpec, sandbox_cli_args
from redis_audit.target import Target, TlsOptions
from redis_audit.topology import Address

ROGUE_HOST = "127.0.0.5"


class Listener:
    """A plain socket that records every connection and byte it receives (it never answers)."""

    def __init__(self, host: str) -> None:
        self._server = socket.create_server((host, 0))
        self.port = int(self._server.getsockname()[1])
        self.connections = 0
        self.received = bytearray()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                while chunk := conn.recv(65536):
                    with self._lock:
                        self.received += chunk
            except OSError:
                return

    def close(self) -> None:
        self._server.close()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 40.0) -> None:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def replica_node(sandbox: Sandbox) -> Any:
    return next(n for n in sandbox.info.nodes if n.role == "replica")


def announce(sandbox: Sandbox, host: str, port: int) -> None:
    """Make a real replica announce itself at host:port, and wait until the seed's view names it."""
    node = replica_node(sandbox)
    admin = sandbox.admin_client(node)
    if sandbox.spec.topology == "cluster":
        admin.config_set("cluster-announce-ip", host)
        admin.config_set("cluster-announce-port", str(port))
        seed = sandbox.admin_client(sandbox.info.nodes[0])
        wait_for(lambda: f"{host}:{port}" in seed.execute_command("CLUSTER", "NODES"), "the shard map to name it")
        return
    admin.config_set("replica-announce-ip", host)
    admin.config_set("replica-announce-port", str(port))
    admin.execute_command("CLIENT", "KILL", "TYPE", "master")  # a new handshake carries the announced address
    primary = sandbox.admin_client(next(n for n in sandbox.info.nodes if n.role == "primary"))
    wait_for(lambda: any(f"ip={host},port={port}" in str(v) or (isinstance(v, dict) and v.get("ip") == host)
                         for v in primary.info("replication").values()), "INFO replication to name it")
    if sandbox.spec.topology == "sentinel":
        sentinel = sandbox.admin_client(next(n for n in sandbox.info.nodes if n.is_sentinel))
        wait_for(lambda: any(r.get("ip") == host and int(r.get("port")) == port
                             for r in sentinel.sentinel_slaves("mymaster")), "Sentinel to name it", 60)


def audit_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    main(["run", *args, "--format", "json"])
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def rogue() -> Iterator[Listener]:
    listener = Listener(ROGUE_HOST)
    yield listener
    listener.close()


@pytest.mark.parametrize("topology", ["replicated", "sentinel", "cluster"])
def test_a_node_announced_elsewhere_gets_no_credentials_and_is_reported(
        fresh_sandbox: Callable[[SandboxSpec], Sandbox], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        rogue: Listener, topology: str) -> None:
    sandbox = fresh_sandbox(SandboxSpec(topology=topology))  # type: ignore[arg-type]
    announce(sandbox, ROGUE_HOST, rogue.port)
    args = sandbox_cli_args(sandbox, tmp_path)
    report = audit_json(args, capsys)
    main(["census", *args, "--format", "json"])  # discovery of the census too
    capsys.readouterr()
    password = sandbox.password("auditor").encode()
    assert password not in rogue.received and b"auditor" not in rogue.received
    if topology != "sentinel":  # Sentinel itself pings the replicas it knows: only our bytes must be absent
        assert rogue.connections == 0 and rogue.received == b""
    rogue_address = f"{ROGUE_HOST}:{rogue.port}"
    assert rogue_address not in [n["address"] for n in report["topology"]["nodes"]]
    errors = [f for f in report["findings"] if f["checkId"] == "AUDIT-001" and f["resource"] == rogue_address]
    assert [f["status"] for f in errors] == ["ERROR"], [f for f in report["findings"] if f["checkId"] == "AUDIT-001"]
    assert "advertised by" in errors[0]["message"] and "[target] allowed_hosts" in errors[0]["message"]
    source = {"replicated": "(INFO replication slave", "sentinel": "(SENTINEL REPLICAS)",
              "cluster": "(CLUSTER SHARDS)"}[topology]
    assert source in errors[0]["message"]


def test_a_legitimate_node_on_another_loopback_address_is_audited_when_the_profile_allows_it(
        fresh_sandbox: Callable[[SandboxSpec], Sandbox], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox = fresh_sandbox(SandboxSpec(topology="replicated"))
    node = replica_node(sandbox)
    sandbox.admin_client(node).config_set("bind", "127.0.0.1 127.0.0.2 -::1")  # it really listens there
    announce(sandbox, "127.0.0.2", node.port)
    address = f"127.0.0.2:{node.port}"
    args = sandbox_cli_args(sandbox, tmp_path)

    refused = audit_json(args, capsys)
    assert address not in [n["address"] for n in refused["topology"]["nodes"]]
    assert any(f["resource"] == address and f["status"] == "ERROR" for f in refused["findings"])

    for allowed in ("127.0.0.2", "127.0.0.0/29"):  # an address, a network
        profile = tmp_path / "profile.toml"
        profile.write_text(f'[target]\nallowed_hosts = ["{allowed}"]\n')
        report = audit_json([*args, "--profile", str(profile)], capsys)
        assert address in [n["address"] for n in report["topology"]["nodes"]], allowed
        audit = [f for f in report["findings"] if f["checkId"] == "AUDIT-001"]
        assert [f["status"] for f in audit] == ["PASS"], audit


def test_a_bad_allowed_hosts_entry_is_a_one_line_profile_error(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_text('[target]\nallowed_hosts = ["10.0.0.0/8", "not a host"]\n')
    assert main(["run", "redis://127.0.0.1:1", "--profile", str(profile)]) == 2
    err = capsys.readouterr().err
    assert "target.allowed_hosts" in err and len(err.splitlines()) == 1


# -- the rule itself ------------------------------------------------------------------------------

def trust(*seeds: str, allowed: tuple[str, ...] = (), tls: TlsOptions | None = None) -> NodeTrust:
    return NodeTrust.for_target(Target("redis", tuple(Address.parse(s) for s in seeds), tls=tls or TlsOptions(),
                                       allowed_hosts=allowed))


def test_the_trust_rule() -> None:
    plain = trust("127.0.0.1:6379")
    assert plain.allows(Address("127.0.0.1", 7000))  # another port of a seed host
    assert not plain.allows(Address("127.0.0.2", 6379)) and not plain.allows(Address("10.0.0.9", 6379))
    assert trust("localhost:6379").allows(Address("127.0.0.1", 6380))  # a seed name, by what it resolves to
    networks = trust("10.0.0.1:6379", allowed=("10.0.1.0/24", "fd00::/64", "cache-2.internal"))
    assert networks.allows(Address("10.0.1.77", 6379)) and networks.allows(Address("fd00::5", 6379))
    assert networks.allows(Address("CACHE-2.internal.", 6379)) and not networks.allows(Address("10.0.2.1", 6379))
    # TLS with verification: the handshake proves the name before AUTH, for names under a seed's domain,
    # or for any name when the operator pinned the CA; public CAs alone vouch for nothing else.
    public = trust("redis-1.cache.example.com:6380", tls=TlsOptions(enabled=True))
    assert public.allows(Address("redis-2.cache.example.com", 6380))
    assert not public.allows(Address("evil.example.net", 6380)) and not public.allows(Address("10.0.0.8", 6380))
    pinned = trust("10.0.0.1:6380", tls=TlsOptions(enabled=True, ca_file=Path("/etc/ca.pem")))
    assert pinned.allows(Address("anything.internal", 6380))
    insecure = trust("redis-1.cache.example.com:6380", tls=TlsOptions(enabled=True, verify=False,
                                                                      ca_file=Path("/etc/ca.pem")))
    assert not insecure.allows(Address("redis-2.cache.example.com", 6380))
    for bad in ("", "a b", "user@host", "10.0.0.0/33x"):
        with pytest.raises(ValueError):
            parse_allowed(bad)


def test_connections_that_follow_addresses_later_do_not_open_to_an_unexpected_host(
        sandboxes: Any, rogue: Listener) -> None:
    """The failover probe follows Sentinels and redirects after discovery: its connections carry the scope."""
    import redis

    from redis_audit.client import Timeouts, open_client
    from redis_audit.failover.connections import CanaryConnection, ProbeAccess
    from redis_audit.sandbox import sandbox_target

    target = sandbox_target(sandboxes.get(SandboxSpec(topology="standalone")))
    scope = NodeTrust.for_target(target)
    elsewhere = Address(ROGUE_HOST, rogue.port)
    access = ProbeAccess(target, Timeouts(1.0, 1.0))
    attempts: list[Callable[[], object]] = [
        lambda: open_client(elsewhere, tls=target.tls, credentials=target.credentials, scope=scope).ping(),
        lambda: access.call(elsewhere, "PING"),
        lambda: redis.Redis(connection_pool=redis.ConnectionPool(
            connection_class=access.scoped(CanaryConnection), host=elsewhere.host, port=elsewhere.port,
            **access.canary_kwargs(1.0, 1.0))).ping(),
    ]
    for attempt in attempts:
        with pytest.raises(redis.ConnectionError, match="not contacted"):
            attempt()
    assert rogue.connections == 0 and rogue.received == b""
    assert open_client(target.seeds[0], tls=target.tls, credentials=target.credentials, scope=scope).ping()
    assert access.call(target.seeds[0], "PING") in (b"PONG", "PONG", True)
