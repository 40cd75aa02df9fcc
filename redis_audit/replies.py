"""Every reply bounded, whatever the server sends: in time, in bytes, in elements and in depth.

`BoundedSocket` wraps the socket of every redis-py connection the engine opens (client.py), below
whichever parser is active (hiredis or redis-py's own), so the bound holds for both:

* time: a reply has a total budget (the command timeout), not only a per-`recv` timeout that a
  server sending a byte at a time never trips; and nothing outlives the audit's `Deadline`;
* size: `ReplyMeter` follows the RESP2 structure of the bytes as they arrive and refuses a reply
  the moment it announces or sends more than its command can legitimately return (`LIMITS`): a
  512 MB bulk header is refused before one byte of it is read, an endless array at its limit.
  A refused chunk never reaches the parser, so memory stays within the limit.

The census reads its own pipelined replies (keyspace/wire.py) in bulk: it gives the socket a byte
and line budget per read instead (`BoundedSocket.budget`), checked in C (`bytes.count`), and no
array may announce a million elements or more: hiredis allocates an array's slots when it reads its
header, and freeing 2^31 of them takes the GIL for seconds.
"""

from __future__ import annotations

import re
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from redis.exceptions import ConnectionError as RedisConnectionError

from redis_audit.deadline import BudgetExceeded, Deadline, DeadlineExceeded

KiB = 1 << 10
MiB = 1 << 20


class ReplyRefused(RedisConnectionError):
    """A reply broke the protocol or its limit; the connection is dropped, nothing more is read."""


@dataclass(frozen=True)
class ReplyLimit:
    max_bytes: int
    max_elements: int = 200_000  # every value, nested ones included (COMMAND DOCS: ~13k on Redis 7)
    max_depth: int = 32  # nested arrays (COMMAND DOCS: 12)


DEFAULT_LIMIT = ReplyLimit(4 * MiB)
# Connection state only (+OK, PONG, HELLO's map): no legitimate reply is bigger.
SMALL_LIMIT = ReplyLimit(64 * KiB, 1_000, 4)
LIMITS: dict[str, ReplyLimit] = {
    **dict.fromkeys(("auth", "hello", "ping", "select", "readonly", "client|setname", "client|setinfo",
                     "client|pause", "client|unpause", "psubscribe", "subscribe"), SMALL_LIMIT),
    # One bulk string, a line per client: about 45,000 clients.
    "client|list": ReplyLimit(16 * MiB, 1, 1),
}


# Bulk mode: an array header of a million elements or more at the start of a line. (A key whose name
# holds a newline followed by such text would be refused too: never seen, and then only a refusal.)
_HUGE_ARRAY = re.compile(rb"(?m)^\*\d{7,}\r")


# A recv may wait this much past a reply's budget, rather than shorten its timeout before every recv.
SLACK_S = 0.05


def limit_for(command: str) -> ReplyLimit:
    return LIMITS.get(command, DEFAULT_LIMIT)


