"""The security and HA pack against real servers: good presets pass, bad presets and injected faults fail."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import threading
import time

import pytest

from redis_audit.audit import AuditOptions, collect_snapshot, judge_snapshot
from redis_audit.model import Status
from redis_audit.sandbox import SandboxSpec
from redis_audit.sandbox.certs import load_ca, make_certificate
from redis_audit.secret import Secret
from redis_audit.target import Credentials
from redis_audit.topology import Address

from .support import audit, findings, only, profile, snapshot, statuses, target

PASS, FAIL, WARN, SKIP, ERROR = Status.PASS, Status.FAIL, Status.WARN, Status.SKIP, Status.ERROR

SECURITY = ("TLS-001", "TLS-002", "TLS-003", "TLS-004", "AUTH-001", "AUTH-003", "AUTH-004", "NET-001", "NET-002",
            "ACL-001", "ACL-002", "ACL-003", "ACL-004", "SEC-001", "SEC-002")
HA = ("HA-002", "HA-005", "HA-006", "HA-007", "SEN-002", "SEN-003", "SEN-004", "SEN-005", "SEN-006")
CLUSTER = ("CLU-001", "CLU-002", "CLU-003", "CLU-004", "CLU-005", "CLU-006")
# Loopback deployments have no failure domains: these WARN on a good preset, by design (see HA-003).
LOOPBACK_WARNS = ("HA-003", "SEN-001")

SENTINEL_TLS = SandboxSpec(topology="sentinel", tls=True)
CLUSTER_TLS = SandboxSpec(topology="cluster", tls=True)


def _pack_ids() -> tuple[str, ...]:
    return SECURITY + HA + CLUSTER + LOOPBACK_WARNS


def _no_errors(report) -> None:
    errors = [r.finding for r in report.results if r.finding.status is ERROR and r.finding.check_id in _pack_ids()]
    assert errors == []


def test_good_sentinel_tls_passes_security_and_ha(sandboxes):
    report = audit(sandboxes.get(SENTINEL_TLS))
    for check_id in SECURITY + HA:
        assert only(report, check_id, PASS), (check_id, [f.message for f in findings(report, check_id)])
    for check_id in LOOPBACK_WARNS:
        assert only(report, check_id, WARN)
    assert statuses(report, "TLS-002")["PASS"] == 6  # 3 data nodes + 3 Sentinels refused TLS 1.0/1.1
    _no_errors(report)


def test_good_sentinel_with_zones_passes_failure_domains(sandboxes):
    sb = sandboxes.get(SENTINEL_TLS)
    zones = {n.address: f"az-{i % 3}" for i, n in enumerate(sorted(sb.info.nodes, key=lambda n: n.name))}
    primary = sb.info.nodes_with_role("primary")[0]
    zones[primary.address] = "az-primary"
    report = audit(sb, profile(ha={"host_zones": zones}))
    assert only(report, "HA-003", PASS) and only(report, "SEN-001", PASS)
    same = audit(sb, profile(ha={"host_zones": dict.fromkeys(zones, "az-a")}))
    assert only(same, "HA-003", FAIL) and only(same, "SEN-001", FAIL)


def test_good_cluster_tls_passes_cluster_checks(sandboxes):
    report = audit(sandboxes.get(CLUSTER_TLS))
    for check_id in (*CLUSTER, "TLS-001", "TLS-002", "TLS-004", "ACL-001", "ACL-002", "HA-002", "SEC-001"):
        assert only(report, check_id, PASS), (check_id, [f.message for f in findings(report, check_id)])
    assert statuses(report, "CLU-002")["PASS"] == 3
    _no_errors(report)


def test_bad_sentinel_fails_what_a_default_install_fails(sandboxes):
    report = audit(sandboxes.get(SandboxSpec(topology="sentinel", preset="bad")), user=None)
    for check_id in ("TLS-001", "AUTH-001", "NET-002", "AUTH-004", "ACL-001", "HA-007"):
        assert statuses(report, check_id)["FAIL"] >= 1, check_id
    for check_id in ("NET-001", "ACL-003", "HA-005"):
        assert only(report, check_id, WARN), check_id
    assert only(report, "TLS-002", SKIP) and only(report, "TLS-004", SKIP)  # no TLS at all: TLS-001 says so
    _no_errors(report)


def test_valkey_cluster_runs_the_pack(sandboxes):
    report = audit(sandboxes.get(SandboxSpec(topology="cluster", engine="valkey")))
    for check_id in (*CLUSTER, "ACL-001", "ACL-002", "ACL-003", "ACL-004", "AUTH-001", "AUTH-003", "NET-001",
                     "SEC-001", "SEC-002", "HA-002", "HA-005", "HA-006", "HA-007"):
        assert only(report, check_id, PASS), (check_id, [f.message for f in findings(report, check_id)])
    engine = findings(report, "SEC-002")[0].evidence["observed"]
    assert engine["engine"] == "valkey" and engine["version"].startswith("9.")
    _no_errors(report)


def test_valkey_sentinel_runs_the_pack(sandboxes):
    report = audit(sandboxes.get(SandboxSpec(topology="sentinel", engine="valkey")))
    for check_id in ("AUTH-004", "SEN-002", "SEN-003", "SEN-004", "SEN-005", "SEN-006", "ACL-001", "HA-002"):
        assert only(report, check_id, PASS), (check_id, [f.message for f in findings(report, check_id)])
    _no_errors(report)


def test_read_only_auditor_and_a_user_without_config_never_error(fresh_sandbox):
    sb = fresh_sandbox(SandboxSpec(topology="sentinel"))
    auditor_rule = next(r for r in sb.admin_client(sb.info.nodes_with_role("primary")[0]).acl_list()
                        if r.startswith("user auditor "))
    rule = auditor_rule.split()[3:]  # after 'user auditor on #hash'
    for node in sb.info.nodes:
        if not node.is_sentinel:
            sb.admin_client(node).acl_setuser("noconfig", enabled=True, passwords=[f"+{sb.password('auditor')}"])
            sb.admin_client(node).execute_command("ACL", "SETUSER", "noconfig", *rule, "-config|get")
    prof = profile(general={"required_checks": []})
    for user in ("auditor", "noconfig"):
        report = audit(sb, prof, user="auditor") if user == "auditor" else _audit_as(sb, prof, "noconfig")
        pack = [r.finding for r in report.results if r.finding.check_id in _pack_ids()]
        assert pack and all(f.status is not ERROR for f in pack), [f.message for f in pack if f.status is ERROR]
        assert all(f.message for f in pack)
        if user == "noconfig":
            skipped = [f for f in pack if f.status is SKIP and "config|get" in f.message.lower()]
            assert {f.check_id for f in skipped} >= {"NET-001", "SEC-001", "HA-005"}
            assert only(report, "HA-007", PASS)  # appendonly read from INFO where CONFIG is denied


def _audit_as(sb, prof, user):
    """Audit as `user`, who shares the auditor's password (set up by the test)."""
    changed = dataclasses.replace(target(sb), credentials=Credentials(user, Secret(sb.password("auditor"))))
    return judge_snapshot(collect_snapshot(changed, AuditOptions(prof)), prof)


