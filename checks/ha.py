"""HA: every primary has a replica, and failover is automated (Sentinel or Cluster)."""

from __future__ import annotations

from collections.abc import Iterator

from redis_audit.check import CheckContext, Limit, Scope
from redis_audit.facts.values import as_int
from redis_audit.jsonvalue import JsonObject, as_object
from redis_audit.model import Finding, Severity, Status
from redis_audit.snapshot import NodeSnapshot
from redis_audit.topology import Address, DeploymentKind, Node, Role
from redis_audit.wording import plural

from ._aws import is_aws
from ._facts import domain_spread, replica_lag, spread_finding
from ._replicas import CLUSTER_REFERENCE, SENTINEL_REFERENCE, redundancy
from .pack import PACK


@PACK.check(
    id="HA-001",
    title="Every primary has a replica its failover can promote, under Sentinel or Cluster",
    severity=Severity.CRITICAL,
    category="availability",
    verifies="Each primary (by its own INFO replication: role master) has at least ha.min_replicas_per_primary "
    "replicas that the failover mechanism would actually promote, and the deployment is Sentinel or Cluster (not "
    "a bare standalone or an unsupervised replica set). A replica counts when its own INFO follows this primary "
    "with the link up, the primary's own INFO lists it online, and: Sentinel (sentinelSelectSlave) - every "
    "Sentinel naming this primary knows it, none flags it s_down/o_down/disconnected, PING reply within 5 s, INFO "
    "within 30 s, master-link-down-time within 10 x down-after-milliseconds, priority not 0; Cluster "
    "(clusterHandleSlaveFailover) - not cluster-replica-no-failover, data age within repl-ping-replica-period + "
    "cluster-node-timeout x cluster-replica-validity-factor, not flagged fail/pfail; a replicated set - priority "
    "not 0, lag within ha.lag_fail_s. Each excluded replica is named with the reason; a replica the audit could "
    "not verify makes the check SKIP instead of PASS.",
    risk="A primary without a promotable replica, or without automated failover, makes one node failure an "
    "outage of the rate limiter: Sentinel aborts with -failover-abort-no-good-slave, a cluster shard stays down.",
    remediation="Add replicas (REPLICAOF) that may be promoted (replica-priority > 0, link up, not "
    "cluster-replica-no-failover) and run three Sentinels, or run Redis Cluster with a replica per shard.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/",
                SENTINEL_REFERENCE, CLUSTER_REFERENCE,
                "https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/"),
    needs=("info", "config"),
    scope=Scope.DEPLOYMENT,
    version=2,
)
def replicas_and_failover(ctx: CheckContext) -> Iterator[Finding]:
    topology = ctx.snapshot.topology
    wanted = ctx.profile.ha.min_replicas_per_primary
    primaries = topology.primaries()
    if not primaries:
        yield ctx.skipped(ctx.deployment, "no primary was discovered")
        return
    for primary in primaries:
        yield _judge_primary(ctx, primary, wanted)
    # A managed service (ElastiCache, MemoryDB) fails over itself: HA-004 judges it from the control plane.
    automated = topology.kind in (DeploymentKind.SENTINEL, DeploymentKind.CLUSTER) or is_aws(ctx.snapshot)
    if ctx.profile.ha.require_sentinel_or_cluster and not automated:
        yield ctx.failed(ctx.deployment, f"deployment is {topology.kind}: no automated failover",
                         observed=str(topology.kind), expected="sentinel or cluster")


