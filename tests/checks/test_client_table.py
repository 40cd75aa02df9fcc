"""CLI-00x boundaries over hand-built snapshots: the declared client settings just under, at and just over
each limit, against the measured latency and the server's capacity; the profile's own limits; and what
SKIPs, naming the key to declare. test_client_checks.py covers one case of each status; this pins the
edges, which the graded helper and the observed-clients checks build on."""

from __future__ import annotations

from typing import Any

import pytest

from redis_audit.facts.histogram import Histogram
from redis_audit.model import Finding
from tests.judging import only, snapshot

NODE = "10.0.0.1:6379"


def probe(response_us: int = 100, setup_p99_us: int = 500) -> dict[str, Any]:
    """A latency probe result whose every response took `response_us`."""
    histogram = Histogram()
    for _ in range(2000):
        histogram.record(response_us * 1000)
    return {"origin": {"pod": "p"}, "commands": {"ping": {"response": histogram.to_json(), "timeouts": 0,
                                                          "errors": 0}},
            "setup": {"tcpConnectUs": {"p99": setup_p99_us}, "tlsHandshakeUs": None}}


def one(check_id: str, client: dict[str, Any], facts: dict[str, Any] | None = None,
        nodes: dict[str, dict[str, Any]] | None = None, **sections: dict[str, Any]) -> Finding:
    return only(check_id, snapshot(facts, nodes), {"client": client, **sections})


def status(finding: Finding) -> str:
    return str(finding.status)


# CLI-001: connect timeout in 1..max_connect_timeout_ms (100), at least 3x the measured setup P99 ----------

@pytest.mark.parametrize(("value", "expected_status"), [(0, "FAIL"), (1, "PASS"), (100, "PASS"), (101, "FAIL")])
def test_cli001_limits(value: int, expected_status: str) -> None:
    finding = one("CLI-001", {"connect_timeout_ms": value})  # no probe: nothing measured to compare with
    assert (status(finding), finding.evidence["expected"]) == (expected_status, "1..100 ms")


@pytest.mark.parametrize(("value", "expected_status"), [(29, "WARN"), (30, "PASS")])
def test_cli001_three_times_the_setup_p99(value: int, expected_status: str) -> None:
    finding = one("CLI-001", {"connect_timeout_ms": value}, {"latency.local": probe(setup_p99_us=10_000)})
    assert status(finding) == expected_status and finding.evidence["setupP99Us"] == 10_000


def test_cli001_profile_limit_and_the_key_to_declare() -> None:
    assert status(one("CLI-001", {"connect_timeout_ms": 50, "max_connect_timeout_ms": 50})) == "PASS"
    finding = one("CLI-001", {"connect_timeout_ms": 51, "max_connect_timeout_ms": 50})
    assert (status(finding), finding.message, finding.evidence["expected"]) == \
        ("FAIL", "connect timeout 51 ms is above 50 ms", "1..50 ms")
    finding = one("CLI-001", {})
    assert (status(finding), finding.message) == ("SKIP", "the profile does not declare [client] "
                                                  "connect_timeout_ms: set it to the application's values as deployed")


# CLI-002: read timeout in 1..max_read_timeout_ms (200; WARN up to 1000), above the tails --------------------

def server(p999_us: int) -> dict[str, dict[str, Any]]:
    return {NODE: {"info": {"server": {"redis_version": "7.2.4"},
                            "latencystats": {"latency_percentiles_usec_evalsha": f"p50=1,p99=2,p99.9={p999_us}"}}}}


@pytest.mark.parametrize(("value", "expected_status"), [
    (0, "FAIL"), (200, "PASS"), (201, "WARN"), (1_000, "WARN"), (1_001, "FAIL"),
])
def test_cli002_limits(value: int, expected_status: str) -> None:
    finding = one("CLI-002", {"read_timeout_ms": value})
    assert (status(finding), finding.evidence["expected"]) == (expected_status, "1..200 ms, above the measured P99.9")


@pytest.mark.parametrize(("tail_us", "expected_status"), [(149_999, "PASS"), (150_000, "FAIL")])
def test_cli002_above_the_client_observed_tail(tail_us: int, expected_status: str) -> None:
    finding = one("CLI-002", {"read_timeout_ms": 150}, {"latency.local": probe(response_us=tail_us)})
    assert (status(finding), finding.evidence["clientP999Us"]) == (expected_status, tail_us)


