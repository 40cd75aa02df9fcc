"""Canary traffic for AWS API failovers (ElastiCache TestFailover, MemoryDB FailoverShard).

The canary talks to the endpoint the control plane describes, as an application does: the primary
endpoint (cluster mode disabled) with one direct connection that re-resolves the name after a
connection error or READONLY, or the configuration / cluster endpoint with redis-py's cluster client
(MOVED, slot map refresh) and a key hash-tagged into the failed-over shard's slots. The same writer
as the Redis-command path (reserved key prefix, TTL, strictly increasing sequence, no retries) runs
from before the trigger until recovery has finished; the sequence is then read back through a new
connection to the same endpoint (the final primary behind it) and deleted.

Behind one DNS name the answering server is told apart by its run id (learnt at connect), so each
write's node reads "endpoint (run id)": the first one after the trigger with another run id than
the last one before it is the new primary.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from redis_audit.client import Timeouts
from redis_audit.deadline import Deadline
from redis_audit.facts.values import as_text
from redis_audit.failover.analysis import stale_ack_metrics, write_metrics
from redis_audit.failover.canary import CanaryClient, CanaryWriter, ClusterCanary, DirectCanary, canary_key, new_run_id
from redis_audit.failover.connections import ProbeAccess
from redis_audit.failover.model import Clock, ProbeOptions, WriteRecord
from redis_audit.jsonvalue import JsonObject
from redis_audit.secret import scrub
from redis_audit.target import Target
from redis_audit.topology import Address


@dataclass(frozen=True)
class Endpoint:
    """Where an application connects: the primary endpoint, or the configuration endpoint (cluster)."""

    address: Address
    cluster: bool
    slots: tuple[int, int] | None = None  # the failed-over shard's first slot range (cluster)

    def describe(self) -> str:
        kind = "configuration endpoint (cluster client)" if self.cluster else "primary endpoint (direct client)"
        return f"{kind} {self.address}"


def _slot_range(text: Any) -> tuple[int, int] | None:
    """ElastiCache NodeGroups[].Slots / MemoryDB Shards[].Slots: "0-5461" (first range of a list)."""
    first = str(text or "").split(",", 1)[0].strip()
    low, _, high = first.partition("-")
    return (int(low), int(high or low)) if low.isdigit() and (high or low).isdigit() else None


def _address(value: Any) -> Address | None:
    if isinstance(value, dict) and value.get("Address") and value.get("Port"):
        return Address(str(value["Address"]), int(value["Port"]))
    return None


def elasticache_endpoint(group: dict[str, Any], shard: dict[str, Any] | None) -> Endpoint | None:
    configuration = _address(group.get("ConfigurationEndpoint"))
    if configuration is not None:
        return Endpoint(configuration, True, _slot_range((shard or {}).get("Slots")))
    primary = _address((shard or {}).get("PrimaryEndpoint"))
    return Endpoint(primary, False) if primary is not None else None


def memorydb_endpoint(cluster: dict[str, Any], shard: dict[str, Any] | None) -> Endpoint | None:
    address = _address(cluster.get("ClusterEndpoint"))
    return Endpoint(address, True, _slot_range((shard or {}).get("Slots"))) if address is not None else None


class EndpointCanary:
    """start() before the trigger, stop() after recovery, then finish() reads back and cleans up."""

    def __init__(self, target: Target, endpoint: Endpoint, options: ProbeOptions, clock: Clock,
                 deadline: Deadline | None = None) -> None:
        self.access = ProbeAccess(target, Timeouts(2.0, 3.0), deadline)
        self.endpoint = endpoint
        self.options = options
        self.clock = clock
        self.key = canary_key(new_run_id(), endpoint.slots if endpoint.cluster else None)
        self.writer: CanaryWriter | None = None
        self.client: CanaryClient | None = None
        self.cleanup: list[str] = []

    def _client(self) -> CanaryClient:
        read_s = self.options.read_timeout_ms / 1000
        connect_s = self.options.connect_timeout_ms / 1000
        if self.endpoint.cluster:
            return ClusterCanary(self.access, [self.endpoint.address], read_s, connect_s)
        return DirectCanary(self.access, lambda: self.endpoint.address, read_s, connect_s)

    def start(self) -> str | None:
        """Start writing; the reason there is no canary (endpoint unreachable, key taken) or None."""
        if self.endpoint.cluster and self.endpoint.slots is None:
            return f"the {self.endpoint.describe()} was described without the shard's slots"
        try:
            self.client = self._client()
            if int(self.client.run(self.key, "EXISTS")):
                return f"the canary key {self.key} already exists"
        except Exception as exc:
            self._close()
            return f"the {self.endpoint.describe()} is not reachable from here: {type(exc).__name__}: {scrub(exc)}"
        self.writer = CanaryWriter(self.client, self.key, self.clock, self.options.canary_rate_hz,
                                   self.options.wait_replicas, self.options.wait_timeout_ms)
        self.writer.start()
        return None

    def stop(self) -> None:
        if self.writer is not None and self.writer.is_alive():
            self.writer.stop()
            self.writer.join(timeout=5)

    def finish(self, promoted_ms: int | None = None) -> tuple[JsonObject, JsonObject]:
        """Stop, read back, delete the key: (the canary's description, its metrics). `promoted_ms`: the
        control plane's promotion time (ms after the trigger), for the acks the old server gave later."""
        self.stop()
        self._close()
        final = self._read_back()
        self._delete()
        records = self.writer.records if self.writer is not None else []
        labelled = [dataclasses.replace(r, node=self._label(r)) for r in records]
        old, new = _old_and_new(labelled, self.clock.trigger_us or 0)
        metrics = write_metrics(labelled, final, self.clock, 1_000_000 // self.options.canary_rate_hz, new,
                                old or "")
        metrics.update(stale_ack_metrics(labelled, self.clock, old, promoted_ms))
        if self.writer is not None and self.writer.failure:
            self.cleanup.append(f"the canary stopped early: {self.writer.failure}")
        description: JsonObject = {
            "key": self.key,
            "endpoint": str(self.endpoint.address),
            "rateHz": self.options.canary_rate_hz,
            "readTimeoutMs": self.options.read_timeout_ms,
            "connectTimeoutMs": self.options.connect_timeout_ms,
            "client": self._client_name(),
            "waitReplicas": self.options.wait_replicas,
            "oldServer": old,
            "newServer": new,
        }
        return description, metrics

    def _label(self, record: WriteRecord) -> str | None:
        if record.node is None or self.endpoint.cluster:
            return record.node
        return f"{record.node} ({record.run_id[:12]})" if record.run_id else record.node

    def _client_name(self) -> str:
        import redis

        kind = ("redis-py RedisCluster from the configuration endpoint (follows MOVED)" if self.endpoint.cluster
                else "redis-py, one connection to the primary endpoint, re-resolved after an error")
        return f"{kind}, redis-py {redis.__version__}, no retries"

    def _read_back(self) -> list[int] | None:
        deadline = time.monotonic() + 10
        while True:
            client = None
            try:
                client = self._client()
                return [int(as_text(v)) for v in client.run(self.key, "LRANGE", 0, -1)]
            except Exception as exc:
                if time.monotonic() >= deadline:
                    self.cleanup.append(f"reading the canary back through {self.endpoint.address}: {scrub(exc)}")
                    return None
                time.sleep(0.5)
            finally:
                if client is not None:
                    client.close()

    def _delete(self) -> None:
        client = None
        try:
            client = self._client()
            client.run(self.key, "DEL")
            if int(client.run(self.key, "EXISTS")):
                self.cleanup.append(f"the canary key {self.key} is still on {self.endpoint.address} "
                                    "(it expires within an hour)")
        except Exception as exc:
            self.cleanup.append(f"could not delete the canary key {self.key} through {self.endpoint.address} "
                                f"({type(exc).__name__}: {scrub(exc)}); it expires within an hour")
        finally:
            if client is not None:
                client.close()

    def abandon(self) -> None:
        """Interrupted or failed before finish(): stop writing and delete the key (best effort)."""
        self.stop()
        self._close()
        self._delete()

    def _close(self) -> None:
        if self.client is not None:
            try:
                self.client.close()
            except Exception as exc:
                self.cleanup.append(f"closing the canary client: {scrub(exc)}")
            self.client = None


def _old_and_new(records: list[WriteRecord], trigger_us: int) -> tuple[str | None, str | None]:
    """The server that acked last before the trigger, and the first other one that acked after it."""
    acked = [r for r in records if r.outcome == "ack"]
    before = [r.node for r in acked if r.done_us < trigger_us]
    old = before[-1] if before else (acked[0].node if acked else None)
    new = next((r.node for r in acked if r.done_us >= trigger_us and r.node != old), None)
    return old, new
