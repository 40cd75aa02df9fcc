"""CLI-00x from profile values over hand-built snapshots: PASS, WARN/FAIL and SKIP naming the key."""


import pytest

from redis_audit.facts.histogram import Histogram
from tests.judging import run_check, snapshot, statuses

NODE = "10.0.0.1:6379"


def _probe_doc(latency_ns: int, setup_us: int = 500) -> dict:
    histogram = Histogram()
    for _ in range(2000):
        histogram.record(latency_ns)
    return {"origin": {"pod": "p"}, "commands": {"ping": {"response": histogram.to_json(), "timeouts": 0,
                                                          "errors": 0}},
            "setup": {"tcpConnectUs": {"p99": setup_us}, "tlsHandshakeUs": None}}


def _one(check_id: str, client: dict, facts: dict | None = None, nodes: dict | None = None) -> str:
    found = statuses(run_check(check_id, snapshot(facts, nodes), {"client": client}))
    assert len(found) == 1, found
    return next(iter(found.values()))


@pytest.mark.parametrize(("value", "status"), [(100, "PASS"), (0, "FAIL"), (250, "FAIL"), (1, "WARN")])
def test_cli001_connect_timeout(value, status):
    assert _one("CLI-001", {"connect_timeout_ms": value}, {"latency.local": _probe_doc(300_000)}) == status


def test_cli001_skips_naming_the_key():
    finding = run_check("CLI-001", snapshot({"latency.local": _probe_doc(300_000)}))[0]
    assert str(finding.status) == "SKIP" and "[client] connect_timeout_ms" in finding.message


@pytest.mark.parametrize(("value", "tail_ms", "status"), [
    (200, 1, "PASS"), (0, 1, "FAIL"), (150, 180, "FAIL"), (500, 1, "WARN"), (2000, 1, "FAIL"),
])
def test_cli002_read_timeout_against_limits_and_the_measured_tail(value, tail_ms, status):
    facts = {"latency.local": _probe_doc(tail_ms * 1_000_000)}
    assert _one("CLI-002", {"read_timeout_ms": value}, facts) == status


def _node(clients: dict, maxclients: int = 10000, rejected: int = 0, timeout: int = 0, keepalive: int = 300) -> dict:
    return {NODE: {
        "info": {"server": {"redis_version": "7.2.4", "uptime_in_seconds": "86400"},
                 "stats": {"total_connections_received": "500", "rejected_connections": str(rejected)},
                 "clients": {"connected_clients": "100", "maxclients": str(maxclients)}},
        "config": {"maxclients": str(maxclients), "timeout": str(timeout), "tcp-keepalive": str(keepalive)},
        "clients": {"total": 100, "otherNames": 0, "byName": clients},
    }}


def _group(count: int, age: int = 7200) -> dict:
    return {"count": count, "ageMedianS": age, "ageMinS": age, "idleMedianS": 1, "users": ["app"], "cmds": {}}


@pytest.mark.parametrize(("count", "status"), [(50, "PASS"), (90, "FAIL"), (0, "WARN")])
def test_cli004_pool_utilisation_by_client_name(count, status):
    nodes = _node({"limiter": _group(count), "redis-audit": _group(3)})
    client = {"pods": 10, "pool_size": 10, "client_name": "limiter"}
    assert _one("CLI-004", client, nodes=nodes) == status


def test_cli004_skips_without_pods_and_warns_without_a_client_name():
    finding = run_check("CLI-004", snapshot(nodes=_node({})), {"client": {"pool_size": 10}})[0]
    assert str(finding.status) == "SKIP" and "[client] pods" in finding.message
    assert _one("CLI-004", {"pods": 2, "pool_size": 10}, nodes=_node({"": _group(5)})) == "WARN"


@pytest.mark.parametrize(("pods", "rejected", "status"), [(10, 0, "PASS"), (700, 0, "FAIL"), (10, 3, "FAIL"),
                                                          (600, 0, "WARN")])
def test_cli005_server_capacity(pods, rejected, status):
    assert _one("CLI-005", {"pods": pods, "pool_size": 10}, nodes=_node({}, rejected=rejected)) == status


def test_cli003_churn_from_connections_received():
    assert _one("CLI-003", {}, nodes=_node({"limiter": _group(90)})) == "PASS"
    churn = _node({"limiter": _group(90, age=2)})
    churn[NODE]["info"]["stats"]["total_connections_received"] = str(100 * 86400)
    assert _one("CLI-003", {}, nodes=churn) == "FAIL"


@pytest.mark.parametrize(("timeout", "client", "status"), [
    (0, {"health_check_interval_s": 30}, "PASS"),
    (300, {"health_check_interval_s": 30, "idle_eviction_s": 0}, "PASS"),
    (300, {"health_check_interval_s": 0, "idle_eviction_s": 600}, "FAIL"),
    (0, {"health_check_interval_s": 0}, "WARN"),
    (300, {"health_check_interval_s": 30}, "SKIP"),
])
def test_cli006_idle_timeout_and_health_checks(timeout, client, status):
    assert _one("CLI-006", client, nodes=_node({}, timeout=timeout)) == status


@pytest.mark.parametrize(("client", "status"), [
    ({"retry_max_attempts": 3, "retry_backoff": "exponential", "retry_jitter": True, "retry_backoff_cap_ms": 50},
     "PASS"),
    ({"retry_max_attempts": 5, "retry_backoff": "none"}, "FAIL"),
    ({"retry_max_attempts": 3, "retry_backoff": "constant", "retry_jitter": True, "retry_backoff_cap_ms": 50},
     "WARN"),
    ({"retry_max_attempts": 3, "retry_backoff": "exponential", "retry_jitter": True, "retry_backoff_cap_ms": 50,
      "read_timeout_ms": 200, "request_budget_ms": 300}, "WARN"),
    ({"retry_backoff": "exponential"}, "SKIP"),
])
def test_cli007_retries(client, status):
    assert _one("CLI-007", client) == status
