"""Every command against a hostile server: it ends by its deadline, says why in one line, never crashes.

The misbehaviour starts where the test says (the connect-time handshake, discovery, a collector
thread, the census, the probe) and stays: a server that went bad stays bad. Most cases run the CLI
in this process (`main`, as the console script does); the ones that are about the process itself
(it exits although a worker is stuck; its peak memory) run it as a child process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from redis_audit.cli.main import main
from tests.hostile.conftest import Outcome, run_subprocess
from tests.hostile.server import HostileServer

DEADLINE = 3
# Generous on purpose (a shared CI host): a hang is minutes, this is "the deadline, then the report".
MARGIN = 5
TIMING = ("drip", "endless", "garbage", "silence", "close")
# Where the misbehaviour starts: the command answered wrongly, and how many of it were answered first.
WHERE = {
    "connect": ("*", 0),  # the first command of the first connection: redis-py's connect-time handshake
    "discovery": ("info", 0),  # discovery's first INFO
    "collector": ("slowlog|get", 0),  # inside a collector's worker thread
    "census": ("scan", 0),  # inside the keyspace census
    "probe": ("get", 0),  # inside the local latency probe (after discovery, collection and census)
}
FAST = ["--deadline", str(DEADLINE), "--connect-timeout", "1", "--command-timeout", "1"]
HostileFactory = Callable[..., HostileServer]


def in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    started = time.monotonic()
    code = main(args)
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err, time.monotonic() - started, 0.0)


def assert_clean(outcome: Outcome, limit_s: float = DEADLINE + MARGIN) -> None:
    """Within the deadline and a margin; at most one line on stderr; never a traceback or an internal error."""
    assert outcome.seconds < limit_s, outcome
    assert "Traceback" not in outcome.stderr and "internal error" not in outcome.stderr, outcome.stderr
    assert len(outcome.error_lines()) <= 1, outcome.stderr


def report_messages(path: Path) -> str:
    report = json.loads(path.read_text())
    return "\n".join(f"{f['checkId']} {f['status']} {f['resource']}: {f['message']}" for f in report["findings"])


RUN_CASES = [*((mode, "collector") for mode in TIMING),
             *((mode, where) for mode in ("drip", "silence") for where in ("connect", "discovery", "census", "probe"))]


@pytest.mark.parametrize(("mode", "where"), RUN_CASES)
def test_run_ends_at_its_deadline_with_the_report_written(mode: str, where: str, hostile: HostileFactory,
                                                          tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    on, after = WHERE[where]
    server = hostile(mode, on=on, after=after)
    report = tmp_path / "report.json"
    # The local probe runs last, and only with time left for it (it leaves 2 s to the rest of the run).
    deadline = DEADLINE + 5 if where == "probe" else DEADLINE
    outcome = in_process(["run", server.url, *FAST, "--deadline", str(deadline), "--format", "json",
                          "--output", str(report)], capsys)
    assert_clean(outcome, deadline + MARGIN)
    assert server.triggered
    messages = report_messages(report)  # the report is written, whatever happened
    address = f"127.0.0.1:{server.port}"
    if where in ("connect", "discovery"):  # nothing could be judged: INCONCLUSIVE, and why
        assert outcome.code == 3
        assert f"AUDIT-001 ERROR deployment: the target could not be reached: {address}" in messages
    elif where == "collector":  # the node is an ERROR finding that says what went wrong
        assert outcome.code in (1, 3)  # a standalone node is NOT_READY whatever it answers (HA-001)
        assert f"AUDIT-001 ERROR {address}: primary node could not be audited" in messages
        assert outcome.error_lines() == [line for line in outcome.stderr.splitlines() if address in line]
    else:  # the census or the probe: their fact is unavailable, with the reason
        fact = "keyspace.census" if where == "census" else "latency.local"
        assert any(fact in line and ("deadline" in line or "reply" in line or "ProbeTimeout" in line)
                   for line in messages.splitlines()), messages


@pytest.mark.parametrize("mode", ["drip", "garbage", "silence", "huge-bulk", "endless-array", "nested"])
def test_census_ends_at_its_deadline_with_one_line(mode: str, hostile: HostileFactory,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    server = hostile(mode, on="scan")
    outcome = in_process(["census", server.url, "--deadline", str(DEADLINE), "--format", "json"], capsys)
    assert_clean(outcome)
    assert outcome.code == 3 and len(outcome.error_lines()) == 1
    assert f"the census of {server.url}" in outcome.stderr


@pytest.mark.parametrize(("mode", "after"), [("drip", 3), ("silence", 3), ("garbage", 3), ("close", 3),
                                             ("huge-bulk", 3), ("nested", 3), ("nested", 0), ("drip", 0)])
def test_probe_latency_ends_by_its_deadline_with_one_line(mode: str, after: int, hostile: HostileFactory,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """after=0: the probe's setup (PING) misbehaves; after=3: its sampling does."""
    server = hostile(mode, on="ping", after=after)
    outcome = in_process(["probe", "latency", server.url, "--duration", "1", "--rate", "20",
                          "--deadline", str(DEADLINE), "--format", "json"], capsys)
    assert_clean(outcome)
    assert outcome.code == 3 and len(outcome.error_lines()) == 1, outcome.stderr
    assert "RecursionError" not in outcome.stderr and "ProbeTimeout" not in outcome.stderr


