"""Starting, watching and stopping server processes, by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from redis_audit.files import open_log

STOP_GRACE_SECONDS = 5.0


def start_server(binary: Path, config_file: Path, *, sentinel: bool, stdio_log: Path) -> int:
    """Start a server in the background and return its PID.

    The process gets its own session so that it outlives the `sandbox up` command and does
    not receive the terminal's Ctrl-C; the sandbox stops it explicitly. Early errors (a bad
    config line) are printed before the logfile is open, hence the stdio log.
    """
    args = [str(binary), str(config_file)]
    if sentinel:
        args.append("--sentinel")
    with os.fdopen(open_log(stdio_log), "ab") as out:
        proc = subprocess.Popen(
            args,
            cwd=config_file.parent,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    return proc.pid


def process_start_time(pid: int) -> int | None:
    """The kernel's start time of `pid` (clock ticks since boot), or None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; the fields after it are plain numbers.
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[19])  # field 22 overall


def _reap(pid: int) -> bool | None:
    """Collect the exit status if `pid` is our child, so it does not linger as a zombie.

    True: reaped (gone). False: our child, still running or still exiting. None: not our child.
    """
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return done == pid


def is_alive(pid: int, started_at: int | None = None) -> bool:
    """Whether this exact process (not a later one that reused the PID) still runs."""
    if pid <= 0:
        return False  # not started; and kill(0) would signal our own process group
    if _reap(pid):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: the PID was reused
    if started_at is not None:
        current = process_start_time(pid)
        if current is not None and current != started_at:
            return False
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        if state in ("Z", "X"):
            # A zombie of ours is reaped once its last thread has exited: until then it counts
            # as alive so that the caller polls again. Someone else's zombie is simply dead.
            return _reap(pid) is False
    return True


def send_signal(pid: int, sig: int, started_at: int | None = None) -> bool:
    """Signal the process if it is still ours; False when it is gone."""
    if not is_alive(pid, started_at):
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def stop_processes(processes: Iterable[tuple[int, int | None]], grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM every process at once, wait, then SIGKILL what is left; returns when all are gone.

    SIGTERM is repeated while waiting: a server refuses to shut down while it writes its
    initial AOF ("Writing initial AOF, can't exit") and only acts on a later SIGTERM.
    SIGCONT follows SIGTERM because a process stopped with SIGSTOP (a failover test) would
    otherwise never act on it.
    """
    pending = [(pid, started) for pid, started in processes if is_alive(pid, started)]
    for sig, resend_every in ((signal.SIGTERM, 0.5), (signal.SIGKILL, grace)):
        deadline = time.monotonic() + grace
        next_send = 0.0
        while pending and time.monotonic() < deadline:
            if time.monotonic() >= next_send:
                for pid, started in pending:
                    send_signal(pid, sig, started)
                    send_signal(pid, signal.SIGCONT, started)
                next_send = time.monotonic() + resend_every
            time.sleep(0.02)
            pending = [(pid, started) for pid, started in pending if is_alive(pid, started)]


def log_tail(*paths: Path, lines: int = 15) -> str:
    """The last lines of a node's logs, for error messages."""
    parts: list[str] = []
    for path in paths:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        tail = [line for line in text.splitlines() if line.strip()][-lines:]
        if tail:
            parts.append(f"--- {path} ---\n" + "\n".join(tail))
    return "\n".join(parts) if parts else "(no log output)"
