"""Watchers: every Sentinel's events (each publishes +switch-master at its own moment), ROLE on the
shard's nodes, and CLUSTER NODES on the other primaries. They only read, and write to the timeline."""

from __future__ import annotations

import threading
from typing import Any

from redis_audit.facts.parse import parse_cluster_nodes
from redis_audit.facts.values import as_text
from redis_audit.failover.connections import ProbeAccess
from redis_audit.failover.model import Clock, Timeline
from redis_audit.secret import scrub
from redis_audit.topology import Address

SENTINEL_EVENTS = (
    "+sdown", "-sdown", "+odown", "-odown", "+try-failover", "+elected-leader", "+selected-slave",
    "+promoted-slave", "+failover-state-reconf-slaves", "+slave-reconf-done", "+failover-end",
    "+switch-master", "+convert-to-slave", "+fix-slave-config", "-role-change", "+role-change",
    "-failover-abort-not-elected", "-failover-abort-no-good-slave", "+tilt", "-tilt",
)


class _Watcher(threading.Thread):
    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()


class SentinelWatcher(_Watcher):
    """PSUBSCRIBE * on one Sentinel; records the failover events with this Sentinel's name."""

    def __init__(self, access: ProbeAccess, address: Address, clock: Clock, timeline: Timeline) -> None:
        super().__init__(f"failover-sentinel-{address}")
        self.access = access
        self.address = address
        self.clock = clock
        self.timeline = timeline
        self.subscribed = threading.Event()

    def run(self) -> None:
        source = f"sentinel {self.address}"
        try:
            client = self.access.control(self.address, sentinel=True, timeout_s=1.0)
            pubsub = client.pubsub()
            pubsub.psubscribe("*")
        except Exception as exc:
            self.timeline.add(self.clock.now_us(), source, "unreachable", scrub(exc))
            self.subscribed.set()
            return
        try:
            while not self._stop_event.is_set():
                try:
                    message = pubsub.get_message(timeout=0.1)
                except Exception as exc:
                    self.timeline.add(self.clock.now_us(), source, "disconnected", scrub(exc))
                    return
                if not message:
                    continue
                kind = as_text(message.get("type"))
                if kind == "psubscribe":
                    self.subscribed.set()
                elif kind == "pmessage":
                    channel = as_text(message.get("channel"))
                    if channel in SENTINEL_EVENTS:
                        self.timeline.add(self.clock.now_us(), source, channel, as_text(message.get("data")))
        finally:
            self.subscribed.set()
            pubsub.close()
            client.close()


class RolePoller(_Watcher):
    """ROLE on each node every `interval_s`; records each change of role (and of followed primary)."""

    def __init__(self, access: ProbeAccess, nodes: list[Address], clock: Clock, timeline: Timeline,
                 interval_s: float = 0.02) -> None:
        super().__init__("failover-role")
        self.access = access
        self.nodes = nodes
        self.clock = clock
        self.timeline = timeline
        self.interval_s = interval_s
        self.last: dict[Address, str] = {}

    def run(self) -> None:
        clients = {a: self.access.control(a, timeout_s=0.2) for a in self.nodes}
        try:
            while not self._stop_event.wait(self.interval_s):
                for address, client in clients.items():
                    state = _role_state(client)
                    if self.last.get(address) != state:
                        self.last[address] = state
                        name, _, detail = state.partition(" ")
                        self.timeline.add(self.clock.now_us(), f"role {address}", name, detail)
        finally:
            for client in clients.values():
                client.close()


class ClusterViewPoller(_Watcher):
    """CLUSTER NODES on the other primaries: when does each see `node_id` as a master?"""

    def __init__(self, access: ProbeAccess, observers: list[Address], node_id: str, clock: Clock,
                 timeline: Timeline, interval_s: float = 0.05) -> None:
        super().__init__("failover-cluster-view")
        self.access = access
        self.observers = observers
        self.node_id = node_id
        self.clock = clock
        self.timeline = timeline
        self.interval_s = interval_s

    def run(self) -> None:
        clients = {a: self.access.control(a, timeout_s=0.2) for a in self.observers}
        pending = set(self.observers)
        try:
            while pending and not self._stop_event.wait(self.interval_s):
                for address in sorted(pending):
                    try:
                        nodes = parse_cluster_nodes(as_text(clients[address].execute_command("CLUSTER", "NODES")))
                    except Exception:
                        continue
                    me = next((n for n in nodes if n["id"] == self.node_id), None)
                    if me is not None and "master" in (me["flags"] if isinstance(me["flags"], list) else []):
                        self.timeline.add(self.clock.now_us(), f"cluster-view {address}", "sees-new-primary",
                                          self.node_id)
                        pending.discard(address)
        finally:
            for client in clients.values():
                client.close()


def _role_state(client: Any) -> str:
    try:
        reply = client.execute_command("ROLE")
    except Exception as exc:
        return "unreachable " + type(exc).__name__
    role = as_text(reply[0])
    if role == "slave" and len(reply) >= 4:
        return f"slave {as_text(reply[1])}:{reply[2]} {as_text(reply[3])}"
    return role


def start_all(*watchers: threading.Thread) -> None:
    for watcher in watchers:
        watcher.start()


def stop_all(*watchers: _Watcher) -> None:
    for watcher in watchers:
        watcher.stop()
    for watcher in watchers:
        if watcher.is_alive():
            watcher.join(timeout=3)
