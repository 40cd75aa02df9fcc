"""The census's hot path: pipelined per-key commands on one guarded connection, replies parsed in C.

The connection comes from ``open_client`` (decode=False), so the handshake (AUTH, TLS,
CLIENT SETNAME) and the read-only guard are the engine's own. Per-key commands are packed from a
template that ``GuardedPacker.per_key_template`` checked against the policy once per command shape
(the keys are data and cannot change which command is sent). Every buffer is judged as it is sent:
what the guard built (``Judged``) passes as it is, anything else is parsed and judged. Replies are parsed by
``hiredis.Reader`` (C): a whole pipeline's replies are drained with one ``list.extend`` over
``iter(reader.gets, sentinel)``, so the per-reply cost stays in C.

Bounded like every connection (replies.py): each read of a batch's replies must be complete within
the command timeout, and may bring at most what a batch of that size can legitimately return
(`read_budget`); a server that sends more is refused before hiredis buffers it.
"""

from __future__ import annotations

from typing import Any

import hiredis
import redis
from redis import exceptions as rexc

from redis_audit.guard import GuardedPacker, Judged, KeyTemplate
from redis_audit.replies import BoundedSocket

RECV_SIZE = 1 << 18
# What one read of `count` replies may bring: a SCAN reply's keys (up to ~7 KiB each on average for a
# slice of ~300), per-key replies of a few bytes each. Lines bound the values hiredis builds (each
# value takes at least one), so that an endless array of tiny values is refused long before memory is.
READ_BASE_BYTES = 2 << 20
READ_BYTES_PER_REPLY = 512
READ_BASE_LINES = 50_000
READ_LINES_PER_REPLY = 4
# hiredis returns this when the buffer holds no complete reply (its default, False, equals 0).
_MORE: Any = object()


class Link:
    """One connection to one node; reconnects on demand (the caller replays from its cursor)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._conn: Any = None
        self._reader = hiredis.Reader(notEnoughData=_MORE)
        self._replies: list[Any] = []  # parsed replies not yet taken, in order
        self.commands_sent = 0

    def _connection(self) -> Any:
        if self._conn is None:
            conn = self._client.connection_pool.get_connection()
            conn.connect()
            self._conn = conn
            self._reader = hiredis.Reader(notEnoughData=_MORE)
            self._replies = []
        return self._conn

    def reset(self) -> None:
        """Drop the connection after an error: a reply may be half-read."""
        if self._conn is not None:
            try:
                self._conn.disconnect()
            finally:
                self._client.connection_pool.release(self._conn)
                self._conn = None
        self._reader = hiredis.Reader(notEnoughData=_MORE)
        self._replies = []

    def close(self) -> None:
        self.reset()
        self._client.close()

    def _guard(self) -> GuardedPacker:
        packer = self._connection()._command_packer
        assert isinstance(packer, GuardedPacker), "the census sends only on guarded connections"
        return packer

    def pack(self, *args: bytes | str | int) -> Judged:
        """One command through the guard (raises CommandNotAllowed before anything is sent)."""
        return self._guard().policy.judged(b"".join(self._guard().pack(*args)))

    def per_key_template(self, *commands: tuple[tuple[bytes, ...], tuple[bytes, ...]]) -> KeyTemplate:
        """One key's commands, checked by the guard once (see GuardedPacker.per_key_template)."""
        return self._guard().per_key_template(*commands)

    def send(self, data: bytes, commands: int) -> None:
        conn = self._connection()
        data = self._guard().judged(data)  # raises CommandNotAllowed before a byte is sent
        try:
            conn._sock.sendall(data)
        except (TimeoutError, OSError) as exc:
            raise rexc.ConnectionError(f"send failed: {exc}") from exc
        self.commands_sent += commands

    def _recv(self) -> None:
        try:
            chunk = self._conn._sock.recv(RECV_SIZE)
        except TimeoutError as exc:
            raise rexc.TimeoutError("timed out reading a reply") from exc
        except OSError as exc:
            raise rexc.ConnectionError(f"read failed: {exc}") from exc
        if not chunk:
            raise rexc.ConnectionError("the server closed the connection")
        self._reader.feed(chunk)
        try:
            self._replies.extend(iter(self._reader.gets, _MORE))
        except hiredis.ProtocolError as exc:
            raise rexc.ConnectionError(f"protocol error: {exc}") from exc

    def read(self, count: int) -> list[Any]:
        """The next ``count`` replies as hiredis returns them: bytes, int, None (nil), list, or a
        ``hiredis.ReplyError`` instance for an error reply (returned, not raised)."""
        replies = self._replies
        if len(replies) < count:
            sock = self._conn._sock
            if isinstance(sock, BoundedSocket):
                what = f"{count} census command{'s' if count != 1 else ''}"
                sock.budget(READ_BASE_BYTES + count * READ_BYTES_PER_REPLY,
                            READ_BASE_LINES + count * READ_LINES_PER_REPLY, what)
                sock.begin_reply(self._conn.socket_timeout)
            try:
                while len(replies) < count:
                    self._recv()
                    replies = self._replies
            finally:
                if isinstance(sock, BoundedSocket):
                    sock.end_reply()
        if len(replies) == count:
            self._replies = []
            return replies
        out = replies[:count]
        del replies[:count]
        return out

    def read_scan(self) -> tuple[int, list[bytes]]:
        """One SCAN reply: the next cursor and the keys, binary-safe."""
        return parse_scan(self.read(1)[0])


def parse_scan(reply: Any) -> tuple[int, list[bytes]]:
    """A SCAN reply as hiredis returns it: the next cursor and the keys."""
    if isinstance(reply, hiredis.ReplyError):
        raise rexc.ResponseError(str(reply))
    if not isinstance(reply, list) or len(reply) != 2 or not isinstance(reply[1], list):
        # Never repr() a hostile reply: a deeply nested one would not even print.
        raise rexc.InvalidResponse(f"unexpected SCAN reply (a {type(reply).__name__})")
    try:
        return int(reply[0]), reply[1]
    except (TypeError, ValueError):
        raise rexc.InvalidResponse("unexpected SCAN reply (the cursor is not a number)") from None


def as_int(reply: Any) -> int | None:
    """An integer reply as int; None for nil or an error reply."""
    return reply if type(reply) is int else None
