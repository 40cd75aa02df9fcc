"""SEN: the Sentinels that automate failover are enough, agree, are healthy and can be reached."""

from __future__ import annotations

from collections.abc import Iterator

from redis_audit.check import CheckContext, Scope
from redis_audit.facts.values import as_int
from redis_audit.jsonvalue import JsonObject, as_object, as_objects
from redis_audit.model import Finding, Severity
from redis_audit.snapshot import NodeSnapshot
from redis_audit.topology import Address, DeploymentKind, Role
from redis_audit.wording import plural

from ._facts import domain_spread, fact_or_none, spread_finding
from ._replicas import SENTINEL_REFERENCE, sentinel_view_reasons
from .pack import PACK

SENTINEL_ONLY = frozenset({DeploymentKind.SENTINEL})
SENTINELS = frozenset({Role.SENTINEL})
_DOWN = ("s_down", "o_down", "disconnected")


def _sentinel_count(ctx: CheckContext) -> int:
    """Sentinels known to the deployment: the ones discovered, or what any Sentinel counts."""
    counted = [as_int(as_object(fact_or_none(s, "sentinel.master")).get("num-other-sentinels")) + 1
               for s in ctx.snapshot.sentinel_nodes()]
    return max([len(ctx.snapshot.topology.sentinels), *counted])


@PACK.check(
    id="SEN-001",
    title="At least three Sentinels, in independent failure domains",
    severity=Severity.HIGH,
    category="sentinel",
    verifies="The deployment has at least sentinel.min_sentinels (3) Sentinels (discovered, and SENTINEL MASTER "
    "num-other-sentinels + 1), spread over as many failure domains (ha.host_zones, else hosts; loopback-only "
    "WARNs as in HA-003).",
    risk="With fewer than three Sentinels, or with several on one host, losing one host loses the majority "
    "that authorises a failover: the primary's failure becomes an outage.",
    remediation="Run three (or five) Sentinels on independent hosts/zones, e.g. next to the application.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/",),
    topologies=SENTINEL_ONLY,
    needs=("sentinel.master", "config", "info"),
    scope=Scope.DEPLOYMENT,
)
def enough_sentinels(ctx: CheckContext) -> Iterator[Finding]:
    count = _sentinel_count(ctx)
    wanted = ctx.profile.sentinel.min_sentinels
    if count < wanted:
        yield ctx.failed(ctx.deployment, f"{plural(count, 'Sentinel')}; at least {wanted} are needed", observed=count,
                         expected=f">= {wanted}")
        return
    addresses = [s.address for s in ctx.snapshot.topology.sentinels]
    yield spread_finding(ctx, ctx.deployment, plural(count, "Sentinel"), domain_spread(ctx.snapshot, ctx.profile,
                                                                                 addresses), minimum=wanted)


