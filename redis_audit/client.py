"""Guarded connections: the only way the engine talks to a node.

Every connection carries a CommandPolicy in its command packer (guard.py), a connect
timeout and a per-command timeout. Its socket is a BoundedSocket (replies.py): each reply
is metered against its command's limit and must be complete within the command timeout,
and nothing outlives the audit's Deadline (deadline.py). Replies are returned raw (no
redis-py response callbacks), so collectors see exactly what the server said, as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from redis_audit.deadline import Deadline, handshake_guard
from redis_audit.guard import READ_ONLY, CommandPolicy, GuardedPacker, GuardedSend, command_key
from redis_audit.node_trust import NodeTrust, scoped
from redis_audit.replies import BoundedSocket
from redis_audit.target import Credentials, TlsOptions
from redis_audit.topology import Address

CLIENT_NAME = "redis-audit"


class BoundedConnection:
    """Mixin for a redis-py connection class: its socket is a BoundedSocket under `deadline`.

    The deadline comes as a keyword (open_client) or as a class attribute (classes that redis-py
    instantiates itself: the failover probe's cluster and Sentinel-managed pools).
    """

    deadline: Deadline | None = None
    host: str
    port: int
    socket_timeout: float | None
    socket_connect_timeout: float | None

    def __init__(self, *args: Any, deadline: Deadline | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if deadline is not None:
            self.deadline = deadline
        self._connect_timeout = self.socket_connect_timeout

    def _connect(self) -> BoundedSocket:
        where = f"{self.host}:{self.port}"
        if self.deadline is not None:
            self.deadline.check(f"connecting to {where}")
            left = max(0.001, self.deadline.remaining())
            self.socket_connect_timeout = min(self._connect_timeout or left, left)
        return BoundedSocket(super()._connect(), self.deadline, where)  # type: ignore[misc]

    def _wrap_socket_with_ssl(self, sock: Any) -> Any:
        """The TLS handshake within the connect timeout in all (a per-recv timeout never trips on a drip)."""
        wrap = super()._wrap_socket_with_ssl  # type: ignore[misc]
        budget = self._connect_timeout or self.socket_timeout or 10.0
        with handshake_guard(sock, budget, f"the TLS handshake with {self.host}:{self.port}", self.deadline):
            return wrap(sock)

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        super().send_command(*args, **kwargs)  # type: ignore[misc]
        sock = getattr(self, "_sock", None)
        if isinstance(sock, BoundedSocket):  # the reply to come is this command's: meter it by its limit
            sock.meter.expect(command_key(args))

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        sock = getattr(self, "_sock", None)
        bounded = sock if isinstance(sock, BoundedSocket) else None
        if bounded is not None:
            bounded.begin_reply(self.socket_timeout)
        try:
            return super().read_response(*args, **kwargs)  # type: ignore[misc]
        except Exception as exc:
            # redis-py rewrites a timeout as "Timeout reading from host": keep what really happened.
            failure = bounded.failure if bounded is not None else None
            if failure is None or failure is exc:
                raise
            raise failure from None
        finally:
            if bounded is not None:
                bounded.end_reply()


class GuardedConnection(BoundedConnection, GuardedSend, redis.Connection):
    def __init__(self, *args: Any, command_policy: CommandPolicy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._command_packer = GuardedPacker(self._command_packer, command_policy)


class GuardedSSLConnection(BoundedConnection, GuardedSend, redis.SSLConnection):
    def __init__(self, *args: Any, command_policy: CommandPolicy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._command_packer = GuardedPacker(self._command_packer, command_policy)


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 2.0
    command_s: float = 3.0


def tls_kwargs(tls: TlsOptions) -> dict[str, Any]:
    if not tls.enabled:
        return {}
    return {
        "ssl_cert_reqs": "required" if tls.verify else "none",
        "ssl_check_hostname": tls.verify,
        "ssl_ca_certs": str(tls.ca_file) if tls.ca_file else None,
        "ssl_certfile": str(tls.cert_file) if tls.cert_file else None,
        "ssl_keyfile": str(tls.key_file) if tls.key_file else None,
    }


def open_client(
    address: Address,
    *,
    tls: TlsOptions,
    credentials: Credentials,
    timeouts: Timeouts = Timeouts(),
    policy: CommandPolicy = READ_ONLY,
    decode: bool = True,
    client_name: str | None = CLIENT_NAME,
    scope: NodeTrust | None = None,
    deadline: Deadline | None = None,
) -> redis.Redis:
    """A redis-py client for one node whose every command passes the policy; replies are raw and
    bounded (replies.py); with a deadline, no call of this client outlives it.

    With a `scope`, its connections do not open to a host the scope does not trust with credentials."""
    connection_class: type[redis.Connection] = GuardedSSLConnection if tls.enabled else GuardedConnection
    if scope is not None:
        connection_class = scoped(connection_class, scope)
    pool = redis.ConnectionPool(
        connection_class=connection_class,
        command_policy=policy,
        deadline=deadline,
        host=address.host,
        port=address.port,
        username=credentials.user,
        password=credentials.password.reveal() if credentials.password else None,
        socket_connect_timeout=timeouts.connect_s,
        socket_timeout=timeouts.command_s,
        retry=Retry(NoBackoff(), 0),
        decode_responses=decode,
        protocol=2,  # RESP2: plain replies; RESP3 would also start maintenance-notification handshakes
        client_name=client_name,
        max_connections=4,
        **tls_kwargs(tls),
    )
    client = redis.Redis(connection_pool=pool, single_connection_client=False)
    client.response_callbacks.clear()  # raw replies: collectors parse them, as text
    return client
