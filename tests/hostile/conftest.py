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
    max_rss_mb: float  # the child's peak resident set (subprocess runs only)

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def run_subprocess(args: list[str], workdir: Path, limit_s: float = 60.0) -> Outcome:
    """`redis-audit ARGS` as a separate process; its peak RSS from wait4 (this child's, no other)."""
    out, err = workdir / "stdout.txt", workdir / "stderr.txt"
    started = time.monotonic()
    with out.open("w") as stdout, err.open("w") as stderr:
        child = subprocess.Popen([sys.executable, "-m", "redis_audit", *args], stdout=stdout, stderr=stderr)
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - started > limit_s:  # a hang: kill it, so the test fails instead of CI
            os.kill(child.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(child.pid, 0)
            break
        time.sleep(0.02)
    child.returncode = os.waitstatus_to_exitcode(status)  # so that Popen does not reap it again
    return Outcome(child.returncode, out.read_text(), err.read_text(), time.monotonic() - started,
                   usage.ru_maxrss / 1024)


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
