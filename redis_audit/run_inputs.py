"""Facts that enter a snapshot from a run's inputs rather than from a collector.

Two do: the app pods' latency results (`run --probe-results`, documents of facts/latency.py) and a
failover probe the operator confirmed (`run --allow-failover`, `probe failover`). A command builds
`RunInputs`; the engine (audit.py) adds the facts, so `run`, `probe failover` and a fleet of runs
share one path and no command writes a fact itself. Their names are in the fact vocabulary
(facts/names.py), beside the collectors' facts.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis_audit.deadline import Deadline
from redis_audit.failover import ProbeOptions, run_probe
from redis_audit.failover.probe import CLEANUP_RESERVE_S
from redis_audit.jsonvalue import JsonObject
from redis_audit.snapshot import Fact, FactError, FactErrorKind
from redis_audit.target import Target


@dataclass(frozen=True)
class FailoverRequest:
    """A failover probe the operator confirmed: the target with the operator's credentials, and the
    probe's options. Nothing has touched the deployment yet."""

    operator: Target
    options: ProbeOptions


@dataclass(frozen=True)
class RunInputs:
    pod_results: tuple[JsonObject, ...] = ()  # validated latency result documents (facts/latency.py)
    failover: FailoverRequest | None = None


def run_failover(request: FailoverRequest, deadline: Deadline | None = None) -> JsonObject:
    """Run the confirmed probe, through the AWS API or Redis commands; under `deadline` when given
    (else its budget and the clean-up's reserve)."""
    if request.options.aws is not None:
        from redis_audit.failover.aws import run_aws_probe  # start-up time: boto3, only for an AWS failover

        return run_aws_probe(request.operator, request.options, deadline=deadline)
    return run_probe(request.operator, request.options, deadline=deadline)


def failover_fact(request: FailoverRequest, deadline: Deadline) -> Fact:
    """The failover probe within the run's deadline; not started at all when the time left could not
    cover its budget and its clean-up (a probe cut mid-way could leave the topology changed)."""
    needed = request.options.budget_s + CLEANUP_RESERVE_S
    left = deadline.remaining()
    if left < needed:
        return Fact(error=FactError(FactErrorKind.TIMEOUT, "failover", (
            f"not started: {max(0.0, left):.0f} s were left of the run's deadline, and the probe needs its "
            f"budget and {CLEANUP_RESERVE_S:g} s to clean up ({needed:.0f} s): raise --deadline")))
    return Fact(value=run_failover(request, deadline))


def pod_latency_fact(docs: tuple[JsonObject, ...]) -> Fact:
    return Fact(value=list(docs))
