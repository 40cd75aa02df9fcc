"""Facts from the host a node runs on, when it is this host: swapped pages (MEM-007)."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

from redis_audit.collect.base import CollectContext, NodeSession
from redis_audit.snapshot import Fact, FactError, FactErrorKind
from redis_audit.topology import DATA_ROLES

SERVER_NAMES = ("redis-server", "valkey-server", "redis-check", "valkey")


def is_local(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or host == socket.gethostname()
    return address.is_loopback


def swapped_kb(pid: int, proc: Path = Path("/proc")) -> int:
    """The sum of 'Swap:' in /proc/<pid>/smaps_rollup (or smaps), in kB."""
    folder = proc / str(pid)
    path = folder / "smaps_rollup"
    if not path.exists():
        path = folder / "smaps"
    total = 0
    for line in path.read_text(encoding="ascii", errors="replace").splitlines():
        if line.startswith("Swap:"):
            total += int(line.split()[1])
    return total


def _unavailable(message: str) -> Fact:
    return Fact(error=FactError(FactErrorKind.UNSUPPORTED, "proc-smaps", message))


class SwapCollector:
    """MEM-007: readable only for a node on this host whose process_id is a Redis/Valkey process."""

    name = "host.swap"
    roles = DATA_ROLES
    commands: tuple[str, ...] = ()  # reads INFO server as the info collector stored it
    provides: tuple[str, ...] = ("host.swap",)

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        return session.node.role in self.roles

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        if not is_local(session.node.address.host):
            return {self.name: _unavailable("the node is not on this host; read its /proc/<pid>/smaps there")}
        info = session.known("info")
        server = info.get("server") if isinstance(info, dict) else None
        pid = int(str(server.get("process_id", "0")) or 0) if isinstance(server, dict) else 0
        comm = Path("/proc") / str(pid) / "comm"
        try:
            name = comm.read_text(encoding="ascii", errors="replace").strip()
            if not pid or not name.startswith(SERVER_NAMES):
                return {self.name: _unavailable(f"process {pid} on this host is not the node ({name!r})")}
            kb = swapped_kb(pid)
        except OSError as exc:
            return {self.name: _unavailable(f"cannot read /proc/{pid}/smaps: {exc.strerror}")}
        return {self.name: Fact(value={"pid": pid, "swapKb": kb})}
