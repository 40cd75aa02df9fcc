"""A minimal guarded RESP2 connection for timing: every phase of its setup is measured on its own.

redis-py hides the TCP connect, the TLS handshake and AUTH inside one connect() call and adds
tens of microseconds per command; a latency probe needs them apart and needs a fast path. The
guard is the same as everywhere else: a CommandPolicy checks every command before it is packed,
so this connection can send nothing its policy does not allow.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import time
from dataclasses import dataclass

from redis_audit.guard import CommandPolicy
from redis_audit.secret import scrub
from redis_audit.target import Credentials, TlsOptions
from redis_audit.topology import Address

Reply = bytes | int | list["Reply"] | None


class RespError(Exception):
    """The server answered with an error reply (NOPERM, NOSCRIPT, ...)."""


class ProbeTimeout(Exception):
    """No complete reply within the read timeout; the connection is no longer usable."""


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


def parse(buffer: bytes | bytearray, pos: int = 0) -> tuple[Reply | RespError, int] | None:
    """One reply from buffer[pos:], and the position after it; None when incomplete."""
    end = buffer.find(b"\r\n", pos)
    if end < 0:
        return None
    kind, line = buffer[pos:pos + 1], bytes(buffer[pos + 1:end])
    after = end + 2
    if kind == b"+":
        return line, after
    if kind == b"-":
        return RespError(line.decode("utf-8", "replace")), after
    if kind == b":":
        return int(line), after
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, after
        if len(buffer) < after + size + 2:
            return None
        return bytes(buffer[after:after + size]), after + size + 2
    if kind == b"*":
        count = int(line)
        if count < 0:
            return None, after
        items: list[Reply] = []
        for _ in range(count):
            parsed = parse(buffer, after)
            if parsed is None:
                return None
            item, after = parsed
            items.append(None if isinstance(item, RespError) else item)
        return items, after
    raise ConnectionError(f"not a RESP reply (first byte {kind!r})")


@dataclass(frozen=True)
class SetupTiming:
    """One connection's setup, in nanoseconds; tls_ns is None for a plaintext connection."""

    tcp_ns: int
    tls_ns: int | None
    first_command_ns: int  # AUTH (when there are credentials) and a PING, until PONG


class ProbeConnection:
    """One socket, one policy, one command in flight."""

    def __init__(self, sock: socket.socket, policy: CommandPolicy, read_timeout_s: float, spin_ns: int) -> None:
        self._sock = sock
        self._policy = policy
        self._buffer = bytearray()
        self._spin_ns = spin_ns
        sock.settimeout(read_timeout_s)

    @classmethod
    def open(cls, address: Address, *, tls: TlsOptions, credentials: Credentials, policy: CommandPolicy,
             connect_timeout_s: float, read_timeout_s: float, spin_ns: int = 0,
             client_name: str | None = None) -> tuple[ProbeConnection, SetupTiming]:
        start = time.perf_counter_ns()
        raw = socket.create_connection((address.host, address.port), timeout=connect_timeout_s)
        connected = time.perf_counter_ns()
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock: socket.socket = raw
            tls_ns: int | None = None
            if tls.enabled:
                raw.settimeout(max(0.001, connect_timeout_s - (connected - start) / 1e9))
                sock = ssl_context(tls).wrap_socket(raw, server_hostname=address.host)
                tls_ns = time.perf_counter_ns() - connected
            ready = time.perf_counter_ns()
            conn = cls(sock, policy, read_timeout_s, spin_ns)
            if credentials.password is not None:
                user = (credentials.user,) if credentials.user else ()
                conn.call("AUTH", *user, credentials.password.reveal())
            conn.call("PING")
            timing = SetupTiming(connected - start, tls_ns, time.perf_counter_ns() - ready)
            if client_name:
                conn.call("CLIENT", "SETNAME", client_name)
            return conn, timing
        except RespError as exc:
            raw.close()
            raise RespError(scrub(exc)) from None
        except BaseException:
            raw.close()
            raise

    def send(self, *args: object) -> None:
        self._policy.check(args)  # raises CommandNotAllowed before a byte is packed
        self._sock.sendall(pack(args))

    def read(self) -> Reply:
        """The next reply; an error reply raises RespError."""
        while True:
            parsed = parse(self._buffer) if self._buffer else None
            if parsed is not None:
                reply, used = parsed
                del self._buffer[:used]
                if isinstance(reply, RespError):
                    raise reply
                return reply
            self._fill()

    def call(self, *args: object) -> Reply:
        self.send(*args)
        return self.read()

    def _fill(self) -> None:
        if self._spin_ns:
            # Poll briefly before blocking: a blocked reader pays a scheduler wake-up (tens of µs)
            # that is the probe's cost, not the server's. Bounded, so an idle wait costs no CPU.
            until = time.perf_counter_ns() + self._spin_ns
            pending = isinstance(self._sock, ssl.SSLSocket) and self._sock.pending() > 0
            while not pending and time.perf_counter_ns() < until:
                pending = bool(select.select([self._sock], [], [], 0)[0])
        try:
            data = self._sock.recv(65536)
        except (TimeoutError, ssl.SSLWantReadError):
            raise ProbeTimeout("no reply within the read timeout") from None
        if not data:
            raise ConnectionError("the server closed the connection")
        self._buffer += data

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
