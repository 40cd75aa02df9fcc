"""`run --allow-failover` asks for consent before anything starts, not after the whole audit."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time


class CountingListener:
    """A TCP port that only counts the connections made to it (no Redis behaviour is claimed)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "redis_audit", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=False)


def test_allow_failover_without_terminal_or_yes_refuses_before_connecting():
    listener = CountingListener()
    try:
        result = run("run", f"redis://127.0.0.1:{listener.port}", "--allow-failover", "--deadline", "5")
        time.sleep(0.3)  # a connection in flight would be counted by now
        assert result.returncode == 2, result.stderr
        assert "refusing to fail over without --failover-yes" in result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""
        assert listener.accepted == 0, "the audit started before the refusal"
    finally:
        listener.close()


def test_allow_failover_with_a_snapshot_is_refused():
    result = run("run", "--from-snapshot", "/nonexistent.json", "--allow-failover", "--failover-yes")
    assert result.returncode == 2 and "--allow-failover needs a live TARGET" in result.stderr
