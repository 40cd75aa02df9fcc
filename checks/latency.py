"""LAT: latency as the application sees it, the server's own latency, and what stalls the server."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

from redis_audit.check import CheckContext, Scope
from redis_audit.facts.histogram import Histogram, merged, order_statistic_ranks
from redis_audit.facts.values import as_int
from redis_audit.jsonvalue import JsonObject
from redis_audit.model import DEPLOYMENT, Finding, Severity, Status
from redis_audit.snapshot import NodeSnapshot
from redis_audit.topology import Role
from redis_audit.wording import plural

from ._latency import (
    OWN_CLIENT_PREFIX,
    app_client_groups,
    counter,
    latency_percentiles_us,
    probe_sources,
    response_histogram,
)
from .pack import PACK

P95_MIN_SAMPLES = next(n for n in range(2, 1000) if order_statistic_ranks(n, 0.95)[1] is not None)
O_N_COMMANDS = ("keys", "flushall", "flushdb", "debug", "sort", "smembers", "hgetall")


def _us(ns: int | None) -> int | None:
    return None if ns is None else ns // 1000


def judge_p95(ctx: CheckContext, resource: str, histogram: Histogram, timeouts: int, errors: int,
              source: str) -> Finding:
    """PASS when the P95's upper 95% bound is under the threshold, FAIL when its lower bound is not."""
    limit_us = ctx.profile.latency.p95_ms * 1000
    expected = f"P95 < {limit_us} µs"
    if histogram.total == 0:
        if timeouts or errors:
            return ctx.failed(resource, f"no request succeeded ({timeouts} timeouts, "
                                        f"{plural(errors, 'error')}) {source}",
                              observed={"timeouts": timeouts, "errors": errors}, expected=expected)
        return ctx.skipped(resource, f"no latency samples {source}")
    p95, p99 = histogram.quantile(0.95), histogram.quantile(0.99)
    assert p95 is not None and p99 is not None
    observed: JsonObject = {
        "samples": histogram.total, "p50Us": _us(histogram.at_rank(max(1, histogram.total // 2))),
        "p95Us": _us(p95.value), "p95Ci95Us": [_us(p95.lower), _us(p95.upper)], "p99Us": _us(p99.value),
        "maxUs": _us(histogram.maximum), "timeouts": timeouts, "errors": errors,
    }
    p95_us, p99_us = p95.value // 1000, p99.value // 1000
    lower = None if p95.lower is None else p95.lower // 1000
    upper = None if p95.upper is None else p95.upper // 1000
    if timeouts:
        return ctx.failed(resource, f"{timeouts} requests timed out {source} (P95 {p95_us} µs)",
                          observed=observed, expected=expected)
    if (lower is not None and lower >= limit_us) or (upper is None and p95_us >= limit_us):
        return ctx.failed(resource, f"P95 is {p95_us} µs {source}, at or above {limit_us} µs",
                          observed=observed, expected=expected)
    if upper is None:
        return ctx.warned(resource, f"P95 {p95_us} µs {source} from {histogram.total} samples: too few for a "
                          f"95% upper bound (need {P95_MIN_SAMPLES}); probe longer", observed=observed,
                          expected=expected)
    if upper >= limit_us:
        return ctx.warned(resource, f"inconclusive {source}: the P95's 95% interval [{lower}, {upper}] µs "
                          f"straddles {limit_us} µs; probe longer", observed=observed, expected=expected)
    if p95_us * 2 >= limit_us or p99_us > 2 * limit_us:
        return ctx.warned(resource, f"P95 {p95_us} µs / P99 {p99_us} µs {source}: under the limit, without "
                          "headroom (P95 ≥ half the limit or P99 > twice it)", observed=observed, expected=expected)
    return ctx.passed(resource, f"P95 {p95_us} µs {source} (95% upper bound {upper} µs)", observed=observed,
                      expected=expected)


@PACK.check(
    id="LAT-001",
    title="Client-observed P95 latency from every app host is under the limit",
    severity=Severity.HIGH,
    category="latency",
    verifies="The open-loop probe's response time (measured from each request's scheduled send, so stalls "
    "count) has a P95 whose 95% upper bound is under [latency] p95_ms, per pod and over all pods together "
    "(`run --probe-results`); without pod results, from the audit host's short probe (latency.local).",
    risk="A rate limiter sits on every request's path: its latency is added to every request, and a slow "
    "tail turns into client timeouts and fail-open or fail-closed decisions at peak.",
    remediation="Find where the time goes: compare with LAT-002 (server time). A large gap points at the "
    "network path (cross-AZ, TLS, proxies), the client's pool (queueing) or the host (jitter flag in the "
    "result). Probe from every AZ the app runs in (deploy/kubernetes/latency-probe-job.yaml).",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/latency/",),
    needs=("latency.pods", "latency.local"),
    scope=Scope.DEPLOYMENT,
)
def client_p95(ctx: CheckContext) -> Iterator[Finding]:
    sources, from_pods = probe_sources(ctx)
    histograms: list[Histogram] = []
    timeouts = errors = 0
    for label, doc in sources:
        histogram = response_histogram(doc)
        histograms.append(histogram)
        t, e = counter(doc, "timeouts"), counter(doc, "errors")
        timeouts, errors = timeouts + t, errors + e
        if from_pods:
            yield judge_p95(ctx, label, histogram, t, e, f"from {label.removeprefix('pod:')}")
    where = f"over {len(sources)} app pods" if from_pods else "from the audit host"
    overall = judge_p95(ctx, DEPLOYMENT, merged(histograms), timeouts, errors, where)
    yield overall if from_pods else audit_host_only(overall)


# The rollout's gate is latency from the app pods; the audit host may sit elsewhere on the network.
_AUDIT_HOST_STATUS = {Status.FAIL: Status.WARN, Status.PASS: Status.INFO}


def audit_host_only(finding: Finding) -> Finding:
    """A measurement from the audit host can neither prove nor refute the app pods' latency."""
    status = _AUDIT_HOST_STATUS.get(finding.status, finding.status)
    note = ("; not verified from the app pods: run `redis-audit probe latency --format json --output FILE` there "
            "(deploy/kubernetes/latency-probe-job.yaml) and pass the files with `run --probe-results`")
    return dataclasses.replace(finding, status=status, message=finding.message + note)


@PACK.check(
    id="LAT-002",
    title="Server-side latency of the limiter commands is low (INFO latencystats)",
    severity=Severity.MEDIUM,
    category="latency",
    verifies="For each limiter command ([latency] limiter_commands) the server has run, INFO latencystats "
    "P99 is under [latency] server_p99_us (default 1000 µs).",
    risk="Time spent inside the server is paid by every client queued behind it: a slow limiter script "
    "(or a slow GET/SET on a big value) raises everyone's latency.",
    remediation="Keep limiter scripts O(1) (one key, no loops over collections), avoid big values, and "
    "check LAT-004's slow log for the commands that stand out.",
    references=("https://redis.io/docs/latest/commands/info/",),
    needs=("info",),
    roles=frozenset({Role.PRIMARY}),
)
def server_latency(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    if node.version() < (7, 0, 0):
        yield ctx.skipped(node, "INFO latencystats needs Redis/Valkey 7.0 or later")
        return
    if (node.config("latency-tracking") if node.has("config") else None) == "no":
        yield ctx.skipped(node, "latency-tracking is off (CONFIG SET latency-tracking yes to measure)")
        return
    limit = ctx.profile.latency.server_p99_us
    seen = {c: latency_percentiles_us(node, c) for c in ctx.profile.latency.limiter_commands}
    seen = {c: p for c, p in seen.items() if p}
    if not seen:
        yield ctx.skipped(node, "no limiter command has run on this node yet (INFO latencystats has none of "
                          f"{', '.join(ctx.profile.latency.limiter_commands)})")
        return
    slow = {c: p for c, p in seen.items() if p.get("p99", 0) >= limit}
    observed: JsonObject = {c: dict(p) for c, p in sorted(seen.items())}
    if slow:
        names = ", ".join(f"{c} P99 {p.get('p99')} µs" for c, p in sorted(slow.items()))
        yield ctx.failed(node, f"server-side {names}", observed=observed, expected=f"P99 < {limit} µs")
    else:
        yield ctx.passed(node, f"server-side P99 under {limit} µs for {', '.join(sorted(seen))}",
                         observed=observed, expected=f"P99 < {limit} µs")


@PACK.check(
    id="LAT-003",
    title="The latency monitor is on and has recorded no spike above the SLO",
    severity=Severity.MEDIUM,
    category="latency",
    verifies="latency-monitor-threshold is above 0 and at most the SLO ([latency] p95_ms), and LATENCY "
    "LATEST shows no event whose maximum reached the SLO.",
    risk="Without the monitor, stalls from forks, expiry cycles or slow commands leave no trace; with "
    "recorded spikes, requests have already waited longer than the SLO.",
    remediation="CONFIG SET latency-monitor-threshold <SLO ms> (and persist it); read LATENCY DOCTOR for "
    "the recorded events and fix their cause (fork, expire-cycle, command, aof-fsync...).",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/latency-monitor/",),
    needs=("config", "latency.latest"),
)
def latency_monitor(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    slo_ms = ctx.profile.latency.p95_ms
    threshold = as_int(node.config("latency-monitor-threshold"))
    events = node.fact("latency.latest")
    spikes = [e for e in (events if isinstance(events, list) else [])
              if isinstance(e, Mapping) and as_int(str(e.get("maxMs"))) >= slo_ms]
    observed: JsonObject = {"thresholdMs": threshold, "events": list(events) if isinstance(events, list) else []}
    if spikes:
        names = ", ".join(f"{e.get('event')} max {e.get('maxMs')} ms" for e in spikes)
        yield ctx.failed(node, f"recorded latency spikes at or above {slo_ms} ms: {names}", observed=observed,
                         expected=f"no event ≥ {slo_ms} ms")
    elif threshold <= 0:
        yield ctx.warned(node, "the latency monitor is off (latency-monitor-threshold 0)", observed=observed,
                         expected=f"1..{slo_ms} ms")
    elif threshold > slo_ms:
        yield ctx.warned(node, f"latency-monitor-threshold {threshold} ms is above the {slo_ms} ms SLO",
                         observed=observed, expected=f"1..{slo_ms} ms")
    else:
        yield ctx.passed(node, f"latency monitor on at {threshold} ms, no spike recorded", observed=observed,
                         expected=f"1..{slo_ms} ms")


@PACK.check(
    id="LAT-004",
    title="The slow log is on and holds no slow or O(N) commands",
    severity=Severity.MEDIUM,
    category="latency",
    verifies="slowlog-log-slower-than is between 0 and the SLO, and SLOWLOG GET 128 holds no entry of at "
    "least the SLO ([latency] p95_ms) and no O(N) administrative command (KEYS, FLUSHALL, ...).",
    risk="A slow command blocks every client of the node for its whole duration.",
    remediation="Find the entries' callers (clientName in the evidence), replace KEYS by SCAN, move big "
    "collections off the limiter's node, and SLOWLOG RESET once fixed.",
    references=("https://redis.io/docs/latest/commands/slowlog/",),
    needs=("config", "slowlog"),
)
def slow_log(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    slo_us = ctx.profile.latency.p95_ms * 1000
    slower_than = as_int(node.config("slowlog-log-slower-than"), -1)
    raw = node.fact("slowlog")
    entries = [e for e in (raw if isinstance(raw, list) else []) if isinstance(e, Mapping)]
    entries = [e for e in entries if not str(e.get("clientName", "")).startswith(OWN_CLIENT_PREFIX)]
    slow = [e for e in entries if as_int(str(e.get("durationUs"))) >= slo_us]
    o_n = [e for e in entries if str(e.get("command")) in O_N_COMMANDS]
    observed: JsonObject = {"slowerThanUs": slower_than, "entries": len(entries),
                "slow": [dict(e) for e in slow[:10]], "oN": [dict(e) for e in o_n[:10]]}
    expected = f"no entry ≥ {slo_us} µs, no {'/'.join(O_N_COMMANDS)}"
    if slow or o_n:
        parts = []
        if slow:
            worst = max(slow, key=lambda e: as_int(str(e.get("durationUs"))))
            parts.append(f"{len(slow)} entries ≥ {slo_us} µs (worst {worst.get('command')} "
                         f"{worst.get('durationUs')} µs)")
        if o_n:
            parts.append(f"O(N) commands: {', '.join(sorted({str(e.get('command')) for e in o_n}))}")
        yield ctx.warned(node, "; ".join(parts), observed=observed, expected=expected)
    elif slower_than < 0:
        yield ctx.warned(node, "the slow log is off (slowlog-log-slower-than < 0)", observed=observed,
                         expected=expected)
    elif slower_than > slo_us:
        yield ctx.warned(node, f"slowlog-log-slower-than {slower_than} µs is above the SLO: slow commands "
                         "under it go unrecorded", observed=observed, expected=f"0..{slo_us} µs")
    else:
        yield ctx.passed(node, f"slow log on at {slower_than} µs; {len(entries)} entries, none slow",
                         observed=observed, expected=expected)


@PACK.check(
    id="LAT-005",
    title="No application runs blocking O(N) commands (KEYS, FLUSHALL, FLUSHDB)",
    severity=Severity.MEDIUM,
    category="latency",
    verifies="INFO commandstats shows no KEYS call (FAIL) and no FLUSHALL/FLUSHDB (WARN) since the last "
    "restart or CONFIG RESETSTAT; CLIENT LIST names the connections whose last command was one of them.",
    risk="KEYS walks the whole keyspace in one blocking call: on a limiter's millions of keys that is a "
    "stall of hundreds of milliseconds for every client.",
    remediation="Replace KEYS by SCAN in the application and the tools that touch production; once fixed, "
    "CONFIG RESETSTAT so the counters start clean.",
    references=("https://redis.io/docs/latest/commands/keys/",),
    needs=("info", "clients"),
)
def no_blocking_commands(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    calls = {c: _calls(node, c) for c in ("keys", "flushall", "flushdb")}
    callers: list[str] = []
    if node.has("clients"):
        callers = sorted(name or "(unnamed)" for name, g in app_client_groups(node).items()
                         if isinstance(g.get("cmds"), Mapping) and any(c in g["cmds"] for c in calls))
    observed: JsonObject = {"calls": dict(calls), "lastCommandBy": list(callers)}
    if calls["keys"]:
        yield ctx.failed(node, f"KEYS was called {calls['keys']} times", observed=observed, expected=0)
    elif calls["flushall"] or calls["flushdb"]:
        yield ctx.warned(node, f"FLUSHALL/FLUSHDB were called {calls['flushall'] + calls['flushdb']} times",
                         observed=observed, expected=0)
    else:
        yield ctx.passed(node, "no KEYS, FLUSHALL or FLUSHDB calls", observed=observed, expected=0)


def _calls(node: NodeSnapshot, command: str) -> int:
    text = node.info("commandstats", f"cmdstat_{command}") or ""
    for part in text.split(","):
        key, _, value = part.partition("=")
        if key == "calls":
            return as_int(value)
    return 0
