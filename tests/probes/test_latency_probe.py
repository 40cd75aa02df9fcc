"""The latency probe against a real sandbox server: delays and stalls it must see, writes it must not make."""

from __future__ import annotations

import threading
import time

import pytest

from redis_audit.guard import LATENCY_PROBE, READ_ONLY, CommandNotAllowed
from redis_audit.probes.latency import ProbeConfig, ProbeConfigError, run_latency_probe
from redis_audit.probes.results import probe_config, result_document
from redis_audit.profile import profile_from_mapping
from redis_audit.sandbox import Sandbox
from redis_audit.target import TlsOptions
from redis_audit.topology import Address
from tests.judging import run_check, snapshot, statuses
from tests.probes.conftest import STANDALONE, credentials, primary
from tests.probes.delayproxy import DelayProxy


def probe(port: int, sandbox: Sandbox, user: str = "auditor", **config: object):
    return run_latency_probe(Address("127.0.0.1", port), tls=TlsOptions(), credentials=credentials(sandbox, user),
                             config=ProbeConfig(**config))  # type: ignore[arg-type]


def doc(result, pod: str) -> dict:
    return result_document(result, {"host": pod, "pod": pod, "namespace": None, "node": None, "az": "az-1"},
                           "redis://127.0.0.1")


def test_a_delaying_proxy_fails_lat001_at_the_threshold_and_passes_under_it(server):
    # 20 ms added to every request; 2 connections at 20/s each keep the probe far from queueing.
    with DelayProxy(primary(server).port, 0.020) as proxy:
        result = probe(proxy.port, server, rate_hz=40, duration_ms=2_500, connections=2, setup_samples=2)
    assert result.overall().total >= 90  # enough samples for a 95% upper bound on the P95 (n ≥ 72)
    snap = snapshot({"latency.pods": [doc(result, "pod-a")]})
    tight = statuses(run_check("LAT-001", snap, {"latency": {"p95_ms": 10}}))
    loose = statuses(run_check("LAT-001", snap, {"latency": {"p95_ms": 100}}))
    assert tight == {"pod:pod-a (az-1)": "FAIL", "deployment": "FAIL"}
    assert loose == {"pod:pod-a (az-1)": "PASS", "deployment": "PASS"}


