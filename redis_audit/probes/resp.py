"""A minimal guarded RESP2 connection for timing: every phase of its setup is measured on its own.

redis-py hides the TCP connect, the TLS handshake and AUTH inside one connect() call and adds
tens of microseconds per command; a latency probe needs them apart and needs a fast path. The
guard is the same as everywhere else: a CommandPolicy checks every command before it is packed,
so this connection can send nothing its policy does not allow.

The bounds are the same too (replies.py): a reply is refused when it announces or brings more than
PROBE_LIMIT allows (size, elements, nesting), before it is buffered; and the socket is watched by
the probe's Deadline, armed with the read timeout for each reply (an attribute write on the hot
path), so a server that drips a byte at a time is cut when the reply's budget is spent.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import struct
import time
from dataclasses import dataclass

from redis_audit.deadline import Deadline, Watch
from redis_audit.guard import CommandPolicy
from redis_audit.replies import ReplyLimit, ReplyRefused, size_text
from redis_audit.secret import scrub
from redis_audit.target import Credentials, TlsOptions
from redis_audit.topology import Address

Reply = bytes | int | list["Reply"] | None
PLUS, MINUS, COLON, DOLLAR, STAR = b"+-:$*"


class RespError(Exception):
    """The server answered with an error reply (NOPERM, NOSCRIPT, ...)."""


class ProbeTimeout(Exception):
    """No complete reply within the read timeout; the connection is no longer usable."""


# The probe's replies are small (PONG, its own key, INFO commandstats, CLUSTER NODES).
PROBE_LIMIT = ReplyLimit(1 << 20, 50_000, 16)


def ssl_context(tls: TlsOptions) -> ssl.SSLContext:
    """The client TLS context the options describe (as redis-py would build it)."""
    context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.cert_file and tls.key_file:
        context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    return context


def pack(args: tuple[object, ...]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def parse(buffer: bytes | bytearray, pos: int = 0, end: int | None = None,
          limit: ReplyLimit = PROBE_LIMIT) -> tuple[Reply | RespError, int] | None:
    """One reply from buffer[pos:end], and the position after it; None when incomplete.

    Raises ReplyRefused for what is not RESP2 or is over the limit, as soon as the header says so.
    """
    return _parse(buffer, pos, len(buffer) if end is None else end, limit, 0, [0])


def _parse(buffer: bytes | bytearray, pos: int, limit_end: int, limit: ReplyLimit, depth: int,
           elements: list[int]) -> tuple[Reply | RespError, int] | None:
    line_end = buffer.find(b"\r\n", pos, limit_end)
    if line_end < 0:
        return None
    kind, line = buffer[pos], bytes(buffer[pos + 1:line_end])
    after = line_end + 2
    if kind == PLUS:
        return line, after
    if kind == MINUS:
        return RespError(line.decode("utf-8", "replace")), after
    if kind == COLON:
        return _number(line), after
    if kind == DOLLAR:
        size = _number(line)
        if size < 0:
            return None, after
        if size > limit.max_bytes:
            raise ReplyRefused(f"reply announced a {size_text(size)} bulk string (limit {size_text(limit.max_bytes)})"
                               ": refused")
        if limit_end < after + size + 2:
            return None
        return bytes(buffer[after:after + size]), after + size + 2
    if kind == STAR:
        count = _number(line)
        if count < 0:
            return None, after
        elements[0] += count
        if elements[0] > limit.max_elements:
            raise ReplyRefused(f"reply announced more than {limit.max_elements:,} elements: refused")
        if depth >= limit.max_depth:
            raise ReplyRefused(f"reply nests arrays deeper than {limit.max_depth} levels: refused")
        items: list[Reply] = []
        for _ in range(count):
            parsed = _parse(buffer, after, limit_end, limit, depth + 1, elements)
            if parsed is None:
                return None
            item, after = parsed
            items.append(None if isinstance(item, RespError) else item)
        return items, after
    raise ReplyRefused(f"reply is not RESP2 (it starts with {bytes([kind])!r}): refused")


def _number(line: bytes) -> int:
    try:
        return int(line)
    except ValueError:
        raise ReplyRefused(f"reply is not RESP (bad number {line[:20]!r}): refused") from None


@dataclass(frozen=True)
class SetupTiming:
    """One connection's setup, in nanoseconds; tls_ns is None for a plaintext connection."""

    tcp_ns: int
    tls_ns: int | None
    first_command_ns: int  # AUTH (when there are credentials) and a PING, until PONG


