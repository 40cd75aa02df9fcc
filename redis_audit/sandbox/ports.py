"""Free loopback ports for the sandbox's servers."""

from __future__ import annotations

import contextlib
import errno
import socket

from redis_audit.sandbox.model import SandboxError

# Never hand out the well-known ports: another (real) server may own them at any moment.
RESERVED_PORTS = frozenset({6379, 16379, 26379})
CLUSTER_BUS_OFFSET = 10000
_MAX_ATTEMPTS = 200


def _bind(port: int, family: socket.AddressFamily, host: str) -> socket.socket | None:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        # No IPv6 on this machine: the servers bind `-::1` (optional), so it does not matter.
        if family == socket.AF_INET6 and exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            return _UNAVAILABLE
        return None
    return sock


_UNAVAILABLE = socket.socket()  # sentinel value: "address family not available, port is fine"
_UNAVAILABLE.close()


def _hold(port: int) -> list[socket.socket] | None:
    """Bind the port on 127.0.0.1 and ::1 (servers listen on both); None if either is taken."""
    held: list[socket.socket] = []
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        sock = _bind(port, family, host)
        if sock is None:
            for s in held:
                s.close()
            return None
        if sock is not _UNAVAILABLE:
            held.append(sock)
    return held


def free_ports(count: int, *, with_cluster_bus: bool = False) -> list[int]:
    """`count` distinct free ports (and, for a cluster, free bus ports at port + 10000).

    Every chosen port stays bound until all are chosen, so that one call never returns
    the same port twice. Another process can still take a port before the server binds it:
    the caller retries the start when that happens.
    """
    chosen: list[int] = []
    held: list[socket.socket] = []
    try:
        for _ in range(_MAX_ATTEMPTS):
            if len(chosen) == count:
                break
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            with contextlib.closing(probe):
                probe.bind(("127.0.0.1", 0))
                port = int(probe.getsockname()[1])
            wanted = [port, port + CLUSTER_BUS_OFFSET] if with_cluster_bus else [port]
            if any(p in RESERVED_PORTS or p > 65535 or p in chosen for p in wanted):
                continue
            sockets: list[socket.socket] = []
            for p in wanted:
                got = _hold(p)
                if got is None:
                    break
                sockets.extend(got)
            else:
                chosen.append(port)
                held.extend(sockets)
                continue
            for s in sockets:
                s.close()
    finally:
        for s in held:
            s.close()
    if len(chosen) < count:
        raise SandboxError(f"could not find {count} free loopback ports")
    return chosen
