"""RL: the rate limiter's keys: bounded TTLs, memory at projected peak, expiry, scripts, isolation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from redis_audit.check import CheckContext, Limit, Scope
from redis_audit.facts.values import as_int
from redis_audit.jsonvalue import basis_points
from redis_audit.model import Finding, Severity
from redis_audit.profile import LimiterSection
from redis_audit.snapshot import NodeSnapshot
from redis_audit.topology import Role

from ._census import census, census_or_none, groups, is_limiter, limiter_groups, limiter_prefixes, num, sampled_note
from .pack import PACK

PRIMARY = frozenset({Role.PRIMARY})


def _window_ms(pattern: str, ctx: CheckContext) -> int:
    """The longest window of the limiters whose prefix the group matches, else keyspace.max_window_s."""
    windows = [lim.window_s for lim in ctx.profile.limiters if pattern.startswith(lim.prefix)]
    return 1000 * (max(windows) if windows else ctx.profile.keyspace.max_window_s)


@PACK.check(
    id="RL-001",
    title="Every limiter key has a bounded TTL",
    severity=Severity.HIGH,
    category="limiter",
    verifies="The census finds no limiter key without a TTL, and no TTL longer than twice the longest window "
    "of its limiter ([[limiters]] window_s, else keyspace.max_window_s). On a fixed-window limiter, WARN when "
    "most keys (keyspace.refresh_warn_bp) have a remaining TTL in the top keyspace.refresh_top_bp of the "
    "window: set-once TTLs spread evenly over the window, TTLs refreshed on every hit cluster at its top.",
    risk="A counter whose EXPIRE was lost (INCR then EXPIRE, not atomic) never resets: that identity stays "
    "limited for ever, and such keys pile up until evictions or OOM. A fixed-window counter whose EXPIRE is "
    "repeated on every hit never reaches the end of its window while the identity keeps calling: the count "
    "keeps growing and the identity stays limited (and the key lives on).",
    remediation="Set the TTL atomically with the first write only (SET ... EX NX, or INCR + EXPIRE NX in one "
    "script/MULTI), and repair the immortal keys found (EXPIRE them).",
    references=("https://redis.io/docs/latest/develop/reference/eviction/",),
    needs=("keyspace.census",),
    scope=Scope.DEPLOYMENT,
)
def bounded_ttls(ctx: CheckContext) -> Iterator[Finding]:
    data = census(ctx)
    found = limiter_groups(data, ctx.profile)
    if not found:
        yield ctx.skipped(ctx.deployment, "the census found no limiter keys (prefixes: "
                          + ", ".join(limiter_prefixes(ctx.profile)) + ")")
        return
    note = sampled_note(data)
    for g in found:
        pattern = str(g.get("pattern"))
        bound = 2 * _window_ms(pattern, ctx)
        no_ttl, max_ttl = num(g.get("noTtl")), num(g.get("maxTtlMs"))
        observed = {"keys": num(g.get("keys")), "withoutTtl": no_ttl, "examples": g.get("noTtlExamples", []),
                    "maxTtlMs": max_ttl, "ttlHistogram": g.get("ttlHistogram", {})}
        expected: dict[str, Any] = {"withoutTtl": 0, "maxTtlMs": f"<= {bound}"}
        refreshed = _refreshed_on_every_hit(g, ctx)
        if refreshed is not None:
            observed["ttlWindow"] = refreshed[1]
            expected["ttlInTopOfWindowBp"] = f"< {ctx.profile.keyspace.refresh_warn_bp}"
        if no_ttl:
            yield ctx.failed(pattern, f"{no_ttl} of {num(g.get('keys'))} keys have no TTL{note}", observed=observed,
                             expected=expected)
        elif max_ttl > bound:
            yield ctx.failed(pattern, f"a TTL of {max_ttl // 1000} s exceeds twice the window ({bound // 1000} s)"
                             f"{note}", observed=observed, expected=expected)
        elif refreshed is not None and refreshed[0]:
            window = refreshed[1]
            yield ctx.warned(pattern, f"{num(window['shareBp']) / 100:.0f}% of the keys with a TTL have more than "
                             f"{100 - num(window['topBp']) / 100:g}% of their {num(window['windowMs']) // 1000} s "
                             "window left (set once, about "
                             f"{num(window['topBp']) / 100:g}% would): the fixed-window TTL looks refreshed on every "
                             f"hit{note}", observed=observed, expected=expected)
        else:
            yield ctx.passed(pattern, f"every key has a TTL <= {bound // 1000} s{note}", observed=observed,
                             expected=expected)


def _refreshed_on_every_hit(group: dict[str, Any], ctx: CheckContext) -> tuple[bool, dict[str, Any]] | None:
    """(warn?, evidence) for a fixed-window limiter's group that the census measured against its window."""
    window = group.get("ttlWindow")
    pattern = str(group.get("pattern"))
    fixed = [lim for lim in ctx.profile.limiters if pattern.startswith(lim.prefix) and lim.algorithm == "fixed-window"]
    if not isinstance(window, dict) or not fixed:
        return None
    ks = ctx.profile.keyspace
    with_ttl = num(group.get("keys")) - num(group.get("noTtl"))
    in_top = num(window.get("inTop"))
    share = basis_points(in_top, with_ttl) if with_ttl else 0
    evidence = {"windowMs": num(window.get("windowMs")), "topBp": num(window.get("topBp")), "keysWithTtl": with_ttl,
                "inTop": in_top, "aboveWindow": num(window.get("aboveWindow")), "shareBp": share,
                "limiters": [lim.name for lim in fixed]}
    return with_ttl >= ks.refresh_min_keys and share >= ks.refresh_warn_bp, evidence


