"""Helpers for failover tests: what every test checks at its end.

Failover tests change the topology, so they start their own sandboxes with the shared
`fresh_sandbox` fixture (tests/conftest.py); refusals that change nothing may use `sandboxes`.
"""

from __future__ import annotations

import time
from typing import Any

from redis_audit.failover import ProbeOptions, run_probe
from redis_audit.guard import CANARY_KEY_PREFIX
from redis_audit.sandbox import Sandbox, sandbox_target
from redis_audit.schemas import validate
from redis_audit.target import Target

FAST = {"warmup_s": 0.5, "settle_s": 0.3, "budget_s": 90}


def probe(sb: Sandbox, **options: Any) -> dict[str, Any]:
    """The probe as the sandbox's admin user (the auditor user cannot pause or fail over); every result
    matches the published schema (schemas/failover-result.schema.json)."""
    result = run_probe(sandbox_target(sb, user="admin"), ProbeOptions(**{**FAST, **options}))
    validate("failover-result", result)
    return result


def probe_events(result: dict[str, Any]) -> list[str]:
    """What the probe itself did, in order (the timeline is sorted by time)."""
    return [e["event"] for e in result["timeline"] if e["source"] == "probe"]


def assert_no_canary_key(sb: Sandbox) -> None:
    for node in sb.info.nodes:
        if node.is_sentinel:
            continue
        with sb.admin_client(node) as client:
            assert client.keys(CANARY_KEY_PREFIX + "*") == [], f"canary key left on {node.name}"


def topology_problems(sb: Sandbox) -> list[str]:
    """What is not healthy, seen through the admin user (independently of the probe's own verdict):
    one primary per shard, every other node its replica with the link up, and the Sentinels (or the
    cluster nodes) agreeing."""
    data = [n for n in sb.info.nodes if not n.is_sentinel]
    problems: list[str] = []
    replication = {}
    for node in data:
        with sb.admin_client(node) as client:
            replication[node.address] = client.info("replication")
    masters = {a for a, r in replication.items() if r["role"] == "master"}
    for address, rep in replication.items():
        if rep["role"] == "slave":
            upstream = f"{rep['master_host']}:{rep['master_port']}"
            if upstream not in masters or rep["master_link_status"] != "up":
                problems.append(f"{address} follows {upstream} with link {rep['master_link_status']}")
    wanted = len(data) - len(masters)
    if sum(int(replication[m]["connected_slaves"]) for m in masters) != wanted:
        problems.append(f"primaries {sorted(masters)} do not have all {wanted} replicas connected")
    if sb.spec.topology == "cluster":
        views = set()
        for node in data:
            with sb.admin_client(node) as client:
                if client.execute_command("CLUSTER", "INFO").find("cluster_state:ok") < 0:
                    problems.append(f"{node.address}: cluster_state is not ok")
                lines = client.execute_command("CLUSTER", "NODES").splitlines()
            views.add(frozenset(" ".join([f[1].split("@")[0], f[2].replace("myself,", ""), f[3], *f[8:]])
                                for f in (line.split() for line in lines)))
        if len(views) != 1:
            problems.append("cluster nodes disagree on the topology")
        if len(masters) != sb.spec.cluster_primaries:
            problems.append(f"{len(masters)} primaries, expected {sb.spec.cluster_primaries}")
    elif len(masters) != 1:
        problems.append(f"{len(masters)} primaries: {sorted(masters)}")
    for sentinel in sb.info.nodes_with_role("sentinel"):
        name = sb.spec.master_name
        with sb.admin_client(sentinel) as client:
            host, port = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
            quorum = client.execute_command("SENTINEL", "CKQUORUM", name)
            flags = client.execute_command("SENTINEL", "MASTER", name)["flags"]
        if f"{host}:{port}" not in masters or flags != "master" or not quorum.startswith("OK"):
            problems.append(f"Sentinel {sentinel.address} names {host}:{port} ({flags}), {quorum}")
    return problems


def assert_healthy(sb: Sandbox, within_s: float = 15.0) -> None:
    """The topology is healthy now, or becomes so within `within_s` (after a test stopped something)."""
    deadline = time.monotonic() + within_s
    while (problems := topology_problems(sb)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert problems == [], problems


def assert_clean(sb: Sandbox) -> None:
    assert_healthy(sb)
    assert_no_canary_key(sb)


def verdicts(result: dict[str, Any]) -> dict[str, str]:
    """The FO checks' status per check id, judged from the probe's result alone (as the CLI does)."""
    from redis_audit.audit import failover_findings
    from redis_audit.profile import load_profile
    from redis_audit.target import parse_url

    parsed = parse_url("redis://127.0.0.1:1")
    target = Target(kind=parsed.kind, seeds=parsed.seeds)
    return {str(f["checkId"]): str(f["status"]) for f in failover_findings(result, load_profile(None), target)}