@pytest.mark.parametrize(("p999_us", "expected_status"), [(66_666, "PASS"), (66_667, "WARN")])
def test_cli002_three_times_the_server_tail(p999_us: int, expected_status: str) -> None:
    finding = one("CLI-002", {"read_timeout_ms": 200}, nodes=server(p999_us))
    assert (status(finding), finding.evidence["serverP999Us"]) == (expected_status, p999_us)


def test_cli002_profile_limit_and_the_key_to_declare() -> None:
    assert status(one("CLI-002", {"read_timeout_ms": 300, "max_read_timeout_ms": 300})) == "PASS"
    assert status(one("CLI-002", {"read_timeout_ms": 301, "max_read_timeout_ms": 300})) == "WARN"
    finding = one("CLI-002", {})
    assert status(finding) == "SKIP" and "[client] read_timeout_ms" in finding.message


# CLI-003: churn: FAIL at a connection per connected client per second, WARN at 1% of that -------------------

def churn(received: int, uptime: int = 3600, age: int = 7200) -> dict[str, dict[str, Any]]:
    return {NODE: {"info": {"server": {"uptime_in_seconds": str(uptime)},
                            "stats": {"total_connections_received": str(received)},
                            "clients": {"connected_clients": "100"}},
                   "clients": {"byName": {"limiter": {"count": 90, "ageMedianS": age}}}}}


@pytest.mark.parametrize(("received", "age", "expected_status"), [
    (3_599, 7200, "PASS"), (3_600, 7200, "WARN"),  # 1% of 100 clients per second, over one hour
    (359_999, 7200, "WARN"), (360_000, 7200, "FAIL"),
    (0, 600, "WARN"), (0, 601, "PASS"),  # the application's connections live longer than 10 minutes
])
def test_cli003_boundaries(received: int, age: int, expected_status: str) -> None:
    assert status(one("CLI-003", {}, nodes=churn(received, age=age))) == expected_status


def test_cli003_needs_ten_minutes_of_uptime() -> None:
    assert status(one("CLI-003", {}, nodes=churn(0, uptime=600))) == "PASS"
    finding = one("CLI-003", {}, nodes=churn(0, uptime=599))
    assert (status(finding), finding.message) == ("SKIP", "the server has been up 599 s; the churn rate needs ≥ 600 s")


# CLI-004: named connections under max_pool_utilisation_pct (80) of pods x pool_size -------------------------

def pools(**counts: int) -> dict[str, dict[str, Any]]:
    return {NODE: {"clients": {"byName": {name: {"count": count} for name, count in counts.items()}}}}


POOL = {"pods": 10, "pool_size": 10, "client_name": "limiter"}  # capacity 100


@pytest.mark.parametrize(("count", "expected_status"), [(0, "WARN"), (1, "PASS"), (79, "PASS"), (80, "FAIL")])
def test_cli004_boundaries(count: int, expected_status: str) -> None:
    finding = one("CLI-004", POOL, nodes=pools(limiter=count, **{"redis-audit": 5}))
    assert (status(finding), finding.evidence["expected"]) == (expected_status, "< 80% of 100")
    assert finding.evidence["observed"]["connections"] == count


def test_cli004_profile_limit_and_what_it_cannot_judge() -> None:
    finding = one("CLI-004", {**POOL, "max_pool_utilisation_pct": 50}, nodes=pools(limiter=49))
    assert (status(finding), finding.evidence["expected"]) == ("PASS", "< 50% of 100")
    assert status(one("CLI-004", {**POOL, "max_pool_utilisation_pct": 50}, nodes=pools(limiter=50))) == "FAIL"
    unnamed = one("CLI-004", {"pods": 1, "pool_size": 10}, nodes=pools(**{"": 4}))
    assert (status(unnamed), unnamed.evidence["observed"]) == ("WARN", {"unnamed": 4})
    finding = one("CLI-004", {"pool_size": 10}, nodes=pools())
    assert status(finding) == "SKIP" and finding.message.startswith("the profile does not declare [client] pods:")


# CLI-005: pods x pool_size x 1.5 against maxclients: WARN at 80%, FAIL at maxclients -------------------------

