"""A real deployment with one hostile node: the healthy node is judged as usual, the hostile one is an ERROR.

The hostile server registers with a real primary as its replica (REPLCONF + PSYNC), so the primary
names it in INFO replication and discovery finds it like any replica; it answers discovery, then
misbehaves inside the collection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from redis_audit.cli.main import main
from redis_audit.sandbox import Sandbox, SandboxSpec, sandbox_cli_args
from tests.hostile.server import HostileServer

DEADLINE = 6
MARGIN = 5


def registered(sandbox: Sandbox, port: int) -> bool:
    primary = sandbox.info.nodes_with_role("primary")[0]
    replication = sandbox.admin_client(primary).info("replication")
    return any(isinstance(v, dict) and v.get("port") == port for k, v in replication.items() if k.startswith("slave"))


@pytest.mark.parametrize("mode", ["garbage", "drip", "huge-bulk"])
def test_the_healthy_node_is_judged_and_the_hostile_one_is_an_error(
        mode: str, fresh_sandbox: Callable[[SandboxSpec], Sandbox], hostile: Callable[..., HostileServer],
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox = fresh_sandbox(SandboxSpec(topology="standalone"))
    primary = sandbox.info.nodes_with_role("primary")[0]
    # Discovery asks the replica INFO replication and INFO server; the collector's INFO is the third.
    server = hostile(mode, on="info", after=2, replica_of=(primary.port, "replicator", sandbox.password("replicator")))
    deadline = time.monotonic() + 10
    while not registered(sandbox, server.port):
        assert time.monotonic() < deadline, "the primary never listed the hostile replica"
        time.sleep(0.1)
    report = tmp_path / "report.json"
    started = time.monotonic()
    code = main(["run", *sandbox_cli_args(sandbox, tmp_path), "--deadline", str(DEADLINE), "--command-timeout", "1",
                 "--format", "json", "--output", str(report)])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert elapsed < DEADLINE + MARGIN
    assert code in (1, 3) and "Traceback" not in err
    findings = json.loads(report.read_text())["findings"]
    hostile_address, healthy_address = f"127.0.0.1:{server.port}", f"{primary.host}:{primary.port}"
    errors = [f for f in findings if f["status"] == "ERROR"]
    assert [(f["checkId"], f["resource"]) for f in errors] == [("AUDIT-001", hostile_address)]
    assert errors[0]["message"].startswith("replica node could not be audited: "), errors
    # The primary is judged from its own facts, as in any audit: its node checks measured, not skipped.
    on_primary = {f["checkId"]: f["status"] for f in findings if f["resource"] == healthy_address}
    assert on_primary["AUTH-001"] == "PASS" and on_primary["MEM-001"] in ("PASS", "FAIL")
    assert on_primary["TLS-001"] in ("PASS", "FAIL") and on_primary["ACL-003"] != "ERROR"
