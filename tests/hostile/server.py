"""A hostile RESP server for the tests: a plausible Redis 7 standalone node that misbehaves on cue.

It answers like a real node (INFO, PING, CLIENT SETNAME, SCAN, ...) until the command named by
`on` has been seen `after` times (over all connections), then misbehaves in one of the `MODES`,
on that reply and (sticky) on every later one: a server that went bad stays bad. So the
misbehaviour can start on connect, inside discovery, inside a collector thread, inside the census
or inside the probe, depending on the command chosen.

With `replica_of`, it also registers as a replica of a real primary (REPLCONF listening-port and
PSYNC on a connection of its own), so that the primary names it in INFO replication and discovery
finds it beside healthy nodes; its INFO and ROLE then say it is that primary's replica.

This is no claim about Redis: it is the hostile server the auditor must survive.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# Misbehaviours. Timing: drip, endless, garbage, silence, close, tls-stall, tls-drip.
# Memory: huge-bulk (512 MiB announced and sent), giant (1 GiB), endless-array, big-info (100 MB), nested.
MODES = ("drip", "endless", "garbage", "silence", "close", "tls-stall", "tls-drip",
         "huge-bulk", "giant", "endless-array", "big-info", "nested")
DRIP_INTERVAL_S = 0.2  # far below any socket timeout: a per-recv timeout never trips
CHUNK = b"x" * 65536

INFO_TEXT = (
    "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nos:Linux\r\narch_bits:64\r\n"
    "run_id:0123456789abcdef0123456789abcdef01234567\r\ntcp_port:{port}\r\nuptime_in_seconds:1000\r\n"
    "executable:/usr/bin/redis-server\r\nconfig_file:\r\n"
    "# Clients\r\nconnected_clients:1\r\nmaxclients:10000\r\n"
    "# Memory\r\nused_memory:1000000\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n"
    "mem_fragmentation_ratio:1.00\r\n"
    "# Persistence\r\nloading:0\r\naof_enabled:0\r\nrdb_last_bgsave_status:ok\r\n"
    "# Stats\r\ntotal_connections_received:1\r\nevicted_keys:0\r\nrejected_connections:0\r\n"
    "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:0\r\n"
    "# CPU\r\nused_cpu_sys:0.1\r\n# Commandstats\r\ncmdstat_ping:calls=1,usec=1,usec_per_call=1.00\r\n"
    "# Cluster\r\ncluster_enabled:0\r\n# Keyspace\r\n"
)


def bulk(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return b"$%d\r\n%s\r\n" % (len(data), data)


def array(*items: bytes) -> bytes:
    return b"*%d\r\n" % len(items) + b"".join(items)


def command_key(args: list[bytes]) -> str:
    words = [a.decode("utf-8", "replace").lower() for a in args[:2]]
    containers = {"client", "config", "cluster", "acl", "slowlog", "latency", "memory", "command", "object",
                  "sentinel", "script", "function", "module"}
    if len(words) > 1 and words[0] in containers:
        return f"{words[0]}|{words[1]}"
    return words[0] if words else ""


@dataclass
class HostileServer:
    """Serve on a free loopback port, in daemon threads; `with HostileServer(...) as server:`."""

    mode: str
    on: str = "*"  # command key that triggers the misbehaviour ("*": any command)
    after: int = 0  # occurrences of `on` answered normally first
    tls_cert: tuple[Path, Path] | None = None  # (cert, key): speak TLS (tls-* modes never complete it)
    replica_of: tuple[int, str, str] | None = None  # (primary port, user, password): pose as its replica
    port: int = 0
    seen: list[str] = field(default_factory=list)  # every command received, in order
    triggered: bool = False
    _listener: socket.socket | None = None
    _clients: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopped: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        assert self.mode in (*MODES, "normal"), self.mode

    def __enter__(self) -> HostileServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, name="hostile-accept", daemon=True).start()
        if self.replica_of is not None:
            self._register_as_replica(*self.replica_of)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls_cert else 'redis'}://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stopped.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
        with self._lock:
            clients, self._clients = list(self._clients), []
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                client.close()

    # -- posing as a replica -------------------------------------------------------------------------
    def _register_as_replica(self, primary_port: int, user: str, password: str) -> None:
        link = socket.create_connection(("127.0.0.1", primary_port), timeout=5)
        with self._lock:
            self._clients.append(link)
        for command in ([b"AUTH", user.encode(), password.encode()],
                        [b"REPLCONF", b"listening-port", str(self.port).encode()],
                        [b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]):
            link.sendall(array(*(bulk(arg) for arg in command)))
            if not link.recv(1024).startswith(b"+OK"):
                raise RuntimeError(f"the primary refused {command[0]!r}")
        link.sendall(array(bulk("PSYNC"), bulk("?"), bulk("-1")))
        link.settimeout(None)
        threading.Thread(target=self._swallow, args=(link,), name="hostile-replication", daemon=True).start()

    def _swallow(self, link: socket.socket) -> None:
        """Read and drop the replication stream, acknowledging now and then, until closed."""
        with contextlib.suppress(OSError):
            while not self._stopped.is_set() and link.recv(65536):
                link.sendall(array(bulk("REPLCONF"), bulk("ACK"), bulk("0")))

    def _info(self) -> str:
        text = INFO_TEXT.format(port=self.port)
        if self.replica_of is not None:
            text = text.replace("role:master\r\nconnected_slaves:0\r\n",
                                f"role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:{self.replica_of[0]}\r\n"
                                "master_link_status:up\r\nslave_repl_offset:0\r\nslave_priority:100\r\n"
                                "slave_read_only:1\r\nconnected_slaves:0\r\n")
        return text

    # -- connections -------------------------------------------------------------------------------
    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._clients.append(conn)
            threading.Thread(target=self._serve, args=(conn,), name="hostile-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._converse(conn)
        finally:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()

    def _converse(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError, ValueError):
            if self.mode == "tls-stall":
                self._stopped.wait()  # accept, never read the ClientHello, never answer it
                return
            if self.mode == "tls-drip":
                conn.sendall(b"\x16\x03\x03\x40\x00")  # a 16 KiB handshake record announced...
                while not self._stopped.wait(DRIP_INTERVAL_S):
                    conn.sendall(b"\x02")  # ...and sent a byte at a time
                return
            stream: socket.socket = conn
            if self.tls_cert is not None:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.load_cert_chain(str(self.tls_cert[0]), str(self.tls_cert[1]))
                stream = context.wrap_socket(conn, server_side=True)
            buffer = b""
            while not self._stopped.is_set():
                parsed = _parse_command(buffer)
                if parsed is None:
                    data = stream.recv(65536)
                    if not data:
                        return
                    buffer += data
                    continue
                args, buffer = parsed
                if not self._answer(stream, args):
                    return

    def _answer(self, stream: socket.socket, args: list[bytes]) -> bool:
        key = command_key(args)
        with self._lock:
            self.seen.append(key)
            if not self.triggered and self.mode != "normal" and (self.on in ("*", key)):
                occurrences = sum(1 for k in self.seen if self.on in ("*", k))
                self.triggered = occurrences > self.after
            hostile = self.triggered
        if not hostile:
            stream.sendall(self.normal_reply(args, key))
            return True
        return self._misbehave(stream)

    def _misbehave(self, stream: socket.socket) -> bool:
        mode, stop = self.mode, self._stopped
        if mode == "drip":  # a valid reply, small enough for any limit, one byte at a time
            for byte in b"+" + b"x" * 200 + b"\r\n":
                if stop.wait(DRIP_INTERVAL_S):
                    return False
                stream.sendall(bytes([byte]))
        elif mode == "endless":
            stream.sendall(b"+")  # a status line that never ends
            while not stop.wait(0.01):
                stream.sendall(b"a" * 4096)
        elif mode == "garbage":
            stream.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n\r\n<html>\x00\xff\xfe")
            stop.wait()
        elif mode == "silence":
            stop.wait()
        elif mode == "close":
            stream.sendall(b"$100\r\nhalf a rep")
            return False
        elif mode in ("huge-bulk", "giant", "big-info"):
            size = {"huge-bulk": 512 << 20, "giant": 1 << 30, "big-info": 100_000_000}[mode]
            stream.sendall(b"$%d\r\n" % size)
            line = b"key_%08d:value\r\n" * 4096 if mode == "big-info" else CHUNK
            sent = 0
            while sent < size and not stop.is_set():
                stream.sendall(line)
                sent += len(line)
        elif mode == "endless-array":
            stream.sendall(b"*2147483647\r\n")
            while not stop.is_set():
                stream.sendall(b"+ab\r\n" * 8192)
        elif mode == "nested":
            stream.sendall(b"*1\r\n" * 200_000 + b":1\r\n")
            stop.wait()
        return True

    # -- a plausible standalone Redis 7.0 ------------------------------------------------------------
    def normal_reply(self, args: list[bytes], key: str) -> bytes:
        if key in ("ping",):
            return b"+PONG\r\n"
        if key in ("auth", "client|setname", "client|setinfo", "readonly", "select", "set"):
            return b"+OK\r\n"
        if key == "hello":
            return array(bulk("server"), bulk("redis"), bulk("version"), bulk("7.0.15"), bulk("proto"), b":2\r\n",
                         bulk("id"), b":1\r\n", bulk("mode"), bulk("standalone"), bulk("role"), bulk("master"),
                         bulk("modules"), b"*0\r\n")
        if key == "info":
            return bulk(self._info())
        if key == "role" and self.replica_of is not None:
            return array(bulk("slave"), bulk("127.0.0.1"), b":%d\r\n" % self.replica_of[0], bulk("connected"),
                         b":0\r\n")
        if key == "role":
            return array(bulk("master"), b":0\r\n", b"*0\r\n")
        if key in ("dbsize", "slowlog|len"):
            return b":0\r\n"
        if key == "scan":
            return array(bulk("0"), b"*0\r\n")
        if key == "client|list":
            return bulk("id=1 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=8 name=redis-audit age=0 idle=0 "
                        "flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 "
                        "obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=client|list user=default redir=-1 resp=2\n")
        if key == "acl|whoami":
            return bulk("default")
        if key == "acl|users":
            return array(bulk("default"))
        if key == "acl|list":
            return array(bulk("user default on nopass sanitize-payload ~* &* +@all"))
        if key == "time":
            return array(bulk(str(int(time.time()))), bulk("0"))
        if key == "get":
            return b"$-1\r\n"
        if key.startswith("cluster|"):
            return b"-ERR This instance has cluster support disabled\r\n"
        if key in ("config|get", "slowlog|get", "latency|latest", "acl|log", "command|docs", "command|info",
                   "memory|stats", "command"):
            return b"*0\r\n"
        return b"-ERR unknown command '%s'\r\n" % (args[0][:40] if args else b"")


def _parse_command(buffer: bytes) -> tuple[list[bytes], bytes] | None:
    """One RESP array of bulk strings from the front of buffer, and the rest; None if incomplete."""
    if not buffer:
        return None
    if not buffer.startswith(b"*"):  # inline command
        end = buffer.find(b"\r\n")
        return (buffer[:end].split(), buffer[end + 2:]) if end >= 0 else None
    end = buffer.find(b"\r\n")
    if end < 0:
        return None
    count, pos, args = int(buffer[1:end]), end + 2, []
    for _ in range(count):
        end = buffer.find(b"\r\n", pos)
        if end < 0:
            return None
        size = int(buffer[pos + 1:end])
        start = end + 2
        if len(buffer) < start + size + 2:
            return None
        args.append(buffer[start:start + size])
        pos = start + size + 2
    return args, buffer[pos:]