@dataclass(frozen=True)
class Prepared:
    """A command checked against a policy and packed once, to be sent many times on that policy's
    connections (the probe's hot path then neither re-checks nor re-packs)."""

    policy: CommandPolicy
    data: bytes


READ_CHUNK = 65536


def _timeval(seconds: float) -> bytes:
    whole = int(seconds)
    return struct.pack("ll", whole, int((seconds - whole) * 1_000_000))


class ProbeConnection:
    """One socket, one policy, one command in flight.

    The hot path is a blocking `send` and a blocking `recv_into` a preallocated buffer: one system
    call each. The read timeout is enforced by the kernel (SO_RCVTIMEO/SO_SNDTIMEO) rather than by
    Python's socket timeout, which would add a poll() before every recv and send (about 5-10 µs a
    request on loopback). Where the kernel option is missing, Python's timeout is used instead.
    """

    def __init__(self, sock: socket.socket, policy: CommandPolicy, read_timeout_s: float, spin_ns: int,
                 watch: Watch | None = None, where: str = "") -> None:
        self._sock = sock
        self._policy = policy
        self._watch = watch
        self._read_timeout_s = read_timeout_s
        self._reply_reason = f"no complete reply from {where} within {read_timeout_s:g} s"
        self._buffer = bytearray(READ_CHUNK)
        self._view = memoryview(self._buffer)
        self._start = 0  # unparsed bytes are self._buffer[self._start:self._end]
        self._end = 0
        self._spin_ns = spin_ns
        self._kernel_timeout = _kernel_timeouts(sock, read_timeout_s)
        if not self._kernel_timeout:
            sock.settimeout(read_timeout_s)

    @classmethod
    def open(cls, address: Address, *, tls: TlsOptions, credentials: Credentials, policy: CommandPolicy,
             connect_timeout_s: float, read_timeout_s: float, spin_ns: int = 0,
             client_name: str | None = None, deadline: Deadline | None = None) -> tuple[ProbeConnection, SetupTiming]:
        if deadline is not None:
            deadline.check(f"connecting to {address}")
            connect_timeout_s = max(0.001, min(connect_timeout_s, deadline.remaining()))
        start = time.perf_counter_ns()
        raw = socket.create_connection((address.host, address.port), timeout=connect_timeout_s)
        connected = time.perf_counter_ns()
        watch = deadline.watch(raw, f"the latency probe of {address}") if deadline is not None else None
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock: socket.socket = raw
            tls_ns: int | None = None
            if tls.enabled:
                left = max(0.001, connect_timeout_s - (connected - start) / 1e9)
                raw.settimeout(left)
                if watch is not None:  # the handshake in all, not per recv
                    watch.arm(left, f"the TLS handshake with {address} took longer than {connect_timeout_s:g} s")
                try:
                    sock = ssl_context(tls).wrap_socket(raw, server_hostname=address.host)
                except (OSError, ssl.SSLError):
                    if watch is not None and (failure := watch.failure()) is not None:
                        raise (failure if watch.by_deadline else ProbeTimeout(str(failure))) from None
                    raise
                if watch is not None:
                    watch.disarm()
                tls_ns = time.perf_counter_ns() - connected
            ready = time.perf_counter_ns()
            conn = cls(sock, policy, read_timeout_s, spin_ns, watch, str(address))
            if credentials.password is not None:
                user = (credentials.user,) if credentials.user else ()
                conn.call("AUTH", *user, credentials.password.reveal())
            conn.call("PING")
            timing = SetupTiming(connected - start, tls_ns, time.perf_counter_ns() - ready)
            if client_name:
                conn.call("CLIENT", "SETNAME", client_name)
            return conn, timing
        except RespError as exc:
            _close(raw, watch)
            raise RespError(scrub(exc)) from None
        except BaseException:
            _close(raw, watch)
            raise

    def prepare(self, *args: object) -> Prepared:
        """Pack a command once and judge the packed bytes; raises CommandNotAllowed, nothing is sent."""
        return Prepared(self._policy, self._policy.judged(pack(args)))

    def send(self, *args: object) -> None:
        self._send(self._policy.judged(pack(args)))  # the bytes as sent are what the guard judges

    def send_prepared(self, command: Prepared) -> None:
        if command.policy is not self._policy:
            raise ValueError(f"a command prepared under {command.policy.name} sent on a {self._policy.name} "
                             "connection")
        self._send(command.data)

    def _send(self, data: bytes) -> None:
        data = self._policy.judged(data)  # the one write to the socket: bytes the guard has not built are judged
        try:
            self._sock.sendall(data)
        except (BlockingIOError, ssl.SSLWantWriteError):
            raise ProbeTimeout("could not send within the timeout") from None
        except OSError:
            self._raise_if_cut()
            raise

    def read(self) -> Reply:
        """The next reply; an error reply raises RespError."""
        watch = self._watch
        if watch is not None:
            watch.arm(self._read_timeout_s, self._reply_reason)
        try:
            return self._read()
        finally:
            if watch is not None:
                watch.disarm()

    def _read(self) -> Reply:
        while True:
            if self._end > self._start:
                parsed = parse(self._buffer, self._start, self._end)
                if parsed is not None:
                    reply, used = parsed
                    self._start = used
                    if self._start == self._end:
                        self._start = self._end = 0
                    if isinstance(reply, RespError):
                        raise reply
                    return reply
            self._fill()

    def call(self, *args: object) -> Reply:
        self.send(*args)
        return self.read()

    def call_prepared(self, command: Prepared) -> Reply:
        self.send_prepared(command)
        return self.read()

    def _fill(self) -> None:
        if self._start:  # move the unparsed tail to the front
            size = self._end - self._start
            self._buffer[:size] = self._buffer[self._start:self._end]
            self._start, self._end = 0, size
        if self._end + READ_CHUNK > len(self._buffer):  # a long reply (INFO, CLUSTER NODES): grow
            if self._end > PROBE_LIMIT.max_bytes:
                raise ReplyRefused(f"reply exceeded {size_text(PROBE_LIMIT.max_bytes)}: refused")
            self._view.release()
            self._buffer.extend(bytes(READ_CHUNK))
            self._view = memoryview(self._buffer)
        if self._spin_ns:
            self._spin()
        try:
            received = self._sock.recv_into(self._view[self._end:], READ_CHUNK)
        except (TimeoutError, BlockingIOError, ssl.SSLWantReadError):
            raise ProbeTimeout("no reply within the read timeout") from None
        except OSError:
            self._raise_if_cut()
            raise
        if not received:
            self._raise_if_cut()
            raise ConnectionError("the server closed the connection")
        self._end += received

    def _raise_if_cut(self) -> None:
        """The watchdog shut the socket: the reply's budget or the deadline was spent."""
        failure = self._watch.failure() if self._watch is not None else None
        if failure is None:
            return
        if self._watch is not None and self._watch.by_deadline:
            raise failure
        raise ProbeTimeout(str(failure))

    def _spin(self) -> None:
        # Poll briefly before blocking: a blocked reader pays a scheduler wake-up that is the probe's
        # cost, not the server's. Bounded, so an idle wait costs no CPU. (On a busy host with few cores
        # the spinning thread competes with the server for a core: benchmarks/latency measures both.)
        if isinstance(self._sock, ssl.SSLSocket) and self._sock.pending() > 0:
            return
        until = time.perf_counter_ns() + self._spin_ns
        while time.perf_counter_ns() < until:
            if select.select([self._sock], [], [], 0)[0]:
                return

    def close(self) -> None:
        _close(self._sock, self._watch)


def _close(sock: socket.socket, watch: Watch | None) -> None:
    if watch is not None:
        watch.release()
    with contextlib.suppress(OSError):
        sock.close()


def _kernel_timeouts(sock: socket.socket, timeout_s: float) -> bool:
    """Blocking socket with SO_RCVTIMEO/SO_SNDTIMEO = timeout_s; False where the platform lacks them."""
    raw = sock
    try:
        raw.settimeout(None)
        value = _timeval(max(0.001, timeout_s))
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
    except (OSError, AttributeError, struct.error):
        return False
    return True