def _judge_primary(ctx: CheckContext, primary: Node, wanted: int) -> Finding:
    where = str(primary.address)
    found = redundancy(ctx.snapshot, ctx.profile, primary, managed=is_aws(ctx.snapshot))
    snap = ctx.snapshot.node(primary.address)
    connected = snap.info_int("replication", "connected_slaves") if snap and snap.has("info") else None
    observed: JsonObject = {"connectedReplicas": connected, **found.to_json()}
    expected: JsonObject = {"promotableReplicas": f">= {wanted}", "primaryRole": "master"}
    if found.primary_role is None:
        return ctx.skipped(where, "cannot verify: the primary's own INFO replication is unavailable")
    if found.primary_role != "master":
        return ctx.failed(where, f"named primary, but its own INFO replication says role:{found.primary_role}"
                          + (f" (it follows {found.primary_follows})" if found.primary_follows else ""),
                          observed=observed, expected=expected)
    count = len(found.promotable)
    detail = f" ({found.summary()})" if found.summary() else ""
    if count >= wanted:
        return ctx.passed(where, f"primary has {plural(count, 'promotable replica')}{detail}", observed=observed,
                          expected=expected)
    if count + len(found.unverified) >= wanted:
        return ctx.skipped(where, f"primary has {plural(count, 'verified promotable replica')}; cannot verify the "
                           f"rest{detail}", redundancy=observed)
    return ctx.failed(where, f"primary has {plural(count, 'promotable replica')}, needs {wanted}{detail}",
                      observed=observed, expected=expected)


