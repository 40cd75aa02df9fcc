"""Guarded connections: the only way the engine talks to a node.

Every connection carries a CommandPolicy in its command packer (guard.py), a connect
timeout and a per-command timeout. Replies are returned raw (no redis-py response
callbacks), so collectors see exactly what the server said, as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from redis_audit.guard import READ_ONLY, CommandPolicy, GuardedPacker, GuardedSend
from redis_audit.node_trust import NodeTrust, scoped
from redis_audit.target import Credentials, TlsOptions
from redis_audit.topology import Address

CLIENT_NAME = "redis-audit"


class GuardedConnection(GuardedSend, redis.Connection):
    def __init__(self, *args: Any, command_policy: CommandPolicy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._command_packer = GuardedPacker(self._command_packer, command_policy)


class GuardedSSLConnection(GuardedSend, redis.SSLConnection):
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
) -> redis.Redis:
    """A redis-py client for one node whose every command passes the policy; replies are raw.

    With a `scope`, its connections do not open to a host the scope does not trust with credentials."""
    connection_class: type[redis.Connection] = GuardedSSLConnection if tls.enabled else GuardedConnection
    if scope is not None:
        connection_class = scoped(connection_class, scope)
    pool = redis.ConnectionPool(
        connection_class=connection_class,
        command_policy=policy,
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
