"""The presets: good is locked down (ACL users, TLS-only), bad looks like a default install."""

from __future__ import annotations

import json
import socket
import ssl
import stat

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from redis_audit.sandbox import SandboxError, SandboxSpec
from tests.conftest import SandboxPool


def _plain_client(port: int) -> redis.Redis:
    # No retries: a refused AUTH is the expected answer, not something to back off and retry.
    return redis.Redis(port=port, socket_timeout=2, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0))


def _raw_ping(port: int) -> bytes:
    """What a plaintext PING gets back, without a client library's retries."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        try:
            return sock.recv(64)
        except (TimeoutError, ConnectionResetError):
            return b""


def test_good_preset_default_user_is_off(sandboxes: SandboxPool) -> None:
    sb = sandboxes.get(SandboxSpec(topology="standalone"))
    node = sb.info.nodes[0]
    with _plain_client(node.port) as client, pytest.raises(redis.exceptions.AuthenticationError):
        client.ping()
    with sb.admin_client(node) as admin:
        assert "off" in admin.acl_getuser("default")["flags"]


def test_good_preset_auditor_reads_but_cannot_config_set(sandboxes: SandboxPool) -> None:
    sb = sandboxes.get(SandboxSpec(topology="standalone"))
    with sb.client(sb.info.nodes[0], sb.info.auditor_user) as auditor:
        assert auditor.ping()
        assert auditor.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
        with pytest.raises(redis.exceptions.NoPermissionError):
            auditor.config_set("maxmemory", "1mb")
        with pytest.raises(redis.exceptions.NoPermissionError):
            auditor.set("k", "v")


def test_good_preset_app_user_is_confined_to_its_keys(sandboxes: SandboxPool) -> None:
    sb = sandboxes.get(SandboxSpec(topology="standalone"))
    with sb.client(sb.info.nodes[0], sb.info.app_user) as app:
        assert app.incr("rl:test") >= 1
        with pytest.raises(redis.exceptions.NoPermissionError):
            app.set("other:key", "v")
        with pytest.raises(redis.exceptions.NoPermissionError):
            app.flushall()


def test_good_preset_is_production_like(sandboxes: SandboxPool) -> None:
    sb = sandboxes.get(SandboxSpec(topology="replicated"))
    with sb.admin_client(sb.info.nodes_with_role("primary")[0]) as admin:
        config = admin.config_get("*")
    assert config["maxmemory"] == str(256 * 1024 * 1024)
    assert config["maxmemory-policy"] == "allkeys-lru"
    assert config["protected-mode"] == "yes"
    assert config["appendonly"] == "yes"
    assert config["min-replicas-to-write"] == "1"
    assert config["bind"].split()[0] == "127.0.0.1"


def test_tls_only_node_refuses_plaintext(sandboxes: SandboxPool) -> None:
    sb = sandboxes.get(SandboxSpec(topology="sentinel", tls=True))
    for node in sb.info.nodes:
        assert node.tls and node.plaintext_port is None
        # Speaking plaintext to the TLS port gets no Redis reply: the handshake fails, the server hangs up.
        assert not _raw_ping(node.port).startswith(b"+PONG")
        if not node.is_sentinel:  # Sentinel has no CONFIG GET
            with sb.admin_client(node) as admin:
                assert admin.config_get("port")["port"] == "0"


def test_tls_client_verifies_the_sandbox_ca(sandboxes: SandboxPool) -> None:
    sb = sandboxes.get(SandboxSpec(topology="sentinel", tls=True))
    node = sb.info.nodes_with_role("primary")[0]
    context = ssl.create_default_context(cafile=str(sb.info.ca_file))
    with (
        socket.create_connection((node.host, node.port), timeout=2) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_sentinel_users_differ_from_data_users(sandboxes: SandboxPool) -> None:
    sb = sandboxes.get(SandboxSpec(topology="sentinel", tls=True))
    assert sb.sentinel_password("auditor") != sb.password("auditor")
    sentinel = sb.info.nodes_with_role("sentinel")[0]
    with sb.client(sentinel, "auditor") as auditor:
        assert auditor.ping()
        with pytest.raises(redis.exceptions.NoPermissionError):
            auditor.execute_command("SENTINEL", "SET", "mymaster", "quorum", "1")


def test_bad_preset_accepts_unauthenticated_ping(sandboxes: SandboxPool) -> None:
    sb = sandboxes.get(SandboxSpec(topology="standalone", preset="bad"))
    node = sb.info.nodes[0]
    assert sb.info.auditor_user is None
    with _plain_client(node.port) as client:
        assert client.ping()
        assert client.config_get("maxmemory") == {"maxmemory": "0"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        assert client.config_get("bind") == {"bind": "127.0.0.1"}
    with pytest.raises(SandboxError, match="no ACL users"):
        sb.password("auditor")


def test_bad_preset_with_tls_keeps_a_plaintext_port(sandboxes: SandboxPool) -> None:
    sb = sandboxes.get(SandboxSpec(topology="standalone", preset="bad", tls=True))
    node = sb.info.nodes[0]
    assert sb.info.target_url == f"rediss://127.0.0.1:{node.port}"
    assert node.plaintext_port is not None and node.plaintext_port != node.port
    with _plain_client(node.plaintext_port) as client:
        assert client.ping()
    with sb.admin_client(node) as client:
        assert client.ping()


def test_credentials_file_is_private_and_status_shows_no_password(sandboxes: SandboxPool) -> None:
    sb = sandboxes.get(SandboxSpec(topology="sentinel", tls=True))
    mode = stat.S_IMODE(sb.info.credentials_file.stat().st_mode)
    assert mode == 0o600
    credentials = json.loads(sb.info.credentials_file.read_text())
    passwords = [p for users in credentials.values() for p in users.values()]
    assert len(passwords) == 8
    text = json.dumps(sb.status())
    assert str(sb.info.credentials_file) in text
    for password in passwords:
        assert password not in text
    for node in sb.info.nodes:
        # The ACL files and Sentinel configs hold hashes, not passwords.
        acl = node.dir / "users.acl"
        if acl.exists():
            assert all(p not in acl.read_text() for p in passwords)
        # Configs hold masterauth / auth-pass, and a CONFIG REWRITE recreates them with the umask:
        # the node directory is what keeps them private.
        assert stat.S_IMODE(node.dir.stat().st_mode) == 0o700
