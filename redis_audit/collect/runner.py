"""Collection: every collector on every node, concurrently, under the run's deadline.

The workers are daemon threads, and the deadline shuts their sockets down when it expires: at the
deadline the run goes on with what it has (the nodes not finished become unreachable, with what was
under way), and a worker stuck on a hostile node can neither delay the report nor keep the process alive.
"""

from __future__ import annotations

import queue
from collections.abc import Sequence
from dataclasses import dataclass, field

from redis_audit.collect.base import (
    AUTH_FAILED,
    CollectContext,
    Collector,
    Deadline,
    NodeSession,
    classify_error,
    open_session,
)
from redis_audit.daemons import run_on_daemons
from redis_audit.snapshot import Fact, FactErrorKind, NodeSnapshot
from redis_audit.topology import Node, Unreachable

MAX_WORKERS = 32
# A node whose first reply is one of these is unreachable for the audit, not merely restricted.
_FATAL = (FactErrorKind.UNREACHABLE, FactErrorKind.TIMEOUT)


@dataclass
class Collected:
    nodes: dict[str, NodeSnapshot] = field(default_factory=dict)
    unreachable: list[Unreachable] = field(default_factory=list)


@dataclass
class Progress:
    """What a node's worker is doing, read by the runner should the deadline expire."""

    session: NodeSession | None = None
    collector: str = ""

    def describe(self, node: Node) -> str:
        if self.session is None:
            return f"connecting to {node.address}"
        return f"{self.session.doing} on {node.address} (collector {self.collector or 'none yet'})"


def collect_node(node: Node, ctx: CollectContext, collectors: Sequence[Collector], deadline: Deadline,
                 progress: Progress | None = None) -> NodeSnapshot:
    """All facts from one node. Raises only when the node cannot be reached (or read) at all."""
    progress = progress or Progress()
    session = open_session(node, ctx, deadline)
    progress.session = session
    snapshot = NodeSnapshot(node.address, node.role, facts=session.facts)
    try:
        for collector in collectors:
            progress.collector = collector.name
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
            if session.broken is not None:  # a refused reply or a lost connection: no node to judge further
                raise NodeUnreachable(session.broken)
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
    progress = [Progress() for _ in nodes]
    done = run_on_daemons(len(nodes), lambda i: collect_node(nodes[i], ctx, collectors, deadline, progress[i]),
                          MAX_WORKERS, "collect")
    pending = set(range(len(nodes)))
    while pending:
        try:
            index, outcome = done.get(timeout=max(0.0, deadline.remaining()))
        except queue.Empty:
            break
        pending.discard(index)
        node = nodes[index]
        if isinstance(outcome, NodeSnapshot):
            result.nodes[str(outcome.address)] = outcome
        elif isinstance(outcome, NodeUnreachable):
            result.unreachable.append(Unreachable(node.address, node.role, str(outcome)))
        else:
            reason = classify_error(outcome, "connect").message
            result.unreachable.append(Unreachable(node.address, node.role, reason))
    for index in sorted(pending):
        node = nodes[index]
        started = progress[index].session is not None or progress[index].collector
        doing = progress[index].describe(node) if started else f"waiting to collect {node.address}"
        result.unreachable.append(Unreachable(node.address, node.role, deadline.message(doing)))
    return result
