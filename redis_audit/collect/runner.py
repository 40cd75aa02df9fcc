"""Collection: every collector on every node, concurrently, under the run's deadline."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from redis_audit.collect.base import (
    AUTH_FAILED,
    CollectContext,
    Collector,
    Deadline,
    classify_error,
    open_session,
)
from redis_audit.snapshot import Fact, FactErrorKind, NodeSnapshot
from redis_audit.topology import Node, Unreachable

MAX_WORKERS = 32
# A node whose first reply is one of these is unreachable for the audit, not merely restricted.
_FATAL = (FactErrorKind.UNREACHABLE, FactErrorKind.TIMEOUT)


@dataclass
class Collected:
    nodes: dict[str, NodeSnapshot] = field(default_factory=dict)
    unreachable: list[Unreachable] = field(default_factory=list)


def collect_node(node: Node, ctx: CollectContext, collectors: Sequence[Collector], deadline: Deadline) -> NodeSnapshot:
    """All facts from one node. Raises only when the node cannot be reached at all."""
    session = open_session(node, ctx, deadline)
    snapshot = NodeSnapshot(node.address, node.role, facts=session.facts)
    try:
        for collector in collectors:
            if deadline.remaining() <= 0:
                snapshot.facts.setdefault(
                    collector.name,
                    Fact(error=classify_error(TimeoutError("run deadline exceeded"), collector.name)),
                )
                continue
            if not collector.applies(session, ctx):
                continue
            try:
                snapshot.facts.update(collector.collect(session, ctx))
            except Exception as exc:  # a broken collector costs its facts, never the run
                snapshot.facts[collector.name] = Fact(error=classify_error(exc, collector.name))
            first = snapshot.facts.get("info")
            if first is not None and first.error is not None and first.error.kind in _FATAL:
                raise NodeUnreachable(first.error.message)
            if first is not None and first.error is not None and first.error.message.startswith(AUTH_FAILED):
                raise NodeUnreachable(first.error.message)
    finally:
        session.close()
    return snapshot


class NodeUnreachable(Exception):
    pass


def collect_all(
    nodes: Sequence[Node], ctx: CollectContext, collectors: Sequence[Collector], deadline: Deadline
) -> Collected:
    result = Collected()
    if not nodes:
        return result
    pool = ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(nodes)), thread_name_prefix="collect")
    futures: dict[Future[NodeSnapshot], Node] = {
        pool.submit(collect_node, node, ctx, collectors, deadline): node for node in nodes
    }
    pending = set(futures)
    try:
        while pending:
            done, pending = wait(pending, timeout=max(0.0, deadline.remaining()), return_when=FIRST_COMPLETED)
            if not done:
                break
            for future in done:
                node = futures[future]
                try:
                    snap = future.result()
                    result.nodes[str(snap.address)] = snap
                except NodeUnreachable as exc:
                    result.unreachable.append(Unreachable(node.address, node.role, str(exc)))
                    continue
                except Exception as exc:
                    reason = classify_error(exc, "connect").message
                    result.unreachable.append(Unreachable(node.address, node.role, reason))
        for future in pending:
            node = futures[future]
            result.unreachable.append(Unreachable(node.address, node.role, "run deadline exceeded"))
    finally:
        # Threads still running hold sockets with their own timeouts; do not wait for them.
        pool.shutdown(wait=False, cancel_futures=True)
    return result
