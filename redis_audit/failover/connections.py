"""Connections of the failover probe: the same guard as the audit, with the probe's own policies.

Control connections (trigger, watchers, clean-up) use FAILOVER_CONTROL; canary clients use
FAILOVER_CANARY, which confines every key to the reserved canary prefix. Replies keep redis-py's
parsing here (the canary clients are meant to behave like an application's). Every connection is
bounded like the audit's (client.BoundedConnection) and watched by the probe's Deadline: the canary
classes are made per ProbeAccess, with its deadline, because redis-py instantiates them itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import SentinelManagedConnection, SentinelManagedSSLConnection

from redis_audit.client import BoundedConnection, Timeouts, open_client, tls_kwargs
from redis_audit.deadline import Deadline
from redis_audit.facts.parse import parse_info
from redis_audit.facts.values import as_text
from redis_audit.guard import FAILOVER_CANARY, FAILOVER_CONTROL, CommandPolicy, GuardedPacker, GuardedSend
from redis_audit.node_trust import NodeTrust, scoped
from redis_audit.target import Credentials, Target, TlsOptions
from redis_audit.topology import Address

CLIENT_NAME = "redis-audit-failover"


class _RunIdMixin:
    """Learns the server's run id at connect (INFO server), so every canary write names its node."""

    run_id: str | None = None

    def on_connect_check_health(self, check_health: bool = True) -> None:
        super().on_connect_check_health(check_health=check_health)  # type: ignore[misc]
        self.send_command("INFO", "server", check_health=False)  # type: ignore[attr-defined]
        info = parse_info(as_text(self.read_response()))  # type: ignore[attr-defined]
        self.run_id = info.get("server", {}).get("run_id")


def _guarded(base: type[Any], policy: CommandPolicy, name: str, deadline: Deadline | None = None) -> type[Any]:
    """A connection class whose packer refuses anything outside the policy, bounded under `deadline`
    (works where redis-py builds the connections itself: cluster nodes, Sentinel-managed pools)."""

    class Guarded(_RunIdMixin, BoundedConnection, GuardedSend, base):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._command_packer = GuardedPacker(self._command_packer, policy)

    Guarded.__name__ = Guarded.__qualname__ = name
    Guarded.deadline = deadline
    return Guarded


CanaryConnection = _guarded(redis.Connection, FAILOVER_CANARY, "CanaryConnection")


@dataclass(frozen=True)
class ProbeAccess:
    """How the probe reaches the deployment: the target with the operator's credentials."""

    target: Target
    timeouts: Timeouts
    deadline: Deadline | None = None

    @property
    def tls(self) -> TlsOptions:
        return self.target.tls

    @cached_property
    def scope(self) -> NodeTrust:
        """Where the operator's credentials may go: the probe follows Sentinels and redirects."""
        return NodeTrust.for_target(self.target)

    def scoped(self, connection_class: type[Any]) -> type[Any]:
        return scoped(connection_class, self.scope)

    @cached_property
    def _canary_classes(self) -> dict[bool, type[Any]]:
        tls, d = self.tls.enabled, self.deadline
        plain = (redis.SSLConnection, "CanarySSLConnection") if tls else (redis.Connection, "CanaryConnection")
        managed = ((SentinelManagedSSLConnection, "CanarySentinelSSLConnection") if tls
                   else (SentinelManagedConnection, "CanarySentinelConnection"))
        return {False: self.scoped(_guarded(plain[0], FAILOVER_CANARY, plain[1], d)),
                True: self.scoped(_guarded(managed[0], FAILOVER_CANARY, managed[1], d))}

    def canary_connection_class(self, *, sentinel_managed: bool = False) -> type[Any]:
        """The canary's connection class (TLS or not, as the target): credentials only where the scope
        allows, and bounded under this access's deadline."""
        return self._canary_classes[sentinel_managed]

    def control(self, address: Address, *, sentinel: bool = False, timeout_s: float | None = None) -> redis.Redis:
        """A raw-reply client for trigger, watchers and clean-up (policy FAILOVER_CONTROL)."""
        credentials = self.target.sentinel_credentials if sentinel else self.target.credentials
        timeouts = self.timeouts if timeout_s is None else Timeouts(self.timeouts.connect_s, timeout_s)
        return open_client(address, tls=self.tls, credentials=credentials, timeouts=timeouts,
                           policy=FAILOVER_CONTROL, client_name=CLIENT_NAME, scope=self.scope, deadline=self.deadline)

    def call(self, address: Address, *args: Any, sentinel: bool = False, cluster_replica: bool = False) -> Any:
        """One command on one connection; `cluster_replica`: READONLY first, so that a cluster replica
        answers a read of the canary key instead of redirecting it (MOVED)."""
        client = self.control(address, sentinel=sentinel)
        try:
            if cluster_replica:
                client.execute_command("READONLY")
            return client.execute_command(*args)
        finally:
            client.close()

    def canary_range(self, address: Address, key: str, *, cluster: bool = False) -> list[Any]:
        return list(self.call(address, "LRANGE", key, 0, -1, cluster_replica=cluster))

    def read(self, address: Address, *args: Any, sentinel: bool = False) -> Any:
        """One read-only command (preflight never changes anything: it uses the READ_ONLY policy)."""
        credentials = self.target.sentinel_credentials if sentinel else self.target.credentials
        client = open_client(address, tls=self.tls, credentials=credentials, timeouts=self.timeouts,
                             client_name=CLIENT_NAME, scope=self.scope, deadline=self.deadline)
        try:
            return client.execute_command(*args)
        finally:
            client.close()

    def info(self, address: Address, section: str, *, sentinel: bool = False) -> dict[str, str]:
        return parse_info(as_text(self.read(address, "INFO", section, sentinel=sentinel))).get(section, {})

    def canary_kwargs(self, read_timeout_s: float, connect_timeout_s: float) -> dict[str, Any]:
        """Connection options of a canary client: the app's timeouts, and no client retries."""
        credentials: Credentials = self.target.credentials
        return {
            "username": credentials.user,
            "password": credentials.password.reveal() if credentials.password else None,
            "socket_timeout": read_timeout_s,
            "socket_connect_timeout": connect_timeout_s,
            "retry": Retry(NoBackoff(), 0),
            "decode_responses": True,
            "protocol": 2,
            "client_name": CLIENT_NAME + "-canary",
            **tls_kwargs(self.tls),
        }

    def sentinel_client(self, address: Address, read_timeout_s: float, connect_timeout_s: float) -> redis.Redis:
        """A parsed-reply Sentinel client for the canary's Sentinel-aware discovery (read commands only)."""
        credentials = self.target.sentinel_credentials
        pool = redis.ConnectionPool(
            connection_class=self.canary_connection_class(),
            host=address.host,
            port=address.port,
            username=credentials.user,
            password=credentials.password.reveal() if credentials.password else None,
            socket_timeout=read_timeout_s,
            socket_connect_timeout=connect_timeout_s,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
            protocol=2,
            **tls_kwargs(self.tls),
        )
        return redis.Redis(connection_pool=pool)
