"""Canary traffic: topology-aware clients that write a strictly increasing sequence at a fixed rate.

The clients behave like an application's, on purpose: the Sentinel client is redis-py's own
Sentinel-managed pool that keeps its connection (so the stale-acknowledgement trap shows), the
cluster client follows MOVED, and neither retries. Every write is recorded with its intended, send
and completion times, its outcome and the node that answered.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import redis
from redis import exceptions as rexc
from redis.cluster import ClusterNode, RedisCluster
from redis.sentinel import Sentinel

from redis_audit.facts.keyslot import key_slot
from redis_audit.failover.connections import ProbeAccess
from redis_audit.failover.model import Clock, WriteRecord
from redis_audit.guard import CANARY_KEY_PREFIX
from redis_audit.secret import scrub
from redis_audit.topology import Address

CANARY_TTL_MS = 3_600_000  # the keys also expire on their own, should clean-up ever be impossible


def canary_key(run_id: str, slots: tuple[int, int] | None = None) -> str:
    """The run's canary key, always under the reserved prefix; for a cluster, hash-tagged into `slots`."""
    if slots is None:
        return f"{CANARY_KEY_PREFIX}{run_id}"
    low, high = slots
    for index in range(100_000):
        tag = f"{run_id}:{index}"
        if low <= key_slot(tag.encode()) <= high:
            return f"{CANARY_KEY_PREFIX}{{{tag}}}"
    raise ValueError(f"no canary hash tag found for slots {low}-{high}")


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def error_class(exc: BaseException) -> str:
    """A short, stable name for a write failure: READONLY, NOREPLICAS, timeout, connection-refused, ..."""
    if isinstance(exc, rexc.ReadOnlyError):
        return "READONLY"
    if isinstance(exc, rexc.MovedError):
        return "MOVED"
    if isinstance(exc, rexc.TimeoutError | TimeoutError):
        return "timeout"
    message = scrub(exc)
    if isinstance(exc, rexc.ConnectionError | OSError):
        if "previous master is now a slave" in message:
            return "READONLY"  # redis-py's Sentinel pool turns READONLY into this ConnectionError
        if isinstance(exc, rexc.ConnectionError) and "MasterNotFound" in type(exc).__name__:
            return "master-not-found"
        if "refused" in message.lower():
            return "connection-refused"
        if "timeout" in message.lower() or "timed out" in message.lower():
            return "timeout"
        return "connection-error"
    if isinstance(exc, rexc.ResponseError):
        word = message.split(" ", 1)[0]
        return word if word.isupper() else "ERR"
    return type(exc).__name__


class CanaryClient(Protocol):
    def write(self, key: str, seq: int) -> tuple[Any, str | None, str | None]:
        """RPUSH key seq: (reply, answering node, its run id). Raises the client's exception."""

    def run(self, key: str, *args: Any) -> Any: ...

    def close(self) -> None: ...


class SentinelCanary:
    """redis-py's Sentinel client as apps use it: one pooled connection, resolved at connect only."""

    def __init__(self, access: ProbeAccess, sentinels: list[Address], master_name: str,
                 read_timeout_s: float, connect_timeout_s: float) -> None:
        kwargs = access.canary_kwargs(read_timeout_s, connect_timeout_s)
        self.sentinel = Sentinel([])
        self.sentinel.sentinels = [access.sentinel_client(a, read_timeout_s, connect_timeout_s) for a in sentinels]
        connection_class = access.canary_connection_class(sentinel_managed=True)
        self.client = self.sentinel.master_for(master_name, connection_class=connection_class, **kwargs)

    def write(self, key: str, seq: int) -> tuple[Any, str | None, str | None]:
        """What redis-py's execute_command does (connection from the pool, released after), keeping
        hold of the connection so the answer names its node. get_connection() re-resolves the
        primary through the Sentinels only when the pooled connection is not connected."""
        pool = self.client.connection_pool
        connection = pool.get_connection()
        try:
            connection.send_command("RPUSH", key, seq)
            reply = self.client.parse_response(connection, "RPUSH")
        except (rexc.ConnectionError, rexc.TimeoutError):
            connection.disconnect()
            raise
        finally:
            pool.release(connection)
        return reply, f"{connection.host}:{connection.port}", getattr(connection, "run_id", None)

    def run(self, key: str, *args: Any) -> Any:
        return self.client.execute_command(args[0], key, *args[1:])

    def close(self) -> None:
        self.client.close()
        for client in self.sentinel.sentinels:
            client.close()


