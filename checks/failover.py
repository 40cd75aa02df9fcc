"""Failover: the controlled failover probe's result (deployment fact `failover.result`), judged.

The probe is opt-in (--allow-failover); without it every FO check SKIPs and says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from redis_audit.check import CheckContext, Scope
from redis_audit.jsonvalue import as_object
from redis_audit.model import Finding, Severity

from .pack import PACK

FACT = "failover.result"
NOT_RUN = "failover probe not run (opt-in: --allow-failover)"
REFERENCES = ("https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/",
              "https://aphyr.com/posts/283-jepsen-redis")


def _result(ctx: CheckContext) -> dict[str, Any] | None:
    if FACT not in ctx.snapshot.deployment_facts:
        return None
    value = ctx.snapshot.deployment_fact(FACT)  # an unavailable fact raises: the judge SKIPs with why
    return value if isinstance(value, dict) else None


def _metrics(result: dict[str, Any]) -> dict[str, Any]:
    return as_object(result.get("metrics"))


def _timeline(result: dict[str, Any]) -> list[Any]:
    keep = {"trigger", "client-pause", "client-unpause", "replicaof", "new-primary-confirmed", "+switch-master",
            "+odown", "+promoted-slave", "+failover-end", "master", "slave", "data-plane-healthy",
            "control-plane-healthy", "sees-new-primary", "sigcont", "restarted"}
    events = result.get("timeline")
    return [e for e in events if isinstance(e, dict) and (e.get("event") in keep or str(e.get("source")).startswith(
        "aws "))][:60] if isinstance(events, list) else []


def _no_canary(result: dict[str, Any]) -> bool:
    """An AWS API failover (TestFailover, FailoverShard) whose endpoint the canary could not reach: only
    the control plane is timed."""
    return "canary" in result and result.get("canary") is None


NO_CANARY = "no canary ran (AWS API failover): acknowledged writes and client discovery were not measured"


def _no_canary_reason(result: dict[str, Any]) -> str:
    why = result.get("canaryUnavailable")
    return f"{NO_CANARY}: {why}" if why else NO_CANARY


def _common(ctx: CheckContext, result: dict[str, Any]) -> Iterator[Finding] | None:
    """Refused, aborted and interrupted probes: FO-001 reports why; the others cannot judge."""
    status = result.get("status")
    if status == "completed":
        return None
    reasons = "; ".join(str(r) for r in result.get("reasons") or []) or "no reason recorded"
    if ctx.meta.id == "FO-001":
        message = f"the failover probe was {status}: {reasons}"
        return iter([ctx.failed(ctx.deployment, message, observed=status, expected="completed",
                                timeline=_timeline(result))])
    return iter([ctx.skipped(ctx.deployment, f"failover probe {status}: {reasons}")])


def _completed(ctx: CheckContext) -> tuple[dict[str, Any], dict[str, Any]] | list[Finding]:
    """The completed probe's result and metrics, or the findings that say why there is none to judge."""
    result = _result(ctx)
    if result is None:
        return [ctx.skipped(ctx.deployment, NOT_RUN)]
    early = _common(ctx, result)
    if early is not None:
        return list(early)
    return result, _metrics(result)