@PACK.check(
    id="SEN-002",
    title="The quorum is reachable and a majority",
    severity=Severity.HIGH,
    category="sentinel",
    verifies="SENTINEL CKQUORUM answers OK on every Sentinel and the configured quorum is at least a majority "
    "of the Sentinels and at most their number; a quorum of 1 or below the majority WARNs.",
    risk="When CKQUORUM fails, no failover can be authorised; a quorum above the Sentinel count never triggers; "
    "a quorum of 1 lets one partitioned Sentinel start failovers.",
    remediation="SENTINEL SET <name> quorum <majority>, and fix the Sentinels CKQUORUM says are missing.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/",),
    topologies=SENTINEL_ONLY,
    needs=("sentinel.ckquorum", "sentinel.master"),
    roles=SENTINELS,
)
def quorum_sane(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    ckquorum = as_object(node.fact("sentinel.ckquorum"))
    quorum = as_int(as_object(node.fact("sentinel.master")).get("quorum"))
    count = _sentinel_count(ctx)
    majority = count // 2 + 1
    observed: JsonObject = {"ckquorum": ckquorum.get("message"), "quorum": quorum, "sentinels": count}
    expected: JsonObject = {"ckquorum": "OK", "quorum": f"{majority}..{count}"}
    if not ckquorum.get("ok"):
        yield ctx.failed(node, f"CKQUORUM failed: {ckquorum.get('message')}", observed=observed, expected=expected)
    elif quorum > count:
        yield ctx.failed(node, f"quorum {quorum} exceeds the {plural(count, 'Sentinel')}: failover can never be agreed",
                         observed=observed, expected=expected)
    elif quorum < majority:
        yield ctx.warned(node, f"quorum {quorum} is below the majority of {plural(count, 'Sentinel')} ({majority})",
                         observed=observed, expected=expected)
    else:
        yield ctx.passed(node, f"CKQUORUM OK, quorum {quorum} of {count}", observed=observed, expected=expected)


@PACK.check(
    id="SEN-003",
    title="All Sentinels name the same primary, and it really is primary",
    severity=Severity.CRITICAL,
    category="sentinel",
    verifies="SENTINEL GET-MASTER-ADDR-BY-NAME gives one address on every Sentinel, and ROLE on that node "
    "answers master.",
    risk="A split view sends clients of different Sentinels to different primaries (lost writes, split "
    "limits); a 'primary' whose ROLE is replica refuses every write (READONLY).",
    remediation="Investigate the Sentinels that disagree (network partition, stale config epoch); SENTINEL "
    "RESET on the odd one out once the cause is fixed.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/",),
    topologies=SENTINEL_ONLY,
    needs=("sentinel.master_addr", "role"),
    scope=Scope.DEPLOYMENT,
)
def sentinels_agree(ctx: CheckContext) -> Iterator[Finding]:
    answers: dict[str, str] = {}
    for sentinel in ctx.snapshot.sentinel_nodes():
        addr = fact_or_none(sentinel, "sentinel.master_addr")
        answers[str(sentinel.address)] = f"{addr[0]}:{addr[1]}" if isinstance(addr, list) and len(addr) == 2 \
            else "unavailable"
    named = sorted(set(answers.values()) - {"unavailable"})
    if not named:
        yield ctx.skipped(ctx.deployment, "no Sentinel answered GET-MASTER-ADDR-BY-NAME")
        return
    observed: JsonObject = {"answers": dict(answers)}
    if len(named) > 1:
        several = plural(len(named), "different primary", "different primaries")
        yield ctx.failed(ctx.deployment, f"the Sentinels name {several}: {', '.join(named)}",
                         observed=observed, expected="one address")
        return
    primary = ctx.snapshot.node(Address.parse(named[0]))
    role = fact_or_none(primary, "role") if primary is not None else None
    actual = str(role[0]) if isinstance(role, list) and role else None
    observed["role"] = actual
    if actual == "master":
        yield ctx.passed(ctx.deployment, f"every Sentinel names {named[0]}, whose ROLE is master", observed=observed,
                         expected={"role": "master"})
    elif actual is None:
        yield ctx.skipped(ctx.deployment, f"ROLE of {named[0]} is unavailable (not reached, or ROLE denied)")
    else:
        yield ctx.failed(ctx.deployment, f"the Sentinels' primary {named[0]} says ROLE {actual}", observed=observed,
                         expected={"role": "master"})


