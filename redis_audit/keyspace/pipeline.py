"""Requests on one connection, answered in order, with a bounded number unanswered at a time.

Redis reads everything a client has sent in one go and runs it before serving anyone else, so
what the census has written and not yet had answered is how long other clients may wait behind
it. The window bounds that: with requests sized to about the slice budget each, the server
never holds more than ``window`` of them. A request's replies go to its own handler, which may
submit more requests (the next SCAN, the re-measure of a big value); an urgent one jumps the
queue of unsent requests, never the ones already on the wire.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis_audit.guard import joined
from redis_audit.keyspace.wire import Link


@dataclass(frozen=True)
class Request:
    payload: bytes
    commands: int  # one reply each
    on_replies: Callable[[list[Any]], None]


class Pipeline:
    def __init__(self, link: Link, window: int) -> None:
        self.link = link
        self.window = max(1, window)
        self._unsent: deque[Request] = deque()
        self._on_wire: deque[Request] = deque()

    def submit(self, request: Request, urgent: bool = False) -> None:
        if urgent:
            self._unsent.appendleft(request)
        else:
            self._unsent.append(request)

    def unsent_commands(self) -> int:
        return sum(request.commands for request in self._unsent)

    def idle(self) -> bool:
        return not self._unsent and not self._on_wire

    def step(self) -> None:
        """Read the oldest request's replies and hand them to its handler.

        The window is refilled before the handler runs, so the server has work while the
        client folds what it just read.
        """
        self._fill()
        request = self._on_wire.popleft()
        replies = self.link.read(request.commands)
        self._fill()
        request.on_replies(replies)

    def _fill(self) -> None:
        batch: list[bytes] = []
        commands = 0
        while self._unsent and len(self._on_wire) < self.window:
            request = self._unsent.popleft()
            self._on_wire.append(request)
            batch.append(request.payload)
            commands += request.commands
        if batch:
            self.link.send(joined(batch), commands)  # still marked as the guard's: sent unparsed

    def drain(self) -> None:
        while not self.idle():
            self.step()