def test_security_faults_fail(fresh_sandbox):
    sb = fresh_sandbox(SandboxSpec(topology="replicated", replicas=1, tls=True))
    primary = sb.info.nodes_with_role("primary")[0]
    replica = sb.info.nodes_with_role("replica")[0]
    admin = sb.admin_client(primary)
    # The application user gets +@all and every key; a TLS server also listens in plaintext; old TLS allowed.
    for node in (primary, replica):
        client = sb.admin_client(node)
        client.execute_command("ACL", "SETUSER", "app", "+@all", "~*", "&*")
        client.config_set("tls-protocols", "TLSv1 TLSv1.1 TLSv1.2 TLSv1.3")
        client.config_set("tls-ciphers", "DEFAULT:@SECLEVEL=0")
    admin.config_set("port", str(_free_port()))
    # Somebody guesses a password; the application is denied a command.
    with pytest.raises(Exception):  # noqa: B017 - any authentication error
        sb.client(primary, None, username="app", password="wrong").ping()
    limited = sb.client(primary, "auditor")
    with pytest.raises(Exception):  # noqa: B017
        limited.set("x", "1")
    admin.execute_command("ACL", "SETUSER", "app", "-flushdb")
    with pytest.raises(Exception):  # noqa: B017
        sb.client(primary, "app").flushdb()
    report = audit(sb)
    assert only(report, "ACL-001", FAIL) and only(report, "ACL-002", FAIL)
    assert statuses(report, "TLS-002")["FAIL"] == 2
    assert findings(report, "TLS-001")[0].status is FAIL or statuses(report, "TLS-001")["FAIL"] == 1
    assert statuses(report, "AUTH-003") == {"FAIL": 1, "PASS": 1}
    assert statuses(report, "ACL-004") == {"WARN": 1, "PASS": 1}
    warned = audit(sb, profile(application={"client_addresses": ["127.0.0.1"]}))
    assert statuses(warned, "AUTH-003") == {"WARN": 1, "PASS": 1}