@PACK.check(
    id="SEN-004",
    title="Each Sentinel sees a healthy topology: nothing down, not in TILT",
    severity=Severity.HIGH,
    category="sentinel",
    verifies="SENTINEL MASTER flags carry no s_down/o_down/disconnected; at least one replica in SENTINEL "
    "REPLICAS is one this Sentinel would promote (sentinelSelectSlave: no s_down/o_down/disconnected flag, PING "
    "reply within 5 s, INFO within 30 s, master-link-down-time within 10 x down-after-milliseconds, "
    "slave-priority not 0); no replica is down or disconnected and each reports master-link-status ok; INFO "
    "sentinel sentinel_tilt is 0. Each replica it would not promote is named with the reason.",
    version=2,
    risk="A Sentinel that sees the primary down is about to fail over (or cannot); a replica it sees down is "
    "no failover target; in TILT mode a Sentinel does not act at all.",
    remediation="Fix the node or the network path the flags point at; TILT comes from clock jumps or a blocked "
    "Sentinel process.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/", SENTINEL_REFERENCE),
    topologies=SENTINEL_ONLY,
    needs=("sentinel.master", "sentinel.replicas", "info"),
    roles=SENTINELS,
)
def sentinel_view_healthy(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    master = as_object(node.fact("sentinel.master"))
    replicas = as_objects(node.fact("sentinel.replicas"))
    tilt = node.info("sentinel", "sentinel_tilt")
    problems = [f"primary {f}" for f in str(master.get("flags", "")).split(",") if f in _DOWN]
    down_after = as_int(master.get("down-after-milliseconds"), 30_000)
    promotable = 0
    for replica in replicas:
        where = f"{replica.get('ip')}:{replica.get('port')}"
        reasons = sentinel_view_reasons(replica, down_after)
        problems += [f"replica {where} {why}" for why in reasons]
        if replica.get("master-link-status") not in (None, "ok"):
            problems.append(f"replica {where} link {replica.get('master-link-status')}")
        promotable += not reasons
    if not promotable:
        problems.append(f"no replica this Sentinel would promote (of {plural(len(replicas), 'replica')})")
    if tilt not in (None, "0"):
        problems.append("Sentinel in TILT mode")
    observed: JsonObject = {
        "primaryFlags": master.get("flags"), "numReplicas": as_int(master.get("num-slaves")), "tilt": tilt,
        "replicas": [{"address": f"{r.get('ip')}:{r.get('port')}", "flags": r.get("flags"),
                      "masterLinkStatus": r.get("master-link-status"), "priority": r.get("slave-priority"),
                      "masterLinkDownMs": r.get("master-link-down-time"), "lastOkPingMs": r.get("last-ok-ping-reply"),
                      "infoRefreshMs": r.get("info-refresh")} for r in replicas],
    }
    if problems:
        yield ctx.failed(node, "; ".join(problems), observed=observed, expected="no down flag, no TILT")
    else:
        yield ctx.passed(node, f"primary and {plural(len(replicas), 'replica')} healthy, "
                         f"{promotable} promotable, no TILT", observed=observed)


_TIMING = ("down-after-milliseconds", "failover-timeout", "parallel-syncs")


@PACK.check(
    id="SEN-005",
    title="Failure detection and failover timing fit the limiter and match across Sentinels",
    severity=Severity.MEDIUM,
    category="sentinel",
    verifies="down-after-milliseconds, failover-timeout and parallel-syncs (SENTINEL MASTER) are identical on "
    "every Sentinel; down-after is within sentinel.down_after_min_ms..down_after_max_ms (2-30 s, a catalogue "
    "proposal against the limiter's SLO) and parallel-syncs at most sentinel.max_parallel_syncs (1).",
    risk="Sentinels that disagree on timing detect and vote at different moments; a down-after below 2 s "
    "fails over on network blips, above 30 s leaves the limiter without a primary for too long.",
    remediation="SENTINEL SET <name> down-after-milliseconds 5000 (and the same failover-timeout and "
    "parallel-syncs 1) on every Sentinel.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/",),
    topologies=SENTINEL_ONLY,
    needs=("sentinel.master",),
    scope=Scope.DEPLOYMENT,
)
def timing_consistent(ctx: CheckContext) -> Iterator[Finding]:
    views: dict[str, dict[str, int]] = {}
    for sentinel in sorted(ctx.snapshot.sentinel_nodes(), key=lambda n: n.address):
        master = as_object(fact_or_none(sentinel, "sentinel.master"))
        if master:
            views[str(sentinel.address)] = {k: as_int(master.get(k)) for k in _TIMING}
    if not views:
        yield ctx.skipped(ctx.deployment, "no Sentinel answered SENTINEL MASTER")
        return
    distinct = {tuple(sorted(v.items())) for v in views.values()}
    profile = ctx.profile.sentinel
    expected: JsonObject = {"down-after-milliseconds": f"{profile.down_after_min_ms}..{profile.down_after_max_ms}",
                            "parallel-syncs": f"<= {profile.max_parallel_syncs}", "identical": True}
    observed: JsonObject = {"bySentinel": {k: dict(v) for k, v in views.items()}}
    if len(distinct) > 1:
        yield ctx.failed(ctx.deployment, f"the Sentinels use {len(distinct)} different timing settings",
                         observed=observed, expected=expected)
        return
    first = next(iter(views.values()))
    down_after, syncs = first["down-after-milliseconds"], first["parallel-syncs"]
    problems = []
    if not profile.down_after_min_ms <= down_after <= profile.down_after_max_ms:
        problems.append(f"down-after-milliseconds {down_after}")
    if syncs > profile.max_parallel_syncs:
        problems.append(f"parallel-syncs {syncs}")
    if problems:
        yield ctx.warned(ctx.deployment, f"{', '.join(problems)} outside the profile's range", observed=observed,
                         expected=expected)
    else:
        yield ctx.passed(ctx.deployment, f"identical on {plural(len(views), 'Sentinel')}: down-after {down_after} ms, "
                         f"parallel-syncs {syncs}", observed=observed, expected=expected)


@PACK.check(
    id="SEN-006",
    title="Every address a Sentinel announces is reachable",
    severity=Severity.HIGH,
    category="sentinel",
    verifies="From the audit host, each address a Sentinel returns (GET-MASTER-ADDR-BY-NAME, REPLICAS, "
    "SENTINELS) answers a connection in the Redis protocol (any reply, NOAUTH included). Run the audit from an "
    "application host for this to mean 'reachable by the application'.",
    risk="Behind NAT or Docker port mapping, Sentinels announce internal addresses: clients that ask Sentinel "
    "for the primary then cannot connect, and failover leaves them stranded.",
    remediation="Set sentinel announce-ip/announce-port (and replica-announce-ip/port) to addresses the "
    "application can reach.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/",),
    topologies=SENTINEL_ONLY,
    needs=("sentinel.reachability",),
    roles=SENTINELS,
)
def announced_reachable(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    results = as_objects(node.fact("sentinel.reachability"))
    unreachable = [f"{r.get('kind')} {r.get('address')}" for r in results if not r.get("reachable")]
    observed: JsonObject = {"addresses": [dict(r) for r in results]}
    if unreachable:
        yield ctx.failed(node, f"unreachable: {', '.join(unreachable)}", observed=observed,
                         expected="every announced address answers")
    else:
        yield ctx.passed(node, f"all {plural(len(results), 'announced address', 'announced addresses')} "
                         "answer", observed=observed)