@pytest.mark.parametrize("mode", ["drip", "garbage", "huge-bulk"])
def test_probe_failover_refuses_a_deployment_it_cannot_read(mode: str, hostile: HostileFactory,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    server = hostile(mode, on="info")
    outcome = in_process(["probe", "failover", server.url, "--allow-failover", "--yes", "--budget", "10",
                          "--deadline", str(DEADLINE + 3), "--format", "json"], capsys)
    assert_clean(outcome, DEADLINE + 3 + MARGIN)
    assert outcome.code == 3 and len(outcome.error_lines()) == 1
    assert "failover probe refused: discovery failed" in outcome.stderr
    assert json.loads(outcome.stdout)["result"]["inconclusive"] is True


@pytest.mark.parametrize("mode", ["drip", "garbage", "huge-bulk"])
def test_acl_suggest_reading_a_hostile_target_says_so_in_one_line(mode: str, hostile: HostileFactory,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    server = hostile(mode)
    outcome = in_process(["acl", "suggest", server.url], capsys)
    assert_clean(outcome)
    assert outcome.code in (2, 3) and len(outcome.error_lines()) == 1
    assert f"cannot read the version of 127.0.0.1:{server.port}" in outcome.stderr


# -- the process itself ------------------------------------------------------------------------------------


def test_a_stuck_worker_does_not_keep_the_process_alive(hostile: HostileFactory, tmp_path: Path) -> None:
    """The drip starts inside a collector thread; the report is written at the deadline and the process exits."""
    server = hostile("drip", on="slowlog|get")
    report = tmp_path / "report.json"
    outcome = run_subprocess(["run", server.url, "--deadline", str(DEADLINE), "--format", "json",
                              "--output", str(report)], tmp_path)
    assert_clean(outcome, DEADLINE + MARGIN + 2)  # + the interpreter's start
    assert outcome.code in (1, 3) and report.is_file()
    assert "the run's deadline of 3 s expired during" in report_messages(report)


@pytest.mark.parametrize("mode", ["tls-stall", "tls-drip"])
def test_a_tls_handshake_that_never_completes_is_cut(mode: str, hostile: HostileFactory, tmp_path: Path) -> None:
    server = hostile(mode)
    url = server.url.replace("redis://", "rediss://")
    outcome = run_subprocess(["run", url, "--tls-insecure", *FAST, "--format", "json",
                              "--output", str(tmp_path / "r.json")], tmp_path)
    assert_clean(outcome, DEADLINE + MARGIN + 2)
    assert outcome.code == 3
    assert f"the TLS handshake with 127.0.0.1:{server.port} did not complete within 1 s" in outcome.stderr


MEMORY_CASES = [
    ("huge-bulk", "slowlog|get"),  # a 512 MiB bulk string announced and sent, in a collector thread
    ("giant", "client|setname"),  # a 1 GiB reply to CLIENT SETNAME, in the connect-time handshake
    ("endless-array", "slowlog|get"),  # *2147483647 and elements for ever
    ("big-info", "info"),  # a 100 MB INFO
    ("nested", "slowlog|get"),  # arrays nested 200,000 deep
    ("endless-array", "scan"),  # the census's own pipelined replies (hiredis)
    ("huge-bulk", "scan"),
]


@pytest.mark.parametrize(("mode", "on"), MEMORY_CASES)
def test_memory_stays_bounded_whatever_the_server_sends(mode: str, on: str, hostile: HostileFactory,
                                                        tmp_path: Path) -> None:
    server = hostile(mode, on=on)
    report = tmp_path / "report.json"
    outcome = run_subprocess(["run", server.url, *FAST, "--format", "json", "--output", str(report)], tmp_path)
    assert_clean(outcome, DEADLINE + MARGIN + 2)
    assert 0 < outcome.max_rss_mb < 100, outcome  # the auditor alone is ~50 MB; these replies are 100 MB to 2 GB
    assert "refused" in report_messages(report)