def capacity(maxclients: int = 3_000, rejected: int = 0) -> dict[str, dict[str, Any]]:
    return {NODE: {"info": {"stats": {"rejected_connections": str(rejected)}},
                   "config": {"maxclients": str(maxclients)}}}


@pytest.mark.parametrize(("pods", "expected_status"), [
    (799, "PASS"), (800, "WARN"),  # projected peak 2 397 / 2 400 of 3 000: 79.9% / 80%
    (999, "WARN"), (1_000, "FAIL"),  # 2 997 / 3 000 connections
])
def test_cli005_boundaries(pods: int, expected_status: str) -> None:
    finding = one("CLI-005", {"pods": pods, "pool_size": 2}, nodes=capacity())
    assert (status(finding), finding.evidence["expected"]) == (expected_status, "< 80% of maxclients")
    assert finding.evidence["observed"]["projectedPeak"] == pods * 3


def test_cli005_a_rejected_connection_fails_before_anything_is_declared() -> None:
    finding = one("CLI-005", {}, nodes=capacity(rejected=1))
    assert (status(finding), finding.evidence["expected"]) == ("FAIL", 0)
    assert status(one("CLI-005", {"pods": 10, "pool_size": 2}, nodes=capacity(rejected=0))) == "PASS"
    assert status(one("CLI-005", {"pods": 10}, nodes=capacity())) == "SKIP"


def test_cli005_profile_limit() -> None:
    client = {"pods": 500, "pool_size": 2, "max_pool_utilisation_pct": 50}  # 1 500 of 3 000
    assert status(one("CLI-005", client, nodes=capacity())) == "WARN"
    assert status(one("CLI-005", {**client, "pods": 499}, nodes=capacity())) == "PASS"


# CLI-006: idle handling ---------------------------------------------------------------------------------

def idle(timeout: int, keepalive: int = 300) -> dict[str, dict[str, Any]]:
    return {NODE: {"config": {"timeout": str(timeout), "tcp-keepalive": str(keepalive)}}}


@pytest.mark.parametrize(("timeout", "client", "keepalive", "expected_status"), [
    (300, {"health_check_interval_s": 299, "idle_eviction_s": 0}, 300, "PASS"),
    (300, {"health_check_interval_s": 300, "idle_eviction_s": 0}, 300, "FAIL"),  # not sooner than the server
    (300, {"health_check_interval_s": 0, "idle_eviction_s": 299}, 300, "WARN"),  # evicted in time, never checked
    (0, {"health_check_interval_s": 30}, 0, "WARN"),  # keepalive off
    (0, {"health_check_interval_s": 30}, 1, "PASS"),
    (300, {"health_check_interval_s": 30}, 300, "SKIP"),  # the server closes idle clients: eviction matters
])
def test_cli006_boundaries(timeout: int, client: dict[str, Any], keepalive: int, expected_status: str) -> None:
    assert status(one("CLI-006", client, nodes=idle(timeout, keepalive))) == expected_status


# CLI-007: retries within the request budget ----------------------------------------------------------------

GOOD = {"retry_max_attempts": 2, "retry_backoff": "exponential", "retry_jitter": True, "retry_backoff_cap_ms": 50,
        "read_timeout_ms": 100}


@pytest.mark.parametrize(("budget", "expected_status"), [(400, "PASS"), (399, "WARN")])
def test_cli007_worst_case_against_the_request_budget(budget: int, expected_status: str) -> None:
    # (2 + 1) attempts x 100 ms + 2 backoffs x 50 ms = 400 ms
    assert status(one("CLI-007", {**GOOD, "request_budget_ms": budget})) == expected_status


@pytest.mark.parametrize(("client", "expected_status"), [
    ({**GOOD, "retry_max_attempts": 0, "retry_backoff": "none"}, "PASS"),  # fails fast
    ({**GOOD, "retry_backoff": "none"}, "FAIL"),
    ({**GOOD, "retry_jitter": False}, "WARN"),
    ({**GOOD, "retry_backoff_cap_ms": None}, "WARN"),
    ({**GOOD, "retry_max_attempts": None}, "SKIP"),
])
def test_cli007_ladder(client: dict[str, Any], expected_status: str) -> None:
    assert status(one("CLI-007", {k: v for k, v in client.items() if v is not None})) == expected_status