def test_certificate_expiring_in_five_days_fails(fresh_sandbox):
    sb = fresh_sandbox(SandboxSpec(topology="standalone", tls=True))
    node = sb.info.nodes[0]
    tls_dir = sb.info.ca_file.parent
    ca = load_ca(sb.info.ca_file, tls_dir / "ca.key")
    soon = make_certificate(ca, not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=5))
    soon.write(tls_dir / "soon.crt", tls_dir / "soon.key")
    admin = sb.admin_client(node)
    admin.execute_command("CONFIG", "SET", "tls-cert-file", str(tls_dir / "soon.crt"),
                          "tls-key-file", str(tls_dir / "soon.key"))
    report = audit(sb, profile(tls={"cert_warn_days": 30, "cert_fail_days": 7}))
    finding = findings(report, "TLS-003")[0]
    assert finding.status is FAIL and finding.evidence["observed"]["daysToExpiry"] in (4, 5)
    assert only(audit(sb, profile(tls={"cert_warn_days": 6, "cert_fail_days": 3})), "TLS-003", WARN)


def test_ha_faults_fail(fresh_sandbox):
    sb = fresh_sandbox(SandboxSpec(topology="replicated", replicas=2))
    primary = sb.info.nodes_with_role("primary")[0]
    broken, healthy = sb.info.nodes_with_role("replica")
    admin = sb.admin_client(primary)
    # One replica loses its link (wrong replication user), the primary demands 3 replicas, persistence off.
    replica_admin = sb.admin_client(broken)
    replica_admin.config_set("masteruser", "nobody")
    replica_admin.execute_command("CLIENT", "KILL", "TYPE", "master")
    admin.config_set("repl-backlog-size", str(16 * 1024))
    seed = Address(broken.host, broken.port)
    written = _with_writes(sb, primary, lambda: audit(sb, seed=seed))
    assert only(written, "HA-006", WARN, FAIL), [(f.message, f.evidence) for f in findings(written, "HA-006")]
    admin.config_set("min-replicas-to-write", "3")
    admin.config_set("appendonly", "no")
    report = audit(sb, seed=seed)
    by_replica = {f.resource: f.status for f in findings(report, "HA-002")}
    assert by_replica == {broken.address: FAIL, healthy.address: PASS}
    assert only(report, "HA-005", FAIL) and only(report, "HA-007", FAIL)
    assert only(audit(sb, profile(ha={"assume_auto_restart": False}), seed=seed), "HA-007", PASS)


def _with_writes(sb, node, run):
    """Run `run` while another thread writes ~1 MB/s to `node` (so that a 16 KB backlog is too small)."""
    stop = threading.Event()

    def write() -> None:
        client = sb.admin_client(node)
        while not stop.is_set():
            pipe = client.pipeline(transaction=False)
            for i in range(50):
                pipe.set(f"rl:bulk:{i}", "x" * 1024)
            pipe.execute()
            time.sleep(0.01)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        time.sleep(0.2)
        return run()
    finally:
        stop.set()
        thread.join(5)