def _bytes_per_key(limiter: LimiterSection, data: dict[str, Any]) -> tuple[int, str]:
    matched = [g for g in groups(data) if str(g.get("pattern", "")).startswith(limiter.prefix)]
    keys = sum(num(g.get("keys")) for g in matched)
    if keys:
        return sum(num(g.get("correctedBytes")) for g in matched) // keys, "measured"
    return limiter.bytes_per_key, "profile"


@PACK.check(
    id="RL-002",
    title="maxmemory covers the limiters' keys at projected peak traffic",
    severity=Severity.HIGH,
    category="limiter",
    verifies="Per [[limiters]]: peak_identities x keys_per_identity x measured bytes per key (MEMORY USAGE "
    "corrected for the expires dict and hash-table buckets), plus the memory that is not limiter keys, is at "
    "most memory.projected_pass_pct of maxmemory (WARN up to projected_fail_pct, FAIL above).",
    risk="A memory cap sized on today's keys evicts or rejects limiter writes at the first real peak.",
    remediation="Raise maxmemory (or shard) to the projected need; shorten TTLs to the window; use smaller keys.",
    needs=("keyspace.census", "config", "info"),
    scope=Scope.DEPLOYMENT,
)
def projected_memory(ctx: CheckContext) -> Iterator[Finding]:
    if not ctx.profile.limiters:
        yield ctx.skipped(ctx.deployment, "the profile has no traffic model: add [[limiters]] with "
                          "peak_identities, window_s and prefix")
        return
    data = census(ctx)
    primaries = list(ctx.snapshot.data_nodes(Role.PRIMARY))
    maxmemory = sum(as_int(n.setting("maxmemory")) for n in primaries)
    if not primaries or any(as_int(n.setting("maxmemory")) <= 0 for n in primaries):
        yield ctx.failed(ctx.deployment, "a primary has no maxmemory: the projection has no cap to fit in",
                         observed=maxmemory, expected="> 0 on every primary")
        return
    used = sum(n.info_int("memory", "used_memory") for n in primaries)
    current = sum(num(g.get("correctedBytes")) for g in limiter_groups(data, ctx.profile))
    base = max(used - current, 0)
    per_limiter, projected = [], 0
    for lim in ctx.profile.limiters:
        bpk, source = _bytes_per_key(lim, data)
        need = lim.peak_identities * lim.keys_per_identity * bpk
        projected += need
        per_limiter.append({"name": lim.name, "prefix": lim.prefix, "peakIdentities": lim.peak_identities,
                            "keysPerIdentity": lim.keys_per_identity, "bytesPerKey": bpk,
                            "bytesPerKeySource": source, "projectedBytes": need})
    mem = ctx.profile.memory
    peak = base + projected
    ratio = basis_points(peak, maxmemory)
    room = mem.projected_pass_pct * maxmemory // 100 - base
    factor_bp = basis_points(room, projected) if projected else 0
    for item in per_limiter:
        item["maxPeakIdentities"] = max(num(item["peakIdentities"]) * factor_bp // 10_000, 0)
    observed: dict[str, Any] = {"projectedPeakBytes": peak, "maxmemory": maxmemory, "utilisationBp": ratio,
                "otherBytes": base, "limiters": per_limiter, "carriesTrafficFactorBp": factor_bp}
    message = (f"projected peak {peak // (1 << 20)} MB is {ratio / 100:.1f}% of maxmemory; the cap carries "
               f"{factor_bp / 10_000:.2f}x the modelled peak at {mem.projected_pass_pct}%{sampled_note(data)}")
    yield ctx.graded(ctx.deployment, ratio, warn=Limit("<=", mem.projected_pass_pct, "% of maxmemory", scale=100),
                     fail=Limit("<=", mem.projected_fail_pct, "% of maxmemory", scale=100), message=message,
                     observed=observed)


@PACK.check(
    id="RL-003",
    title="Mass expiry will not stall the server",
    severity=Severity.MEDIUM,
    category="limiter",
    verifies="expired_stale_perc < 10 and expired_time_cap_reached_count is 0 (INFO stats), and fewer than 25% "
    "of the keys with a TTL expire in the same second (census).",
    risk="When a quarter of the keys expire in the same second, the active expire cycle can block the server "
    "for the whole limiter fleet.",
    remediation="Add jitter to TTLs or use per-identity window offsets instead of aligned EXPIREAT boundaries.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/latency/",),
    needs=("info",),
    roles=PRIMARY,
)
def expiry_stalls(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    stale = node.info("stats", "expired_stale_perc")
    capped = node.info_int("stats", "expired_time_cap_reached_count")
    stale_bp = round(float(stale) * 100) if stale else 0
    data = census_or_none(ctx) or {}
    same = next((num(n.get("maxExpiringSameSecondBp")) for n in data.get("nodes", [])
                 if isinstance(n, dict) and n.get("address") == str(node.address)), 0)
    observed = {"expiredStaleBp": stale_bp, "expiredTimeCapReachedCount": capped, "maxExpiringSameSecondBp": same}
    problems = []
    if stale_bp >= 1000:
        problems.append(f"{stale_bp / 100:.1f}% of keys with a TTL are already expired but not reclaimed")
    if capped:
        problems.append(f"the expire cycle hit its time cap {capped} times")
    if same >= 2500:
        problems.append(f"{same / 100:.0f}% of the keys with a TTL expire in the same second")
    if problems:
        yield ctx.warned(node, "; ".join(problems), observed=observed, expected="stale < 10%, no cap hits")
    else:
        yield ctx.passed(node, "expiry keeps up and is spread over time", observed=observed,
                         expected="stale < 10%, no cap hits")


def _calls(node: NodeSnapshot, command: str) -> int:
    text = node.info("commandstats", f"cmdstat_{command}") or ""
    fields = dict(p.split("=", 1) for p in text.split(",") if "=" in p)
    return as_int(fields.get("calls"))


@PACK.check(
    id="RL-004",
    title="Limiter scripts are loaded once and called by SHA",
    severity=Severity.LOW,
    category="limiter",
    verifies="EVALSHA/FCALL calls outnumber EVAL calls (INFO commandstats), number_of_cached_scripts <= 10 "
    "(WARN), <= 1000 (FAIL above).",
    risk="EVAL sends and hashes the body on every call; scripts built per request fill the script cache, "
    "which is never evicted and counts outside maxmemory.",
    remediation="SCRIPT LOAD once (or register a FUNCTION) and call EVALSHA/FCALL with KEYS/ARGV; never "
    "interpolate values into a script body.",
    needs=("info",),
    roles=PRIMARY,
)
def scripts_by_sha(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    evals = _calls(node, "eval") + _calls(node, "eval_ro")
    by_sha = _calls(node, "evalsha") + _calls(node, "evalsha_ro") + _calls(node, "fcall") + _calls(node, "fcall_ro")
    scripts = node.info_int("memory", "number_of_cached_scripts")
    observed = {"eval": evals, "evalshaOrFcall": by_sha, "cachedScripts": scripts}
    if scripts > 1000:
        yield ctx.failed(node, f"{scripts} scripts are cached: bodies are generated per call", observed=observed,
                         expected="<= 10 cached scripts")
    elif scripts > 10 or evals > by_sha:
        yield ctx.warned(node, f"{evals} EVAL vs {by_sha} EVALSHA/FCALL calls, {scripts} cached scripts",
                         observed=observed, expected="EVALSHA/FCALL dominate, <= 10 scripts")
    else:
        yield ctx.passed(node, f"{by_sha} EVALSHA/FCALL vs {evals} EVAL calls, {scripts} cached scripts",
                         observed=observed, expected="EVALSHA/FCALL dominate, <= 10 scripts")


@PACK.check(
    id="RL-005",
    title="Limiter keys do not share eviction pressure with cache data",
    severity=Severity.MEDIUM,
    category="limiter",
    verifies="The census finds only limiter keys (and the other databases are empty), or the policy is "
    "volatile-ttl; WARN when limiter keys share the instance with other data under any other policy.",
    risk="Under memory pressure an allkeys policy evicts limiter counters as readily as cache entries: "
    "rate limits silently reset.",
    remediation="Give the limiter its own instance (or cluster); else use volatile-ttl with limiter TTLs longer "
    "than cache TTLs.",
    references=("https://redis.io/docs/latest/develop/reference/eviction/",),
    needs=("keyspace.census", "info"),
    scope=Scope.DEPLOYMENT,
)
def limiter_isolation(ctx: CheckContext) -> Iterator[Finding]:
    data = census(ctx)
    prefixes = limiter_prefixes(ctx.profile)
    limiter = [g for g in groups(data) if is_limiter(str(g.get("pattern", "")), prefixes)]
    other = [g for g in groups(data) if not is_limiter(str(g.get("pattern", "")), prefixes)]
    primaries = list(ctx.snapshot.data_nodes(Role.PRIMARY))
    other_dbs = sorted({db for n in primaries for db in n.info_section("keyspace") if db != "db0"})
    policies = sorted({str(n.setting("maxmemory-policy")) for n in primaries})
    observed: dict[str, Any] = {"limiterKeys": sum(num(g.get("keys")) for g in limiter),
                "otherKeys": sum(num(g.get("keys")) for g in other),
                "otherGroups": [g.get("pattern") for g in other[:10]], "otherDatabases": other_dbs,
                "policies": policies}
    if not limiter:
        yield ctx.skipped(ctx.deployment, "the census found no limiter keys")
    elif not other and not other_dbs:
        yield ctx.passed(ctx.deployment, "the instance holds limiter keys only", observed=observed,
                         expected="limiter keys alone")
    elif policies == ["volatile-ttl"]:
        yield ctx.passed(ctx.deployment, "mixed data under volatile-ttl: keys with the shortest TTL go first",
                         observed=observed, expected="limiter keys alone, or volatile-ttl")
    else:
        yield ctx.warned(ctx.deployment, f"limiter keys share memory with {observed['otherKeys']} other keys "
                         f"under {', '.join(policies)}{sampled_note(data)}", observed=observed,
                         expected="limiter keys alone, or volatile-ttl")
