"""CLI: the application's client settings (declared in the profile's [client] section) against the
limits, the measured latency and the server's connection capacity."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from redis_audit.check import CheckContext, Limit, Scope
from redis_audit.facts.histogram import merged
from redis_audit.facts.values import as_int
from redis_audit.jsonvalue import JsonObject, basis_points
from redis_audit.model import DEPLOYMENT, Finding, Severity, Status
from redis_audit.snapshot import FactUnavailable, NodeSnapshot
from redis_audit.topology import Role
from redis_audit.wording import plural

from ._latency import app_client_groups, latency_percentiles_us, probe_sources, response_histogram, setup_p99_us
from .pack import PACK

CHURN_MIN_UPTIME_S = 600
LONG_LIVED_S = 600
READ_TIMEOUT_HARD_MS = 1000  # above this a stalled server holds requests for seconds
CONNECTIONS_PEAK_FACTOR_PCT = 150  # pods × pool × 1.5: room for a rolling deploy's surge


def missing(ctx: CheckContext, resource: NodeSnapshot | str, *keys: str) -> Finding:
    listed = ", ".join(f"[client] {k}" for k in keys)
    return ctx.skipped(resource, f"the profile does not declare {listed}: set {'them' if len(keys) > 1 else 'it'} "
                       "to the application's values as deployed")


def _measured(ctx: CheckContext) -> tuple[list[tuple[str, Mapping[str, object]]], str]:
    try:
        sources, from_pods = probe_sources(ctx)
    except FactUnavailable:
        return [], "no latency probe result"
    return sources, ("the app pods" if from_pods else "the audit host")


@PACK.check(
    id="CLI-001",
    title="The client's connect timeout is set and short",
    severity=Severity.HIGH,
    category="client",
    verifies="[client] connect_timeout_ms is above 0, at most [client] max_connect_timeout_ms (100), and at "
    "least 3× the measured P99 of TCP connect plus TLS handshake.",
    risk="Without a short connect timeout, a dead node (a failover, a black-holed packet) holds every new "
    "connection, and the requests waiting for it, for the kernel's default (minutes).",
    remediation="Set the client's connect timeout (redis-py socket_connect_timeout=0.1, Lettuce "
    "SocketOptions.connectTimeout, go-redis DialTimeout) and declare it in the profile.",
    references=("https://aws.amazon.com/blogs/database/best-practices-redis-clients-and-amazon-elasticache-for-redis/",),
    needs=("latency.local", "latency.pods"),
    scope=Scope.DEPLOYMENT,
)
def connect_timeout(ctx: CheckContext) -> Iterator[Finding]:
    client = ctx.profile.client
    value = client.connect_timeout_ms
    if value is None:
        yield missing(ctx, DEPLOYMENT, "connect_timeout_ms")
        return
    limit = client.max_connect_timeout_ms
    expected = f"1..{limit} ms"
    if value == 0:
        yield ctx.failed(DEPLOYMENT, "no connect timeout (0: wait forever)", observed=value, expected=expected)
        return
    if value > limit:
        yield ctx.failed(DEPLOYMENT, f"connect timeout {value} ms is above {limit} ms", observed=value,
                         expected=expected)
        return
    sources, where = _measured(ctx)
    setups = [p for p in (setup_p99_us(doc) for _, doc in sources) if p is not None]
    if setups and value * 1000 < 3 * max(setups):
        yield ctx.warned(DEPLOYMENT, f"connect timeout {value} ms is under 3× the connection setup P99 "
                         f"({max(setups)} µs from {where}): normal connects will time out", observed=value,
                         expected=expected, setupP99Us=max(setups))
        return
    yield ctx.passed(DEPLOYMENT, f"connect timeout {value} ms", observed=value, expected=expected,
                     setupP99Us=max(setups) if setups else None)


@PACK.check(
    id="CLI-002",
    title="The client's read timeout is set, short, and above the measured tail",
    severity=Severity.HIGH,
    category="client",
    verifies="[client] read_timeout_ms is above 0 and at most max_read_timeout_ms (200; 200–1000 ms WARN), "
    "above the client-observed P99.9 (probe), and at least 3× the server-side P99.9 of the limiter "
    "commands (INFO latencystats).",
    risk="No read timeout hangs requests on a stalled node; a timeout under the latency tail fails normal "
    "requests (and their retries add load exactly when the server is slow).",
    remediation="Set the command timeout (redis-py socket_timeout, Lettuce TimeoutOptions) between 3× the "
    "tail and the request budget; declare it in the profile.",
    references=("https://aws.amazon.com/blogs/database/best-practices-redis-clients-and-amazon-elasticache-for-redis/",),
    needs=("latency.local", "latency.pods", "info"),
    scope=Scope.DEPLOYMENT,
)
def read_timeout(ctx: CheckContext) -> Iterator[Finding]:
    client = ctx.profile.client
    value = client.read_timeout_ms
    if value is None:
        yield missing(ctx, DEPLOYMENT, "read_timeout_ms")
        return
    limit = client.max_read_timeout_ms
    expected = f"1..{limit} ms, above the measured P99.9"
    if value == 0:
        yield ctx.failed(DEPLOYMENT, "no read timeout (0: wait forever)", observed=value, expected=expected)
        return
    if value > READ_TIMEOUT_HARD_MS:
        yield ctx.failed(DEPLOYMENT, f"read timeout {value} ms is above {READ_TIMEOUT_HARD_MS} ms",
                         observed=value, expected=expected)
        return
    sources, where = _measured(ctx)
    tail = merged(response_histogram(doc) for _, doc in sources).quantile(0.999)
    tail_us = None if tail is None else tail.value // 1000
    server_us = max((latency_percentiles_us(n, c).get("p99.9", 0) for n in ctx.snapshot.data_nodes(Role.PRIMARY)
                     if n.has("info") for c in ctx.profile.latency.limiter_commands), default=0)
    more: JsonObject = {"clientP999Us": tail_us, "serverP999Us": server_us, "measuredFrom": where}
    if tail_us is not None and tail_us >= value * 1000:
        yield ctx.failed(DEPLOYMENT, f"read timeout {value} ms is under the client-observed P99.9 ({tail_us} µs "
                         f"from {where}): normal requests would time out", observed=value, expected=expected,
                         **more)
    elif value > limit:
        yield ctx.warned(DEPLOYMENT, f"read timeout {value} ms is above {limit} ms", observed=value,
                         expected=expected, **more)
    elif value * 1000 < 3 * server_us:
        yield ctx.warned(DEPLOYMENT, f"read timeout {value} ms is under 3× the server-side P99.9 ({server_us} µs)",
                         observed=value, expected=expected, **more)
    else:
        yield ctx.passed(DEPLOYMENT, f"read timeout {value} ms" + (f" (client P99.9 {tail_us} µs)" if tail_us
                         is not None else ""), observed=value, expected=expected, **more)


@PACK.check(
    id="CLI-003",
    title="Applications keep long-lived pooled connections (no connection churn)",
    severity=Severity.MEDIUM,
    category="client",
    verifies="New connections per second (total_connections_received over the uptime) stay under 1% of the "
    "connected clients, and application connections (CLIENT LIST, auditor's own left out) are older than "
    "10 minutes in the median.",
    risk="A connection per request costs a TCP (and TLS) handshake on every call, adds milliseconds to each "
    "and exhausts ports and server CPU under load.",
    remediation="Use one pooled client per process (redis-py ConnectionPool, Lettuce shared connection), "
    "created at start-up, not per request.",
    references=("https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/BestPractices.Clients.redis.html",),
    needs=("info", "clients"),
    roles=frozenset({Role.PRIMARY}),
)
def connection_churn(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    uptime = node.info_int("server", "uptime_in_seconds")
    if uptime < CHURN_MIN_UPTIME_S:
        yield ctx.skipped(node, f"the server has been up {uptime} s; the churn rate needs ≥ {CHURN_MIN_UPTIME_S} s")
        return
    received = node.info_int("stats", "total_connections_received")
    connected = max(1, node.info_int("clients", "connected_clients"))
    per_hour = received * 3600 // uptime
    groups = app_client_groups(node)
    weighted = sorted((as_int(str(g.get("ageMedianS"))), as_int(str(g.get("count")))) for g in groups.values())
    total = sum(c for _, c in weighted)
    median_age, seen = 0, 0
    for age, count in weighted:
        seen += count
        if seen * 2 >= total:
            median_age = age
            break
    observed: JsonObject = {"newConnectionsPerHour": per_hour, "connectedClients": connected,
                            "appConnections": total, "appAgeMedianS": median_age}
    expected = "< 1% of connected clients per second, median age > 600 s"
    if per_hour >= connected * 3600:
        yield ctx.failed(node, f"{plural(per_hour, 'new connection')} per hour for {connected} connected clients: "
                         "connections are opened per request", observed=observed, expected=expected)
    elif per_hour * 100 >= connected * 3600 or (total and median_age <= LONG_LIVED_S):
        yield ctx.warned(node, f"{plural(per_hour, 'new connection')} per hour, application connections' median age "
                         f"{median_age} s", observed=observed, expected=expected)
    else:
        yield ctx.passed(node, f"{plural(per_hour, 'new connection')} per hour; median age {median_age} s",
                         observed=observed, expected=expected)


@PACK.check(
    id="CLI-004",
    title="Connection pools stay under 80% of their size, with attributable connections",
    severity=Severity.HIGH,
    category="client",
    verifies="On each primary, the connections named [client] client_name (CLIENT LIST) are under "
    "[client] max_pool_utilisation_pct of pods × pool_size.",
    risk="A pool near its size makes requests queue for a connection: latency the server never sees, then "
    "pool-wait timeouts at peak.",
    remediation="Raise pool_size (within CLI-005's server capacity) or add pods; make the application call "
    "CLIENT SETNAME so its connections can be counted.",
    references=("https://redis.io/docs/latest/commands/client-list/",),
    needs=("clients",),
    scope=Scope.DEPLOYMENT,
)
def pool_utilisation(ctx: CheckContext) -> Iterator[Finding]:
    client = ctx.profile.client
    if client.pods is None or client.pool_size is None:
        yield missing(ctx, DEPLOYMENT, *(k for k in ("pods", "pool_size") if getattr(client, k) is None))
        return
    capacity = max(1, client.pods * client.pool_size)
    for node in ctx.snapshot.data_nodes(Role.PRIMARY):
        groups = app_client_groups(node)
        unnamed = as_int(str(groups.get("", {}).get("count", 0)))
        if not client.client_name:
            yield ctx.warned(node, "[client] client_name is not declared: the application's connections "
                             f"cannot be told apart ({unnamed} unnamed)", observed={"unnamed": unnamed},
                             expected="a client name")
            continue
        count = as_int(str(groups.get(client.client_name, {}).get("count", 0)))
        used = basis_points(count, capacity)
        observed: JsonObject = {"connections": count, "capacity": capacity, "utilisationBp": used,
                                "unnamed": unnamed}
        fail = Limit("<", client.max_pool_utilisation_pct, f"% of {capacity}", scale=100)
        if count == 0:  # never over the limit (it is at least 1%), but no sign of the application either
            yield ctx.warned(node, f"no connection named {client.client_name!r}: is the application using it?",
                             observed=observed, expected=str(fail))
            continue
        yield ctx.graded(node, used, fail=fail, observed=observed, message={
            Status.FAIL: f"{plural(count, 'connection')} named {client.client_name!r} of {capacity} ({used // 100}%)",
            Status.PASS: f"{count} of {plural(capacity, 'pooled connection')} open ({used // 100}%)"})


@PACK.check(
    id="CLI-005",
    title="The server accepts the application's peak connections with room to spare",
    severity=Severity.HIGH,
    category="client",
    verifies="rejected_connections is 0, and pods × pool_size × 1.5 (a rolling deploy's surge) is under "
    "[client] max_pool_utilisation_pct of maxclients on every primary.",
    risk="Past maxclients the server refuses new connections: pods starting during a deploy or a failover "
    "cannot reach the limiter at all.",
    remediation="Lower pool_size or pods per node, or raise maxclients (and the file-descriptor limit that "
    "silently caps it).",
    references=("https://redis.io/docs/latest/develop/reference/clients/",),
    needs=("info", "config"),
    roles=frozenset({Role.PRIMARY}),
)
def server_capacity(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    client = ctx.profile.client
    rejected = node.info_int("stats", "rejected_connections")
    maxclients = as_int(node.setting("maxclients"))
    if rejected:
        yield ctx.failed(node, f"the server has rejected {plural(rejected, 'connection')} (maxclients {maxclients})",
                         observed={"rejected": rejected, "maxclients": maxclients}, expected=0)
        return
    if client.pods is None or client.pool_size is None:
        yield missing(ctx, node, *(k for k in ("pods", "pool_size") if getattr(client, k) is None))
        return
    peak = client.pods * client.pool_size * CONNECTIONS_PEAK_FACTOR_PCT // 100
    used = basis_points(peak, max(1, maxclients))
    observed: JsonObject = {"projectedPeak": peak, "maxclients": maxclients, "utilisationBp": used}
    warn = Limit("<", client.max_pool_utilisation_pct, "% of maxclients", scale=100)
    if peak >= maxclients:  # a count, not a rounded ratio: the server refuses the connection past maxclients
        yield ctx.failed(node, f"projected peak {plural(peak, 'connection')} ≥ maxclients {maxclients}",
                         observed=observed, expected=str(warn))
        return
    yield ctx.graded(node, used, warn=warn, observed=observed, message=f"projected peak "
                     f"{plural(peak, 'connection')} is {used // 100}% of maxclients {maxclients}")


@PACK.check(
    id="CLI-006",
    title="Pool idle eviction and health checks match the server's idle timeout and keepalive",
    severity=Severity.MEDIUM,
    category="client",
    verifies="When the server closes idle clients (timeout > 0), the pool evicts idle connections or health-"
    "checks them sooner; health checks are on; tcp-keepalive is on.",
    risk="A pool that keeps connections longer than the server's idle timeout hands out dead connections: "
    "the first request after a quiet period fails.",
    remediation="Set the pool's idle eviction (or health_check_interval) below the server's timeout, and "
    "keep tcp-keepalive on (default 300).",
    references=("https://redis.io/docs/latest/develop/reference/clients/",),
    needs=("config",),
)
def idle_timeouts(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    client = ctx.profile.client
    timeout = as_int(node.config("timeout"))
    keepalive = as_int(node.config("tcp-keepalive"))
    evict, health = client.idle_eviction_s, client.health_check_interval_s
    if health is None or (timeout > 0 and evict is None):
        yield ctx.skipped(node, "the profile does not declare "
                          + ("[client] health_check_interval_s" if health is None else "[client] idle_eviction_s")
                          + f" (server timeout {timeout} s): set it to the application's value as deployed")
        return
    observed: JsonObject = {"serverTimeoutS": timeout, "tcpKeepaliveS": keepalive, "idleEvictionS": evict,
                            "healthCheckIntervalS": health}
    refreshed = [v for v in (evict, health) if v]
    if timeout > 0 and not any(v < timeout for v in refreshed):
        yield ctx.failed(node, f"the server closes clients idle {timeout} s, but the pool neither evicts nor "
                         "health-checks them sooner", observed=observed,
                         expected=f"eviction or health check < {timeout} s")
    elif health == 0:
        yield ctx.warned(node, "the pool runs no health checks", observed=observed, expected="health checks on")
    elif keepalive == 0:
        yield ctx.warned(node, "tcp-keepalive is 0: dead peers are never detected", observed=observed,
                         expected="tcp-keepalive > 0")
    else:
        yield ctx.passed(node, f"server timeout {timeout} s, pool health check every {health} s, keepalive "
                         f"{keepalive} s", observed=observed, expected="idle handling consistent")


@PACK.check(
    id="CLI-007",
    title="Retries are bounded, with capped exponential backoff and jitter",
    severity=Severity.MEDIUM,
    category="client",
    verifies="[client] retry_max_attempts is bounded, retry_backoff is exponential with retry_jitter and a "
    "retry_backoff_cap_ms, and attempts × read timeout plus backoff fit request_budget_ms.",
    risk="Immediate retries multiply the load on a struggling or failing-over server (a retry storm); "
    "unbounded ones outlive the request they serve.",
    remediation="redis-py Retry(ExponentialWithJitterBackoff(cap, base), N); Lettuce reconnectDelay("
    "Delay.fullJitter(...)); declare the values in the profile.",
    references=("https://aws.amazon.com/blogs/database/best-practices-redis-clients-and-amazon-elasticache-for-redis/",),
    scope=Scope.DEPLOYMENT,
)
def retries(ctx: CheckContext) -> Iterator[Finding]:
    client = ctx.profile.client
    if client.retry_max_attempts is None or client.retry_backoff is None:
        absent = [k for k in ("retry_max_attempts", "retry_backoff") if getattr(client, k) is None]
        yield missing(ctx, DEPLOYMENT, *absent)
        return
    attempts, backoff = client.retry_max_attempts, client.retry_backoff
    observed: JsonObject = {"attempts": attempts, "backoff": backoff, "jitter": client.retry_jitter,
                            "capMs": client.retry_backoff_cap_ms}
    expected = "bounded attempts, exponential backoff with jitter and a cap, within the request budget"
    if attempts == 0:
        yield ctx.passed(DEPLOYMENT, "no retries (a failed request fails fast)", observed=observed, expected=expected)
        return
    if backoff == "none":
        yield ctx.failed(DEPLOYMENT, f"{attempts} immediate retries (no backoff): a retry storm in a failover",
                         observed=observed, expected=expected)
        return
    problems = []
    if backoff != "exponential":
        problems.append(f"{backoff} backoff")
    if not client.retry_jitter:
        problems.append("no jitter (retries synchronise across pods)")
    if client.retry_backoff_cap_ms is None:
        problems.append("no backoff cap declared ([client] retry_backoff_cap_ms)")
    if client.request_budget_ms is not None and client.read_timeout_ms:
        worst = (attempts + 1) * client.read_timeout_ms + attempts * (client.retry_backoff_cap_ms or 0)
        if worst > client.request_budget_ms:
            problems.append(f"worst case {worst} ms exceeds the {client.request_budget_ms} ms request budget")
    if problems:
        yield ctx.warned(DEPLOYMENT, "; ".join(problems), observed=observed, expected=expected)
    else:
        yield ctx.passed(DEPLOYMENT, f"{attempts} retries with capped exponential backoff and jitter",
                         observed=observed, expected=expected)
