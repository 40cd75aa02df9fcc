"""The engine: target → discover → collect → judge → report. The one module that wires the stages."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from redis_audit import __version__
from redis_audit.check import Check
from redis_audit.client import Timeouts
from redis_audit.collect import deployment_collectors, node_collectors
from redis_audit.collect.base import CollectContext, Deadline, DeploymentCollector, classify_error
from redis_audit.collect.runner import collect_all
from redis_audit.discovery import DiscoveryFailed, discover
from redis_audit.facts.names import FAILOVER_FACT, POD_LATENCY_FACT
from redis_audit.jsonvalue import JsonObject
from redis_audit.judge import judge
from redis_audit.limits import apply_limits
from redis_audit.node_trust import with_allowed_hosts
from redis_audit.profile import Profile, ProfileOrigin
from redis_audit.provenance import Evidence, live_evidence
from redis_audit.registry import LoadedPack, all_checks, discover_packs
from redis_audit.report import Report
from redis_audit.run_inputs import RunInputs, failover_fact, pod_latency_fact
from redis_audit.secret import scrub
from redis_audit.snapshot import Fact, Snapshot
from redis_audit.target import Target
from redis_audit.topology import DeploymentKind, Topology, Unreachable
from redis_audit.waivers import WaiverFile


@dataclass(frozen=True)
class AuditOptions:
    profile: Profile
    deadline_s: float = 60.0
    timeouts: Timeouts = field(default_factory=Timeouts)


NO_INPUTS = RunInputs()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def collect_snapshot(target: Target, options: AuditOptions, deadline: Deadline | None = None,
                     inputs: RunInputs = NO_INPUTS) -> Snapshot:
    """Discover the deployment, collect every fact and add the run's inputs, within the deadline. Never
    raises for the network.

    The deadline is a wall (deadline.py): given, it is the caller's; otherwise one of
    options.deadline_s is made here, and closed before returning.
    """
    started = now()
    own = deadline is None
    wall = Deadline.after(options.deadline_s) if deadline is None else deadline
    target = with_allowed_hosts(target, options.profile.target.allowed_hosts)  # where credentials may go
    try:
        snapshot = _collect(target, options, wall, started)
        add_inputs(snapshot, inputs, wall)
        return snapshot
    finally:
        if own:
            wall.close()


def add_inputs(snapshot: Snapshot, inputs: RunInputs, deadline: Deadline | None = None) -> None:
    """Add the facts of the run's inputs to a snapshot, fresh from collection or read from a file.

    The failover probe runs after the read-only collection (its result is one more fact, and the
    collection ends with it), under the run's deadline; then the pods' latency results.
    """
    if inputs.failover is not None:
        if deadline is None:
            raise ValueError("a failover probe runs only under a run's deadline")
        snapshot.deployment_facts[FAILOVER_FACT] = failover_fact(inputs.failover, deadline)
        snapshot.finished_at = _timestamp(now())
    if inputs.pod_results:
        snapshot.deployment_facts[POD_LATENCY_FACT] = pod_latency_fact(inputs.pod_results)


def _timestamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _collect(target: Target, options: AuditOptions, deadline: Deadline, started: dt.datetime) -> Snapshot:
    try:
        if not target.seeds:  # e.g. the control plane named no endpoint: only deployment facts are collected
            raise DiscoveryFailed("no data-plane endpoint to connect to")
        topology = discover(target, options.timeouts, deadline)
    except DiscoveryFailed as exc:
        seeds = tuple(Unreachable(a, None, str(exc)) for a in target.seeds)
        topology = Topology(DeploymentKind.UNKNOWN, unreachable=seeds)
    except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:  # a seed's replies made no sense
        reason = f"discovery failed on a reply it could not interpret: {type(exc).__name__}: {scrub(exc)}"
        topology = Topology(DeploymentKind.UNKNOWN, unreachable=tuple(Unreachable(a, None, reason)
                                                                      for a in target.seeds))
    ctx = CollectContext(target, topology, options.profile, options.timeouts)
    collected = collect_all(list(topology.all_nodes()), ctx, node_collectors(), deadline)
    # After node collection, not beside it: the latency probe must not share the CPU (and the GIL)
    # with the collectors it would otherwise measure.
    facts = _deployment_facts(deployment_collectors(), ctx, deadline)
    topology = dataclasses.replace(topology, unreachable=topology.unreachable + tuple(collected.unreachable))
    return Snapshot(
        target=target.info(),
        topology=topology,
        nodes=collected.nodes,
        started_at=_timestamp(started),
        finished_at=_timestamp(now()),
        tool_version=__version__,
        deployment_facts=facts,
    )


def _deployment_facts(collectors: Sequence[DeploymentCollector], ctx: CollectContext,
                      deadline: Deadline) -> dict[str, Fact]:
    facts: dict[str, Fact] = {}
    for collector in collectors:
        if not collector.applies(ctx):
            continue
        try:
            facts.update(collector.collect(ctx, deadline))
        except Exception as exc:  # a broken collector costs its facts, never the run
            facts[collector.name] = Fact(error=classify_error(exc, collector.name))
    return facts


def judge_snapshot(snapshot: Snapshot, profile: Profile, packs: Sequence[LoadedPack] | None = None,
                   started_at: dt.datetime | None = None, mode: str | None = None,
                   waiver_file: WaiverFile | None = None, evidence: Evidence | None = None,
                   origin: ProfileOrigin | None = None) -> Report:
    """Judge a snapshot (fresh or loaded from a file) into a report, with waivers applied. No network.

    `evidence` says where the facts came from (default: collected live, by this process); the checks
    judge with the mode's limits applied (limits.apply_limits: the sign-off floor)."""
    evidence = evidence or live_evidence(snapshot)
    started = started_at or (now() if evidence.offline else evidence.collection_started)
    loaded = list(packs) if packs is not None else discover_packs()
    checks: list[Check] = all_checks(loaded)
    results = judge(snapshot, apply_limits(profile, mode or profile.report.mode).profile, checks)
    return Report.build(snapshot, profile, loaded, results, started, now(), mode, waiver_file, evidence, origin)


def failover_findings(result: JsonObject, profile: Profile, target: Target,
                      packs: Sequence[LoadedPack] | None = None) -> list[JsonObject]:
    """The FO checks on a snapshot that holds only a failover probe's result (`probe failover`)."""
    stamp = _timestamp(now())
    snapshot = Snapshot(target.info(), Topology(DeploymentKind.UNKNOWN), {}, stamp, stamp, __version__,
                        {FAILOVER_FACT: Fact(value=result)})
    checks = [c for c in all_checks(list(packs) if packs is not None else discover_packs()) if c.id.startswith("FO-")]
    return [r.finding.to_json() for r in judge(snapshot, profile, checks)]


def run_audit(target: Target, options: AuditOptions, packs: Sequence[LoadedPack] | None = None) -> Report:
    snapshot = collect_snapshot(target, options)
    return judge_snapshot(snapshot, options.profile, packs)
