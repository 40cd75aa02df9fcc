"""The engine adds the facts of a run's inputs (pods' latency results, the failover probe): one path
for `run`, `run --from-snapshot` and `probe failover`, none of them writing a fact itself."""

from __future__ import annotations

from redis_audit.audit import add_inputs, failover_findings
from redis_audit.deadline import Deadline
from redis_audit.facts.names import FAILOVER_FACT, POD_LATENCY_FACT
from redis_audit.failover import ProbeOptions
from redis_audit.profile import load_profile
from redis_audit.run_inputs import FailoverRequest, RunInputs
from redis_audit.snapshot import FactErrorKind, Snapshot
from redis_audit.target import Target, parse_url
from redis_audit.topology import DeploymentKind, Topology

NOWHERE = parse_url("redis://127.0.0.1:1")
TARGET = Target(kind=NOWHERE.kind, seeds=NOWHERE.seeds)


def _snapshot() -> Snapshot:
    stamp = "2026-01-01T00:00:00Z"
    return Snapshot(TARGET.info(), Topology(DeploymentKind.UNKNOWN), {}, stamp, stamp, "test", {})


def test_no_inputs_add_no_fact() -> None:
    snapshot = _snapshot()
    add_inputs(snapshot, RunInputs())
    assert snapshot.deployment_facts == {}


def test_pod_results_become_the_latency_pods_fact() -> None:
    snapshot = _snapshot()
    docs = ({"schema": "redis-audit/latency-result/v1", "origin": {"pod": "a"}},)
    add_inputs(snapshot, RunInputs(pod_results=docs))
    assert snapshot.deployment_facts[POD_LATENCY_FACT].value == list(docs)


def test_a_failover_that_cannot_finish_in_time_is_not_started() -> None:
    snapshot = _snapshot()
    request = FailoverRequest(TARGET, ProbeOptions(budget_s=120))
    wall = Deadline.after(5)
    try:
        add_inputs(snapshot, RunInputs(failover=request), wall)
    finally:
        wall.close()
    fact = snapshot.deployment_facts[FAILOVER_FACT]
    assert fact.error is not None and fact.error.kind is FactErrorKind.TIMEOUT
    assert "not started" in fact.error.message and snapshot.finished_at != "2026-01-01T00:00:00Z"


def test_probe_failover_judges_the_result_alone_with_the_fo_checks() -> None:
    findings = failover_findings({"status": "refused", "reasons": ["no replica"]}, load_profile(None), TARGET)
    assert findings and all(str(f["checkId"]).startswith("FO-") for f in findings)