@PACK.check(
    id="FO-001",
    title="A controlled failover promotes a replica and writes resume within the RTO",
    severity=Severity.CRITICAL,
    category="availability",
    verifies="The probe failed the primary over, a replica was promoted, and the longest client-visible "
    "write gap stayed within failover.rto_ms.",
    risk="An untested failover is not HA: the first real one may not happen, or take longer than the app can wait.",
    remediation="Fix what preflight or the timeline names (quorum, replica links, down-after-milliseconds, "
    "cluster-node-timeout), then run `redis-audit probe failover --allow-failover` again.",
    references=REFERENCES,
    scope=Scope.DEPLOYMENT,
)
def failover_rto(ctx: CheckContext) -> Iterator[Finding]:
    completed = _completed(ctx)
    if isinstance(completed, list):
        yield from completed
        return
    result, m = completed
    rto = ctx.profile.failover.rto_ms
    observed = {"mode": result.get("mode"), "method": result.get("method"), "promotionMs": m.get("promotionMs"),
                "writeGapMaxMs": m.get("writeGapMaxMs"), "writeGapStartMs": m.get("writeGapStartMs"),
                "writeUnavailableTotalMs": m.get("writeUnavailableTotalMs"),
                "sentinelSwitchMs": m.get("sentinelSwitchMs"), "detectionMs": m.get("detectionMs")}
    gap = m.get("writeGapMaxMs")
    promoted = m.get("promotionMs")
    if _no_canary(result) and isinstance(promoted, int):
        expected = {"promotionMs": f"<= {rto}"}
        if promoted > rto:
            yield ctx.failed(ctx.deployment, f"the control plane reported the promotion after {promoted} ms "
                             f"(RTO {rto} ms)", observed=observed, expected=expected, timeline=_timeline(result))
        else:
            yield ctx.passed(ctx.deployment, f"the control plane reported the promotion after {promoted} ms; the "
                             "client write gap was not measured (no canary)", observed=observed, expected=expected,
                             timeline=_timeline(result))
    elif promoted is None or not isinstance(gap, int):
        yield ctx.failed(ctx.deployment, "no promotion was observed", observed=observed,
                         expected={"writeGapMaxMs": f"<= {rto}"}, timeline=_timeline(result))
    elif gap > rto:
        yield ctx.failed(ctx.deployment, f"writes were unavailable for {gap} ms (RTO {rto} ms)", observed=observed,
                         expected={"writeGapMaxMs": f"<= {rto}"}, timeline=_timeline(result))
    else:
        yield ctx.passed(ctx.deployment, f"promoted after {m.get('promotionMs')} ms; longest write gap {gap} ms",
                         observed=observed, expected={"writeGapMaxMs": f"<= {rto}"}, timeline=_timeline(result))


@PACK.check(
    id="FO-002",
    title="No acknowledged write is lost in a failover",
    severity=Severity.CRITICAL,
    category="availability",
    verifies="Every canary write acknowledged to the client is on the final primary after convergence "
    "(within the profile's tolerance for the mode: none for switchover).",
    risk="A client that keeps its pooled connection to a stale primary has writes acknowledged and then thrown "
    "away when that node is demoted; the write gap alone looks perfect.",
    remediation="Fail over with the switchover recipe (CLIENT PAUSE WRITE, SENTINEL FAILOVER, REPLICAOF on the old "
    "primary, CLIENT UNPAUSE) or SENTINEL FAILOVER COORDINATED on Valkey 9; use clients that subscribe to "
    "+switch-master; set min-replicas-to-write.",
    references=(*REFERENCES, "https://aphyr.com/posts/307-call-me-maybe-redis-redux"),
    scope=Scope.DEPLOYMENT,
)
def failover_no_lost_acks(ctx: CheckContext) -> Iterator[Finding]:
    completed = _completed(ctx)
    if isinstance(completed, list):
        yield from completed
        return
    result, m = completed
    if _no_canary(result):
        yield ctx.skipped(ctx.deployment, _no_canary_reason(result))
        return
    if not m.get("readBack"):
        yield ctx.skipped(ctx.deployment, "the canary could not be read back from the final primary")
        return
    mode = str(result.get("mode"))
    section = ctx.profile.failover
    tolerance = {"switchover": section.max_lost_writes_switchover, "plain": section.max_lost_writes_plain,
                 "crash-sim": section.max_lost_writes_crash_sim}.get(mode, 0)
    lost = int(m.get("ackedWritesLost") or 0)
    observed = {"ackedWritesLost": lost, "acked": m.get("acked"), "staleAckWindow": m.get("staleAckWindow"),
                "lostByNode": m.get("lostByNode"), "indeterminateWrites": m.get("indeterminateWrites"),
                "duplicates": m.get("duplicates"), "waitConfirmedLost": m.get("waitConfirmedLost"),
                "staleAcksAfterPromotion": m.get("staleAcksAfterPromotion"),
                "staleAckAfterPromotionMs": m.get("staleAckAfterPromotionMs"),
                "roleMasterOverlapMs": m.get("roleMasterOverlapMs")}
    if lost > tolerance:
        window = m.get("staleAckWindow") or {}
        yield ctx.failed(ctx.deployment, f"{lost} acknowledged writes were lost ({mode}; acked "
                         f"{window.get('firstMs')}..{window.get('lastMs')} ms after the trigger by "
                         f"{', '.join(sorted(m.get('lostByNode') or {}))})", observed=observed,
                         expected={"ackedWritesLost": f"<= {tolerance}"}, timeline=_timeline(result))
    else:
        yield ctx.passed(ctx.deployment, f"{lost} of {m.get('acked')} acknowledged writes lost ({mode})",
                         observed=observed, expected={"ackedWritesLost": f"<= {tolerance}"})