@PACK.check(
    id="HA-002",
    title="Replication links are up and replicas keep up",
    severity=Severity.HIGH,
    category="availability",
    verifies="On each replica INFO replication shows master_link_status:up and no sync in progress, and the lag "
    "its primary reports (slaveN lag=) is at most ha.lag_warn_s (1 s); WARN up to ha.lag_fail_s (10 s, the "
    "default min-replicas-max-lag), FAIL above it or with the link down.",
    risk="A replica whose link is down or far behind is no failover target: promoting it loses writes, and "
    "with min-replicas-to-write the primary stops accepting writes.",
    remediation="Find why the link drops (replica logs: auth, TLS, network, output buffer limits); size the "
    "backlog (HA-006) and the network for the write rate.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/replication/",),
    needs=("info",),
    roles=frozenset({Role.REPLICA}),
)
def replication_healthy(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    link = node.info("replication", "master_link_status")
    syncing = node.info("replication", "master_sync_in_progress") == "1"
    lag = replica_lag(ctx.snapshot, node)
    observed: JsonObject = {
        "masterLinkStatus": link, "syncInProgress": syncing, "lagSeconds": lag,
        "masterLastIoSecondsAgo": node.info("replication", "master_last_io_seconds_ago"),
        "master": f"{node.info('replication', 'master_host')}:{node.info('replication', 'master_port')}",
    }
    warn, fail = Limit("<=", ctx.profile.ha.lag_warn_s), Limit("<=", ctx.profile.ha.lag_fail_s)
    expected: JsonObject = {"masterLinkStatus": "up", "lagSeconds": str(warn)}
    if link != "up":
        yield ctx.failed(node, f"the replication link is {link}", observed=observed, expected=expected)
        return
    lagging = f"the replica lags {lag} s behind its primary"
    graded = ctx.passed(node, "link up, lag unknown s", observed=observed, expected=expected) if lag is None else \
        ctx.graded(node, lag, warn=warn, fail=fail, observed=observed, expected=expected,
                   message={Status.PASS: f"link up, lag {lag} s", Status.WARN: lagging, Status.FAIL: lagging})
    if syncing and graded.status is not Status.FAIL:  # a full sync outranks a lag under the fail limit
        yield ctx.warned(node, "a full synchronisation is in progress", observed=observed, expected=expected)
    else:
        yield graded


@PACK.check(
    id="HA-003",
    title="A primary and its replicas sit in different failure domains",
    severity=Severity.HIGH,
    category="availability",
    verifies="Each shard (a primary and its replicas) spans at least two failure domains: zones from the "
    "profile's ha.host_zones ('host:port' or 'host' -> zone), else the node's availability-zone (Valkey), else "
    "its host. Distinct hosts with unknown zones WARN; a group entirely on loopback WARNs, because a local test "
    "deployment cannot have failure domains (map its ports to zones to judge it).",
    risk="A shard whose primary and replicas share a host or zone loses all its copies to one host or zone "
    "failure: failover has nowhere to go.",
    remediation="Place each replica on another host, in another availability zone, and record the zones in the "
    "profile's [ha] host_zones (or set availability-zone on Valkey).",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/",),
    needs=("config", "info"),
    scope=Scope.DEPLOYMENT,
)
def failure_domains(ctx: CheckContext) -> Iterator[Finding]:
    topology = ctx.snapshot.topology
    for primary in sorted(topology.primaries(), key=lambda n: n.address):
        # Only replicas a failover could promote give the shard another failure domain.
        found = redundancy(ctx.snapshot, ctx.profile, primary, managed=is_aws(ctx.snapshot))
        replicas = [Address.parse(c.address) for c in (*found.promotable, *found.unverified)]
        if not replicas:
            yield ctx.skipped(str(primary.address), "the primary has no promotable replica (see HA-001)")
            continue
        spread = domain_spread(ctx.snapshot, ctx.profile, [primary.address, *replicas])
        yield spread_finding(ctx, str(primary.address), "this shard", spread)


@PACK.check(
    id="HA-005",
    title="min-replicas-to-write is a deliberate decision",
    severity=Severity.MEDIUM,
    category="availability",
    verifies="On each primary with replicas: min-replicas-to-write >= 1 with min-replicas-max-lag <= "
    "ha.lag_fail_s, or a waiver recorded in ha.min_replicas_to_write_waiver (a limiter may prefer availability); "
    "never more than the replicas connected (writes would fail with NOREPLICAS).",
    risk="Without it, a primary cut off from its replicas keeps accepting writes that the failover will throw "
    "away; set higher than the live replicas, every write fails.",
    remediation="CONFIG SET min-replicas-to-write 1 and min-replicas-max-lag 10, or record in the profile why "
    "the limiter prefers availability.",
    references=("https://redis.io/docs/latest/develop/reference/errors/common/noreplicas/",),
    needs=("config", "info"),
    roles=frozenset({Role.PRIMARY}),
)
def min_replicas_deliberate(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    if not node.info_int("replication", "connected_slaves"):  # its own INFO, not what others call it
        yield ctx.skipped(node, "the primary has no replica (see HA-001)")
        return
    wanted = as_int(node.config("min-replicas-to-write"))
    max_lag = as_int(node.config("min-replicas-max-lag"))
    connected = node.info_int("replication", "connected_slaves")
    waiver = ctx.profile.ha.min_replicas_to_write_waiver
    observed: JsonObject = {"minReplicasToWrite": wanted, "minReplicasMaxLag": max_lag,
                            "connectedReplicas": connected, "waiver": waiver or None}
    expected: JsonObject = {"minReplicasToWrite": f"1..{connected}",
                            "minReplicasMaxLag": f"<= {ctx.profile.ha.lag_fail_s}"}
    if wanted > connected:
        yield ctx.failed(node, f"min-replicas-to-write {wanted} exceeds the "
                               f"{plural(connected, 'connected replica')}: writes "
                         "fail with NOREPLICAS", observed=observed, expected=expected)
    elif wanted >= 1 and max_lag <= ctx.profile.ha.lag_fail_s:
        yield ctx.passed(node, f"writes need {plural(wanted, 'replica')} within {max_lag} s", observed=observed,
                         expected=expected)
    elif wanted >= 1:
        yield ctx.warned(node, f"min-replicas-max-lag {max_lag} s bounds little", observed=observed,
                         expected=expected)
    elif waiver:
        yield ctx.passed(node, f"min-replicas-to-write is 0, waived: {waiver}", observed=observed)
    else:
        yield ctx.warned(node, "min-replicas-to-write is 0 and the profile records no waiver", observed=observed,
                         expected=expected)


@PACK.check(
    id="HA-006",
    title="The replication backlog absorbs short disconnects",
    severity=Severity.MEDIUM,
    category="availability",
    verifies="Measured over ha.write_rate_sample_ms on each primary: sync_full does not grow, and "
    "repl_backlog_size holds at least ha.backlog_min_seconds (60, a catalogue proposal) of the replication "
    "write rate (master_repl_offset delta).",
    risk="A backlog smaller than a minute of writes turns every short network blip into a full resync: a fork, "
    "a full copy of the dataset, and replicas unusable for failover meanwhile.",
    remediation="CONFIG SET repl-backlog-size to at least 60 s of write bytes (and persist it); investigate "
    "repeated full syncs in the logs.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/replication/",),
    needs=("replication.rate",),
    roles=frozenset({Role.PRIMARY}),
)
def backlog_sized(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    rate = as_object(node.fact("replication.rate"))
    per_second = as_int(rate.get("bytesPerSecond"))
    backlog = as_int(rate.get("backlogBytes"))
    minimum = ctx.profile.ha.backlog_min_seconds
    full_syncs = as_int(rate.get("syncFullAfter")) - as_int(rate.get("syncFullBefore"))
    held = backlog // per_second if per_second else None
    observed: JsonObject = {**rate, "backlogSeconds": held}
    expected: JsonObject = {"backlogSeconds": f">= {minimum}", "newFullSyncs": 0}
    if full_syncs > 0:
        yield ctx.failed(node, f"{plural(full_syncs, 'full resynchronisation')} during the audit", observed=observed,
                         expected=expected)
    elif held is not None and held < minimum:
        yield ctx.warned(node, f"the {backlog}-byte backlog holds {held} s of writes at {per_second} B/s",
                         observed=observed, expected=expected)
    else:
        holds = "any time (no writes measured)" if held is None else f"{held} s of writes"
        yield ctx.passed(node, f"the backlog holds {holds}", observed=observed, expected=expected)


_SUPERVISORS = ("systemd", "upstart")


@PACK.check(
    id="HA-007",
    title="No persistence-off primary that restarts automatically (the replica-wipe hazard)",
    severity=Severity.HIGH,
    category="availability",
    verifies="A primary with replicas has RDB (save) or AOF (appendonly) persistence, or it is not restarted "
    "automatically: INFO process_supervised, and ha.assume_auto_restart for orchestrators (Kubernetes, "
    "containers) that restart a process without the server knowing.",
    risk="A primary without persistence that restarts comes back empty faster than failover triggers, and its "
    "replicas then synchronise from it: every copy of the data is wiped.",
    remediation="Turn on AOF (appendonly yes) or RDB snapshots on primaries, or disable automatic restarts of "
    "persistence-off primaries so that Sentinel/Cluster fails over instead.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/replication/",),
    needs=("config", "info"),
    roles=frozenset({Role.PRIMARY}),
)
def persistence_or_no_restart(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    aof = node.setting("appendonly")
    aof_on = aof in ("yes", "1")
    save = "" if aof_on and not node.has("config") else node.config("save") or ""
    supervised = node.info("server", "process_supervised") or "unknown"
    replicas = node.info_int("replication", "connected_slaves")  # the replicas it would wipe, by its own INFO
    restarts = supervised in _SUPERVISORS or ctx.profile.ha.assume_auto_restart
    observed: JsonObject = {"appendonly": aof, "save": save, "processSupervised": supervised,
                            "assumeAutoRestart": ctx.profile.ha.assume_auto_restart, "replicas": replicas}
    if aof_on or save.strip():
        yield ctx.passed(node, "persistence is on", observed=observed)
    elif not replicas:
        yield ctx.passed(node, "no persistence, but no replica to wipe", observed=observed)
    elif restarts:
        why = (f"restarted by {supervised} (INFO process_supervised)" if supervised in _SUPERVISORS else
               "automatic restarts assumed by the profile (ha.assume_auto_restart; INFO process_supervised says "
               f"{supervised})")
        yield ctx.failed(node, f"no persistence, {why}, and {plural(replicas, 'replica')} that would sync the "
                         "empty dataset", observed=observed,
                         expected="appendonly yes or save, or no automatic restart")
    else:
        yield ctx.passed(node, "no persistence, but no automatic restart (INFO process_supervised "
                         f"{supervised}; ha.assume_auto_restart false)", observed=observed)
