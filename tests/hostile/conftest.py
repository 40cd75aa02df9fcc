"""Helpers for the hostile-server tests: the server as a fixture, the CLI as a user runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.hostile.server import HostileServer


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float  # the child's peak resident set, VmHWM (subprocess runs only)

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


# The child reports its own peak RSS (VmHWM) as it exits. Not wait4's ru_maxrss: Linux counts in it the
# memory of the process it was forked from (this test process, hundreds of MB late in a full run).
_CHILD = """
import atexit, runpy, sys
def report(path=sys.argv[1]):
    with open("/proc/self/status") as status, open(path, "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM:")).split()[1])
atexit.register(report)
sys.argv = ["redis-audit", *sys.argv[2:]]
runpy.run_module("redis_audit", run_name="__main__")
"""


def run_subprocess(args: list[str], workdir: Path, limit_s: float = 60.0) -> Outcome:
    """`redis-audit ARGS` as a separate process, with its own peak RSS."""
    out, err, peak = workdir / "stdout.txt", workdir / "stderr.txt", workdir / "peak-rss-kb.txt"
    started = time.monotonic()
    with out.open("w") as stdout, err.open("w") as stderr:
        child = subprocess.Popen([sys.executable, "-c", _CHILD, str(peak), *args], stdout=stdout, stderr=stderr)
    try:
        code = child.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:  # a hang: kill it, so that the test fails instead of CI
        os.kill(child.pid, signal.SIGKILL)
        code = child.wait()
    rss_mb = int(peak.read_text()) / 1024 if peak.is_file() else 0.0
    return Outcome(code, out.read_text(), err.read_text(), time.monotonic() - started, rss_mb)


@pytest.fixture
def hostile() -> Iterator[Callable[..., HostileServer]]:
    """hostile(mode, on=..., after=...): a started HostileServer, closed at the end of the test."""
    servers: list[HostileServer] = []

    def start(mode: str, **kwargs: object) -> HostileServer:
        server = HostileServer(mode, **kwargs)  # type: ignore[arg-type]
        server.__enter__()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.close()