def size_text(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", MiB), ("KiB", KiB)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} B"


def command_text(command: str) -> str:
    return command.replace("|", " ").upper() if command else "a command"


class ReplyMeter:
    """Follows the RESP2 structure of the bytes read, reply by reply, against each reply's limit.

    `expect(command)` queues the command whose reply comes next (the connection calls it as it
    sends); replies are matched to commands in order. Raises ReplyRefused.
    """

    def __init__(self) -> None:
        self.expected: deque[str] = deque()
        self._line = bytearray()
        self._skip = 0  # bulk payload bytes (and their CRLF) still to pass
        self._open: list[int] = []  # values still due in each open array
        self._command = ""
        self._limit: ReplyLimit | None = None  # None: between replies
        self._bytes = 0
        self._max_bytes = 0
        self._elements = 0

    def expect(self, command: str) -> None:
        self.expected.append(command)

    def next_command(self) -> str:
        if self._limit is not None:
            return self._command
        return self.expected[0] if self.expected else ""

    def feed(self, data: bytes) -> None:
        """Follow `data`, the next bytes of the stream; raise ReplyRefused at the first excess.

        One pass, one loop, locals only: this runs on every reply of every collector. Bytes are
        counted per reply when it ends or the chunk does (a chunk is at most a parser's read).
        """
        if self._line:  # a header line split across reads: read it again whole (rare)
            data = bytes(self._line) + data
            self._line.clear()
        pos, size, find = 0, len(data), data.find
        open_ = self._open
        limit = self._limit
        max_bytes = self._max_bytes
        counted, since = self._bytes, 0  # the current reply's bytes before `since`, in this chunk
        while pos < size:
            if limit is None:  # a new reply: the next expected command's
                self._start()
                limit, max_bytes, counted, since = self._limit, self._max_bytes, 0, pos
                assert limit is not None
            done = False
            skip = self._skip
            if skip:  # a bulk string's payload: counted, not looked at
                if skip > size - pos:
                    self._skip = skip - (size - pos)
                    pos = size
                    break
                pos += skip
                self._skip = 0
                done = True
            else:
                end = find(b"\n", pos)
                if end < 0:  # the header line goes on in the next read
                    if counted + size - since > max_bytes:
                        self._refuse(f"exceeded {size_text(max_bytes)}")
                    self._line += data[pos:]
                    counted += pos - since
                    since = pos = size
                    break
                if end - pos < 2 or data[end - 1] != 13:  # b"\r"
                    self._refuse("is not RESP (a line without CRLF)")
                kind = data[pos]
                if kind in (36, 42, 58):  # $ * :
                    try:
                        number = int(data[pos + 1:end - 1])
                    except ValueError:
                        self._refuse(f"is not RESP (bad number {data[pos + 1:end - 1][:20]!r})")
                pos = end + 1
                if kind == 36:
                    if number >= 0 and number + 2 <= max_bytes - counted - pos + since:
                        self._skip = number + 2  # the payload follows: skipped above
                    elif number >= 0:
                        self._bulk(number, counted + pos - since)
                    elif number == -1:
                        done = True
                    else:
                        self._refuse(f"announced a bulk string of length {number}")
                elif kind == 42:
                    if number > 0:
                        self._array(number)
                    elif number in (0, -1):
                        done = True
                    else:
                        self._refuse(f"announced an array of {number} elements")
                elif kind in (58, 43, 45):  # : + -
                    done = True
                else:
                    self._refuse(f"is not RESP2 (it starts with {bytes([kind])!r})")
            if done:
                while open_:
                    open_[-1] -= 1
                    if open_[-1]:
                        break
                    open_.pop()
                else:  # the reply is complete
                    if counted + pos - since > max_bytes:
                        self._refuse(f"exceeded {size_text(max_bytes)}")
                    limit = self._limit = None
        if limit is not None:
            counted += pos - since
            if counted > max_bytes:
                self._refuse(f"exceeded {size_text(max_bytes)}")
            self._bytes = counted

    def _start(self) -> None:
        self._command = self.expected.popleft() if self.expected else ""
        self._limit = limit_for(self._command)
        self._max_bytes = self._limit.max_bytes
        self._bytes = 0
        self._elements = 1

    def _refuse(self, what: str) -> NoReturn:
        raise ReplyRefused(f"reply to {command_text(self._command)} {what}: refused")

    def _bulk(self, length: int, used: int) -> NoReturn:
        """A bulk string that cannot fit the limit: refused before its payload is read."""
        if length + 2 > self._max_bytes:
            self._refuse(f"announced a {size_text(length)} bulk string (limit {size_text(self._max_bytes)})")
        self._refuse(f"exceeded {size_text(self._max_bytes)}")

    def _array(self, count: int) -> None:
        assert self._limit is not None
        if len(self._open) >= self._limit.max_depth:
            self._refuse(f"nests arrays deeper than {self._limit.max_depth} levels")
        if self._elements + count > self._limit.max_elements:
            self._refuse(f"announced {count:,} elements (limit {self._limit.max_elements:,})")
        self._elements += count
        self._open.append(count)


@dataclass
class _Budget:
    """The census's bulk reads: bytes and lines (an upper bound on the values parsed) per read."""

    max_bytes: int
    max_lines: int
    what: str
    bytes: int = 0
    lines: int = 0


class BoundedSocket:
    """A socket whose reads are metered (ReplyMeter or a bulk budget) and bounded in time.

    Everything else is the wrapped socket's (`__getattr__`): redis-py, ssl and select see a socket.
    `failure` keeps the exception that ended the connection, for the connection to re-raise it
    with its message (redis-py rewrites timeouts as "Timeout reading from ...").

    Its socket is not watched by the deadline (no descriptor duplicated, no watchdog): every read and
    send waits at most until the deadline anyway, and a duplicate's system calls cost a GIL hand-off
    each, which thirty collector threads pay dearly for.
    """

    def __init__(self, sock: socket.socket, deadline: Deadline | None, what: str) -> None:
        self.raw = sock
        self.what = what  # "host:port", for messages
        self.meter = ReplyMeter()
        self.failure: Exception | None = None
        self._deadline = deadline
        self._base_timeout: float | None = sock.gettimeout()
        self._applied: float | None = self._base_timeout
        self._reply_until: float | None = None
        self._reply_budget = 0.0
        self._budget: _Budget | None = None
        self._carry: bytes | None = b""  # bulk mode: the line under way (None: a long one, no header)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)

    # -- what the owner says about the next reads ---------------------------------------------------
    def begin_reply(self, budget_s: float | None) -> None:
        """The next reply must be complete within budget_s (None: only the deadline bounds it)."""
        self._reply_budget = budget_s or 0.0
        self._reply_until = time.monotonic() + budget_s if budget_s else None

    def end_reply(self) -> None:
        self._reply_until = None

    def budget(self, max_bytes: int, max_lines: int, what: str) -> None:
        """Bulk mode (the census): the reads until the next call may bring this much, in all."""
        self._budget = _Budget(max_bytes, max_lines, what)

    # -- the socket API the parsers use -------------------------------------------------------------
    def settimeout(self, timeout: float | None) -> None:
        self._base_timeout = timeout
        self._apply(timeout)

    def gettimeout(self) -> float | None:
        return self._base_timeout

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if flags:  # MSG_PEEK (redis-py's closed-connection check): nothing is consumed
            return self.raw.recv(bufsize, flags)
        data: bytes = self._read(lambda: self.raw.recv(bufsize))
        self._meter(data)
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        if flags:
            return self.raw.recv_into(buffer, nbytes, flags)
        received: int = self._read(lambda: self.raw.recv_into(buffer, nbytes))
        self._meter(bytes(memoryview(buffer)[:received]))
        return received

    def _read(self, read: Callable[[], Any]) -> Any:
        """One bounded read; a timeout or a shut socket raises what really happened."""
        self._before_read()
        try:
            got = read()
        except TimeoutError:
            self._after_timeout()
            raise
        except OSError:
            self._after_failure()
            raise
        if not got:
            self._after_failure()
        return got

    def sendall(self, data: Any) -> None:
        self._check_deadline()
        deadline = self._deadline
        if deadline is not None and self._applied is not None and deadline.remaining() < self._applied:
            self._apply(max(0.001, deadline.remaining()))
        try:
            self.raw.sendall(data)
        except OSError:
            self._after_failure()
            raise

    def close(self) -> None:
        self.raw.close()

    # -- bounds -------------------------------------------------------------------------------------
    def _fail(self, exc: Exception) -> NoReturn:
        self.failure = exc
        raise exc

    def _check_deadline(self) -> None:
        if self.failure is not None:  # a refused or overrun reply leaves the stream unreadable
            raise self.failure
        if self._deadline is not None and self._deadline.expired():
            self._fail(DeadlineExceeded(self._deadline.message(self._doing())))

    def _doing(self) -> str:
        if self._budget is not None:
            return f"{self._budget.what} on {self.what}"
        return f"{command_text(self.meter.next_command())} on {self.what}"

    def _before_read(self) -> None:
        """Each recv waits at most what is left of the reply's budget and of the deadline."""
        self._check_deadline()
        timeout = self._base_timeout
        now = time.monotonic()
        if self._reply_until is not None:
            left = self._reply_until - now
            if left <= 0:
                self._fail(self._overrun())
            timeout = left if timeout is None else min(timeout, left)
        if self._deadline is not None and self._deadline.at - now < (timeout if timeout is not None else 1e9):
            timeout = max(0.001, self._deadline.at - now)
        applied = self._applied
        # settimeout releases the GIL (a system call): only when the bound is really shorter, or back.
        if timeout is None or applied is None or not applied - SLACK_S <= timeout <= applied:
            self._apply(timeout)

    def _apply(self, timeout: float | None) -> None:
        if timeout != self._applied:
            self.raw.settimeout(timeout)
            self._applied = timeout

    def _overrun(self) -> BudgetExceeded:
        return BudgetExceeded(f"no complete reply to {self._doing()} within {self._reply_budget:g} s")

    def _after_timeout(self) -> None:
        """A recv timed out: say which bound it was (the reply's, the deadline's, or the socket's own)."""
        self._check_deadline()
        if self._reply_until is not None and time.monotonic() >= self._reply_until:
            self._fail(self._overrun())

    def _after_failure(self) -> None:
        """The socket failed or was closed: past the deadline, say so rather than "connection closed"."""
        if self._deadline is not None and self._deadline.expired():
            self._fail(DeadlineExceeded(self._deadline.message(self._doing())))

    def _huge_array(self, data: bytes) -> bool:
        """A header of a huge array in data, a header split across two reads included."""
        carry = self._carry
        last = data.rfind(b"\n")
        if last >= 0:
            tail = data[last + 1:]
            self._carry = tail if len(tail) <= 24 else None
        else:
            self._carry = carry + data if carry is not None and len(carry) + len(data) <= 24 else None
        if carry is not None and _HUGE_ARRAY.match(carry + data[:24]):  # the line under way
            return True
        first = data.find(b"\n")  # the lines that start in this chunk
        return first >= 0 and _HUGE_ARRAY.search(data, first + 1) is not None

    def _meter(self, data: bytes) -> None:
        try:
            budget = self._budget
            if budget is None:
                self.meter.feed(data)
                return
            budget.bytes += len(data)
            budget.lines += data.count(b"\n")
            if budget.bytes > budget.max_bytes:
                raise ReplyRefused(f"replies to {budget.what} exceeded {size_text(budget.max_bytes)}: refused")
            if budget.lines > budget.max_lines:
                raise ReplyRefused(f"replies to {budget.what} exceeded {budget.max_lines:,} values: refused")
            if self._huge_array(data):
                raise ReplyRefused(f"a reply to {budget.what} announced an array of a million elements or more"
                                   ": refused")
        except ReplyRefused as exc:
            self._fail(exc)
