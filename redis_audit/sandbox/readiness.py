"""Waiting until a freshly started deployment is really usable, with a deadline and a clear error."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from redis_audit.sandbox.model import SandboxError, SandboxNode
from redis_audit.sandbox.process import is_alive, log_tail

POLL_SECONDS = 0.05


@dataclass
class Deadline:
    seconds: float

    def __post_init__(self) -> None:
        self._end = time.monotonic() + self.seconds

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self._end


def node_failure(node: SandboxNode, what: str) -> SandboxError:
    """An error naming the node and quoting the end of its logs: that is where the cause is."""
    logs = log_tail(node.log_file, node.dir / "stdio.log")
    return SandboxError(f"{node.name} ({node.address}, pid {node.pid}, log {node.log_file}): {what}\n{logs}")


def wait_until(
    deadline: Deadline,
    nodes: list[SandboxNode],
    condition: Callable[[SandboxNode], str | None],
    what: str,
) -> None:
    """Poll `condition` on every node until each returns None (ready) or the deadline passes.

    `condition` returns a short reason while the node is not ready yet; a connection error
    counts as not ready. A node whose process died fails at once.
    """
    pending = list(nodes)
    reasons: dict[str, str] = {}
    while True:
        still: list[SandboxNode] = []
        for node in pending:
            if not is_alive(node.pid, node.started_at):
                raise node_failure(node, f"the process exited while waiting for {what}")
            try:
                reason = condition(node)
            except (redis.RedisError, OSError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if reason is not None:
                reasons[node.name] = reason
                still.append(node)
        pending = still
        if not pending:
            return
        if deadline.expired:
            node = pending[0]
            raise node_failure(
                node,
                f"not ready after {deadline.seconds:.0f} s waiting for {what}: {reasons[node.name]}",
            )
        time.sleep(POLL_SECONDS)


def info_field(client: redis.Redis, section: str, key: str) -> str | None:
    value = client.info(section).get(key)
    return None if value is None else str(value)


def command(client: redis.Redis, *args: str | int) -> Any:
    """A raw command: no redis-py response callback, so the reply has the server's own shape."""
    return client.execute_command(*args)
