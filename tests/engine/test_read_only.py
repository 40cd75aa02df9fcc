"""Read-only by construction: after a full audit, the servers saw only allowlisted commands."""

from __future__ import annotations

import pytest

from redis_audit.guard import LATENCY_PROBE, READ_ONLY
from redis_audit.sandbox import SandboxSpec
from tests.helpers import audit

# What replication itself sends between nodes during the audit (not the auditor's commands).
REPLICATION_TRAFFIC = {"replconf", "psync", "sync", "ping"}


def commands_seen(client) -> set[str]:
    """Commands with at least one call since the last CONFIG RESETSTAT (rejected calls included)."""
    return {name.removeprefix("cmdstat_") for name in client.info("commandstats")}


@pytest.mark.parametrize("spec", [SandboxSpec(topology="standalone", tls=True), SandboxSpec(topology="cluster")],
                         ids=["standalone-tls", "cluster"])
def test_a_full_audit_sends_only_allowlisted_commands(fresh_sandbox, spec):
    sandbox = fresh_sandbox(spec)
    data_nodes = [n for n in sandbox.info.nodes if not n.is_sentinel]
    for node in data_nodes:
        sandbox.admin_client(node).execute_command("CONFIG", "RESETSTAT")
    audit(sandbox)
    # The read-only collectors, plus the latency probe's GET of its own reserved key (a read).
    allowed = set(READ_ONLY.allowed) | set(LATENCY_PROBE.allowed) | REPLICATION_TRAFFIC | {"config|resetstat"}
    for node in data_nodes:
        seen = commands_seen(sandbox.admin_client(node))
        assert seen <= allowed, (node.address, sorted(seen - allowed))
        assert "info" in seen  # the audit did reach it
        assert not seen & {"set", "evalsha", "eval", "del", "flushall", "config|set"}


def test_a_plugin_that_tries_to_write_is_stopped_and_reported(sandboxes, plugin_path):
    import json
    import os
    import subprocess
    import sys

    sandbox = sandboxes.get(SandboxSpec(topology="standalone", preset="bad"))
    node = sandbox.info.nodes[0]
    sandbox.admin_client(node).execute_command("SET", "precious", "1")
    env = {**os.environ, "PYTHONPATH": str(plugin_path)}
    result = subprocess.run(
        [sys.executable, "-m", "redis_audit", "run", sandbox.info.target_url, "--format", "json"],
        env=env, capture_output=True, text=True, check=False,
    )
    report = json.loads(result.stdout)
    acme = [f for f in report["findings"] if f["checkId"] == "X-ACME-002"]
    assert [f["status"] for f in acme] == ["ERROR"]
    assert "flushall" in acme[0]["message"] and "not allowed" in acme[0]["message"]
    assert [f["status"] for f in report["findings"] if f["checkId"] == "X-ACME-001"] == ["PASS"]
    assert sandbox.admin_client(node).execute_command("GET", "precious") == "1"
