"""The census's hot path: pipelined per-key commands on one guarded connection, replies parsed raw.

The connection comes from ``open_client`` (decode=False), so the handshake (AUTH, TLS,
CLIENT SETNAME) and the read-only guard are the engine's own. Per-key commands are packed by
``GuardedPacker.pack_per_key`` (one policy check per command shape), and their replies are all
single-line RESP (``+string``, ``:72``, ``$-1``, ``-ERR``), so a whole batch parses with one
``bytes.split``. SCAN replies carry binary keys and are parsed by length.
"""

from __future__ import annotations

from typing import Any

import redis
from redis import exceptions as rexc

RECV_SIZE = 1 << 16
CRLF = b"\r\n"


class Link:
    """One connection to one node; reconnects on demand (the caller replays from its cursor)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._conn: Any = None
        self._buf = bytearray()
        self.commands_sent = 0

    def _connection(self) -> Any:
        if self._conn is None:
            conn = self._client.connection_pool.get_connection()
            conn.connect()
            self._conn = conn
            self._buf.clear()
        return self._conn

    def reset(self) -> None:
        """Drop the connection after an error: a reply may be half-read."""
        if self._conn is not None:
            try:
                self._conn.disconnect()
            finally:
                self._client.connection_pool.release(self._conn)
                self._conn = None
        self._buf.clear()

    def close(self) -> None:
        self.reset()
        self._client.close()

    def pack(self, *args: bytes | str | int) -> bytes:
        """One command through the guard (raises CommandNotAllowed before anything is sent)."""
        return b"".join(self._connection()._command_packer.pack(*args))

    def pack_per_key(self, head: tuple[bytes, ...], keys: list[bytes], tail: tuple[bytes, ...] = ()) -> bytes:
        return self._connection()._command_packer.pack_per_key(head, keys, tail)  # type: ignore[no-any-return]

    def send(self, data: bytes, commands: int) -> None:
        conn = self._connection()
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
        self._buf += chunk

    def read_lines(self, count: int) -> list[bytes]:
        """The next ``count`` single-line replies, without their CRLF."""
        out: list[bytes] = []
        while len(out) < count:
            end = self._buf.rfind(CRLF)
            if end >= 0:
                lines = bytes(self._buf[:end]).split(CRLF)
                del self._buf[: end + 2]
                need = count - len(out)
                if len(lines) > need:
                    self._buf[:0] = CRLF.join(lines[need:]) + CRLF
                    del lines[need:]
                out.extend(lines)
            if len(out) < count:
                self._recv()
        return out

    def read_scan(self) -> tuple[int, list[bytes]]:
        """One SCAN reply: the next cursor and the keys, binary-safe."""
        while True:
            parsed = parse_scan(self._buf)
            if parsed is not None:
                cursor, keys, used = parsed
                del self._buf[:used]
                return cursor, keys
            self._recv()


def parse_scan(buf: bytearray) -> tuple[int, list[bytes], int] | None:
    """Parse ``*2 $n cursor *k ($len key)*`` from the start of buf; None when incomplete."""
    if buf[:1] == b"-":
        end = buf.find(CRLF)
        if end < 0:
            return None
        raise rexc.ResponseError(bytes(buf[1:end]).decode("utf-8", "replace"))
    view = bytes(buf)
    pos = view.find(CRLF)
    if pos < 0:
        return None
    if view[:pos] != b"*2":
        raise rexc.InvalidResponse(f"unexpected SCAN reply {view[:20]!r}")
    cursor_bytes, pos = _bulk(view, pos + 2)
    if cursor_bytes is None:
        return None
    end = view.find(CRLF, pos)
    if end < 0:
        return None
    total = int(view[pos + 1 : end])
    pos = end + 2
    keys: list[bytes] = []
    append = keys.append
    find = view.find
    size = len(view)
    for _ in range(total):
        end = find(CRLF, pos)
        if end < 0:
            return None
        start = end + 2
        stop = start + int(view[pos + 1 : end])
        if stop + 2 > size:
            return None
        append(view[start:stop])
        pos = stop + 2
    return int(cursor_bytes), keys, pos


def _bulk(view: bytes, pos: int) -> tuple[bytes | None, int]:
    end = view.find(CRLF, pos)
    if end < 0:
        return None, pos
    length = int(view[pos + 1 : end])
    start = end + 2
    if len(view) < start + length + 2:
        return None, pos
    return view[start : start + length], start + length + 2


def as_int(line: bytes) -> int | None:
    """An integer reply (':72') as int; None for nil ('$-1') or an error reply."""
    if line[:1] == b":":
        return int(line[1:])
    return None