@PACK.check(
    id="FO-003",
    title="The deployment converges to a healthy topology after a failover",
    severity=Severity.HIGH,
    category="availability",
    verifies="After the failover the old primary is a replica with its link up, every replica is re-attached, "
    "the Sentinels (or cluster nodes) agree, within the budget, and the canary left no key behind; full "
    "resyncs are reported.",
    risk="A failover that leaves a replica detached or the Sentinels split has used up the deployment's HA: "
    "the next failure is an outage.",
    remediation="Look at the unhealthy items the probe lists; check repl-backlog-size (full resyncs) and "
    "Sentinel/cluster logs.",
    references=REFERENCES,
    scope=Scope.DEPLOYMENT,
)
def failover_converges(ctx: CheckContext) -> Iterator[Finding]:
    completed = _completed(ctx)
    if isinstance(completed, list):
        yield from completed
        return
    result, m = completed
    observed = {"convergedMs": m.get("convergedMs"), "dataPlaneHealthyMs": m.get("dataPlaneHealthyMs"),
                "controlPlaneHealthyMs": m.get("controlPlaneHealthyMs"), "fullResyncs": m.get("fullResyncs"),
                "partialResyncs": m.get("partialResyncs"), "unhealthy": result.get("unhealthy"),
                "cleanup": result.get("cleanup")}
    if not result.get("healthy"):
        problems = "; ".join(str(p) for p in [*(result.get("unhealthy") or []), *(result.get("cleanup") or [])])
        yield ctx.failed(ctx.deployment, f"not healthy after the failover: {problems}", observed=observed,
                         expected="healthy within the budget")
    elif int(m.get("fullResyncs") or 0) > 0:
        yield ctx.warned(ctx.deployment, f"converged after {m.get('convergedMs')} ms, but {m.get('fullResyncs')} "
                         "replicas needed a full resync", observed=observed, expected={"fullResyncs": 0})
    else:
        yield ctx.passed(ctx.deployment, f"converged after {m.get('convergedMs')} ms, partial resyncs only",
                         observed=observed, expected="healthy within the budget")


@PACK.check(
    id="FO-004",
    title="Application-like clients find the new primary promptly",
    severity=Severity.HIGH,
    category="availability",
    verifies="The canary client (the app's kind: Sentinel-aware or cluster) wrote to the new primary within "
    "failover.rto_ms of the trigger; errors by class are reported.",
    risk="Clients that do not rediscover the primary keep failing (READONLY, NOREPLICAS, timeouts) long after "
    "the failover itself has finished.",
    remediation="Use a client that re-resolves on READONLY and subscribes to +switch-master (Sentinel), or "
    "refreshes its slot map (Cluster); set the app's timeouts and retries for the measured gap.",
    references=REFERENCES,
    scope=Scope.DEPLOYMENT,
)
def failover_client_discovery(ctx: CheckContext) -> Iterator[Finding]:
    completed = _completed(ctx)
    if isinstance(completed, list):
        yield from completed
        return
    result, m = completed
    if _no_canary(result):
        yield ctx.skipped(ctx.deployment, _no_canary_reason(result))
        return
    rto = ctx.profile.failover.rto_ms
    first = m.get("firstAckOnNewPrimaryMs")
    observed = {"firstAckOnNewPrimaryMs": first, "errorsByClass": m.get("errorsByClass"),
                "lastAckOnOldPrimaryMs": m.get("lastAckOnOldPrimaryMs"), "client": (result.get("canary") or {})}
    if not isinstance(first, int):
        servers = ", ".join(sorted(m.get("acksByNode") or {})) or "none"
        yield ctx.failed(ctx.deployment, f"the canary client never wrote to a new primary (acks from: {servers})",
                         observed=observed, expected={"firstAckOnNewPrimaryMs": f"<= {rto}"})
    elif first > rto:
        yield ctx.failed(ctx.deployment, f"the canary client reached the new primary after {first} ms (RTO {rto} ms)",
                         observed=observed, expected={"firstAckOnNewPrimaryMs": f"<= {rto}"})
    elif int(m.get("indeterminateWrites") or 0) > 0:
        yield ctx.warned(ctx.deployment, f"{m.get('indeterminateWrites')} writes failed at the client but were "
                         "applied (indeterminate)", observed=observed, expected={"indeterminateWrites": 0})
    else:
        yield ctx.passed(ctx.deployment, f"the canary wrote to the new primary {first} ms after the trigger",
                         observed=observed, expected={"firstAckOnNewPrimaryMs": f"<= {rto}"})