def test_sentinel_faults_fail(fresh_sandbox):
    sb = fresh_sandbox(SandboxSpec(topology="sentinel", replicas=1, sentinels=2))
    first, second = sb.info.nodes_with_role("sentinel")
    sb.admin_client(first).execute_command("SENTINEL", "SET", "mymaster", "quorum", "1")
    sb.admin_client(first).execute_command("SENTINEL", "SET", "mymaster", "down-after-milliseconds", "1000")
    sb.admin_client(second).execute_command("SENTINEL", "SET", "mymaster", "quorum", "3")
    report = audit(sb)
    assert only(report, "SEN-001", FAIL)
    assert {f.resource: f.status for f in findings(report, "SEN-002")} == {first.address: WARN,
                                                                           second.address: FAIL}
    assert only(report, "SEN-005", FAIL)


def test_cluster_faults_fail(fresh_sandbox):
    sb = fresh_sandbox(SandboxSpec(topology="cluster"))
    primaries = sorted(sb.info.nodes_with_role("primary"), key=lambda n: n.shard or 0)
    replicas = sb.info.nodes_with_role("replica")
    admin = sb.admin_client(primaries[0])
    lost = next(r for r in replicas if r.shard == primaries[0].shard)
    lost_id = sb.admin_client(lost).execute_command("CLUSTER", "MYID")
    # A hot shard: every limiter key behind one hash tag; identities split over slots; a CROSSSLOT error.
    hot = next(p for p in primaries if _owns(sb, p, "rl:{hot}:0"))
    client = sb.admin_client(hot)
    pipe = client.pipeline(transaction=False)
    for i in range(3300):
        pipe.set(f"rl:{{hot}}:{i}", "1")
    pipe.execute()
    for window in ("minute", "hour", "day", "week"):
        key = f"rl:user42:{window}"
        owner = next(p for p in primaries if _owns(sb, p, key))
        sb.admin_client(owner).set(key, "1")
    with pytest.raises(Exception):  # noqa: B017 - CROSSSLOT
        client.execute_command("MSET", "rl:a", "1", "rl:b", "2")
    # A shard loses its replica; another node forgets it (a split view).
    sb.stop_node(lost)
    other = next(p for p in primaries if p is not primaries[0])
    sb.admin_client(other).execute_command("CLUSTER", "FORGET", lost_id)
    admin.config_set("cluster-node-timeout", "15000")
    report = audit(sb)
    assert {f.resource: f.status for f in findings(report, "CLU-002")}[primaries[0].address] is FAIL
    assert only(report, "CLU-003", FAIL)
    assert only(report, "CLU-004", FAIL)
    assert only(report, "CLU-006", FAIL)
    assert findings(report, "CLU-006")[0].evidence["observed"]["crossslotErrors"]
    assert statuses(report, "CLU-005")["WARN"] == 1


def _owns(sb, node, key) -> bool:
    client = sb.admin_client(node)
    slot = client.execute_command("CLUSTER", "KEYSLOT", key)
    for start, end, *_ in client.execute_command("CLUSTER", "SLOTS"):
        if start <= slot <= end:
            return client.execute_command("CLUSTER", "MYID") == _id_at(client, start)
    return False


def _id_at(client, start) -> str:
    for s, _e, primary, *_ in client.execute_command("CLUSTER", "SLOTS"):
        if s == start:
            return str(primary[2])
    return ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_snapshot_holds_the_new_facts(sandboxes):
    snap = snapshot(sandboxes.get(SENTINEL_TLS))
    primary = next(snap.data_nodes(), None)
    assert primary is not None and primary.has("acl.dryrun") and primary.has("command.info")
    assert primary.has("clients.principals") and primary.has("probe.tls_protocols")
    sentinel = next(snap.sentinel_nodes())
    assert sentinel.has("sentinel.reachability") and sentinel.has("probe.sentinel_unauthenticated")