class ClusterCanary:
    """redis-py's cluster client: follows MOVED, re-initialises on connection errors, no retries."""

    def __init__(self, access: ProbeAccess, seeds: list[Address], read_timeout_s: float,
                 connect_timeout_s: float) -> None:
        kwargs = access.canary_kwargs(read_timeout_s, connect_timeout_s)
        kwargs.pop("client_name", None)
        retry = kwargs.pop("retry")  # RedisCluster refuses a per-node retry; it takes the cluster-level one
        first, *rest = seeds
        # Only the URL form makes redis-py build its node pools with our (guarded) connection class;
        # given host/port it hands connection_class to Redis(), which rejects it. The URL carries no
        # credentials or TLS: those come from kwargs, and the TLS connection class is chosen here.
        self.client = RedisCluster(
            url=f"redis://{first.host}:{first.port}",
            startup_nodes=[ClusterNode(a.host, a.port) for a in rest],
            connection_class=access.canary_connection_class(),
            retry=retry,
            **kwargs,
        )

    def write(self, key: str, seq: int) -> tuple[Any, str | None, str | None]:
        try:
            reply = self.client.execute_command("RPUSH", key, seq)
        finally:
            node = self.client.get_node_from_key(key)
        return reply, node.name if node else None, None

    def run(self, key: str, *args: Any) -> Any:
        return self.client.execute_command(args[0], key, *args[1:])

    def close(self) -> None:
        self.client.close()


class DirectCanary:
    """One connection to the address `resolve` names (the endpoint, or the node whose ROLE is master);
    re-resolved after every connection error or READONLY, as a simple app would."""

    def __init__(self, access: ProbeAccess, resolve: Callable[[], Address], read_timeout_s: float,
                 connect_timeout_s: float) -> None:
        self.access = access
        self.resolve = resolve
        self.kwargs = access.canary_kwargs(read_timeout_s, connect_timeout_s)
        self.client: redis.Redis | None = None
        self.address: Address | None = None

    def _client(self) -> redis.Redis:
        if self.client is None:
            self.address = self.resolve()
            connection_class = self.access.canary_connection_class()
            pool = redis.ConnectionPool(connection_class=connection_class, host=self.address.host,
                                        port=self.address.port, **self.kwargs)
            self.client = redis.Redis(connection_pool=pool, single_connection_client=True)
        return self.client

    def write(self, key: str, seq: int) -> tuple[Any, str | None, str | None]:
        return self.run(key, "RPUSH", seq), str(self.address), getattr(self._connection(), "run_id", None)

    def _connection(self) -> Any:
        return self.client.connection if self.client is not None else None

    def run(self, key: str, *args: Any) -> Any:
        client = self._client()
        try:
            return client.execute_command(args[0], key, *args[1:])
        except (rexc.ConnectionError, rexc.TimeoutError, rexc.ReadOnlyError):
            self.close()
            raise

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


class CanaryWriter(threading.Thread):
    """Fixed-rate, open-loop writer: slot k is due at start + k/rate; missed slots are skipped, not bursted."""

    def __init__(self, client: CanaryClient, key: str, clock: Clock, rate_hz: int, wait_replicas: int = 0,
                 wait_timeout_ms: int = 100) -> None:
        super().__init__(name="failover-canary", daemon=True)
        self.client = client
        self.key = key
        self.clock = clock
        self.period_us = max(1, 1_000_000 // rate_hz)
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms
        self.records: list[WriteRecord] = []
        self._stop_event = threading.Event()
        self.failure: str | None = None

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        start = self.clock.now_us()
        slot = 0
        seq = 0
        try:
            while not self._stop_event.is_set():
                intended = start + slot * self.period_us
                now = self.clock.now_us()
                if now < intended:
                    time.sleep((intended - now) / 1e6)
                    continue
                seq += 1
                self.records.append(self._write(seq, intended))
                slot = max(slot + 1, (self.clock.now_us() - start) // self.period_us)
        except Exception as exc:  # never silently: the analysis reports a canary that died
            self.failure = f"{type(exc).__name__}: {scrub(exc)}"

    def _write(self, seq: int, intended: int) -> WriteRecord:
        sent = self.clock.now_us()
        node: str | None = None
        run_id: str | None = None
        try:
            reply, node, run_id = self.client.write(self.key, seq)
            if reply == 1:  # the list was just created (first write, or on a new primary)
                self.client.run(self.key, "PEXPIRE", CANARY_TTL_MS)
            waited = self._wait() if self.wait_replicas else None
            return WriteRecord(seq, intended, sent, self.clock.now_us(), "ack", None, node, run_id, waited)
        except Exception as exc:
            kind = error_class(exc)
            outcome = "timeout" if kind == "timeout" else "error"
            return WriteRecord(seq, intended, sent, self.clock.now_us(), outcome, kind, node, run_id)

    def _wait(self) -> int:
        # WAIT takes no key; it goes to the connection that just wrote (Sentinel/direct clients only).
        client = getattr(self.client, "client", None)
        if client is None or isinstance(client, RedisCluster):
            return 0
        return int(client.execute_command("WAIT", self.wait_replicas, self.wait_timeout_ms))