def _stall_after(proxy: DelayProxy, delay_s: float, stall_s: float) -> threading.Thread:
    def stall() -> None:
        time.sleep(delay_s)
        proxy.stall(stall_s)

    thread = threading.Thread(target=stall, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("closed_loop", [False, True])
def test_open_loop_counts_the_stalled_slots_a_closed_loop_hides(server, closed_loop):
    # A 300 ms stall at 100 requests/s: about 30 scheduled slots fall inside it. The open loop charges
    # each its lateness (so ~20 exceed 100 ms); a closed loop waits, then sends one slow request.
    with DelayProxy(primary(server).port, 0.0) as proxy:
        stall = _stall_after(proxy, 0.5, 0.3)
        result = probe(proxy.port, server, rate_hz=100, duration_ms=1_500, commands=("ping",),
                       closed_loop=closed_loop, setup_samples=0)
        stall.join()
    above_100ms = result.overall().count_above(100_000_000)
    if closed_loop:
        assert above_100ms <= 2
    else:
        assert above_100ms >= 10
        # the service time (send to reply) hides the stall for all but the first stalled request
        assert result.commands["ping"].service.count_above(100_000_000) <= 2


def _cmdstats(admin) -> dict:
    return admin.info("commandstats")


def test_the_probe_writes_only_when_the_profile_allows_it(fresh_sandbox):
    # A fresh sandbox: this test resets stats, flushes the script cache and writes keys. The probe runs
    # as admin (the auditor may not write), so only the probe's own policy keeps it from writing.
    sandbox = fresh_sandbox(STANDALONE)
    node = primary(sandbox)
    admin = sandbox.admin_client(node)
    address, admin_credentials = Address("127.0.0.1", node.port), credentials(sandbox, "admin")
    admin.config_resetstat()
    read_only = probe_config(profile_from_mapping({"latency": {"duration_ms": 300, "rate_hz": 40}}))
    assert set(read_only.commands) == {"ping", "get"}  # SET/EVALSHA left out without allow_writes
    run_latency_probe(address, tls=TlsOptions(), credentials=admin_credentials, config=read_only)
    stats = _cmdstats(admin)
    assert stats["cmdstat_ping"]["calls"] > 0 and stats["cmdstat_get"]["calls"] > 0
    assert not {"cmdstat_set", "cmdstat_evalsha", "cmdstat_eval", "cmdstat_script|load"} & set(stats)

    admin.script_flush()  # as after a failover: the SHA is unknown, the probe must fall back to EVAL
    writes = probe_config(profile_from_mapping({"latency": {"duration_ms": 400, "rate_hz": 40,
                                                            "allow_writes": True}}))
    result = run_latency_probe(address, tls=TlsOptions(), credentials=admin_credentials, config=writes)
    stats = _cmdstats(admin)
    assert stats["cmdstat_set"]["calls"] > 0 and stats["cmdstat_evalsha"]["calls"] > 0
    assert result.commands["evalsha"].noscript == 1 and result.commands["evalsha"].errors == 0
    assert result.commands["set"].errors == 0
    keys = admin.keys("*")  # a fresh, test-only server: KEYS is fine here
    assert keys and all(k.startswith("__redis-audit:latency:") for k in keys)
    assert all(0 < admin.pttl(k) <= 60_000 for k in keys)


def test_write_commands_are_refused_without_allow_writes():
    with pytest.raises(ProbeConfigError, match="allow_writes"):
        ProbeConfig(commands=("ping", "set")).validate()
    with pytest.raises(CommandNotAllowed):
        LATENCY_PROBE.check(("SET", "k", "v"))
    with pytest.raises(CommandNotAllowed):
        READ_ONLY.check(("GET", "k"))  # the read-only policy itself is unchanged


def test_connection_setup_and_server_view_are_reported(server):
    result = probe(primary(server).port, server, rate_hz=50, duration_ms=400, setup_samples=3)
    data = result.to_json()
    assert data["setup"]["tcpConnectUs"]["count"] >= 4 and data["setup"]["tlsHandshakeUs"] is None
    assert data["server"]["ping"]["calls"] >= 10 and data["server"]["latencystats"] is True
    assert data["scheduler"]["oversleepUs"]["count"] > 0
    # The auditor's ACL has no GET: the probe says so and spends the whole schedule on PING.
    assert data["skipped"]["get"].startswith("NOPERM")
    assert data["commands"]["ping"]["sent"] == 20 and data["commands"]["get"]["sent"] == 0


def test_a_server_that_stops_answering_is_a_timeout_not_a_hang(server):
    # The read timeout is the kernel's (SO_RCVTIMEO on a blocking socket): it must still fire.
    with DelayProxy(primary(server).port, 0.0) as proxy:
        stall = _stall_after(proxy, 0.2, 5.0)
        started = time.monotonic()
        result = probe(proxy.port, server, rate_hz=20, duration_ms=600, commands=("ping",), setup_samples=0,
                       read_timeout_ms=150, connect_timeout_ms=150)
        elapsed = time.monotonic() - started
        stall.join()
    ping = result.commands["ping"]
    assert ping.timeouts >= 1 and ping.response.count_above(150_000_000) >= 1
    assert elapsed < 3.0


def test_tls_probe_uses_the_same_fast_path(sandboxes):
    from redis_audit.sandbox import SandboxSpec, sandbox_target

    sandbox = sandboxes.get(SandboxSpec(tls=True))
    target = sandbox_target(sandbox)
    result = run_latency_probe(target.seeds[0], tls=target.tls, credentials=target.credentials,
                               config=ProbeConfig(rate_hz=50, duration_ms=400, commands=("ping",), setup_samples=1))
    data = result.to_json()
    assert data["commands"]["ping"]["sent"] == 20 and data["commands"]["ping"]["errors"] == 0
    assert data["setup"]["tlsHandshakeUs"]["count"] >= 2
