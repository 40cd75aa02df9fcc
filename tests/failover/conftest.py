"""Fresh sandboxes for failover tests (they change the topology) and the operator's target."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from redis_audit.guard import CANARY_KEY_PREFIX
from redis_audit.secret import Secret
from redis_audit.target import Credentials, Target, parse_url

# The sandbox lands on main from its own branch; until then these real-server tests cannot be collected.
_sandbox = pytest.importorskip("redis_audit.sandbox", reason="redis_audit.sandbox is not on this branch yet")
Sandbox, SandboxSpec = _sandbox.Sandbox, _sandbox.SandboxSpec


@pytest.fixture
def failover_sandbox(tmp_path: Path) -> Iterator[Callable[[SandboxSpec], Sandbox]]:
    started: list[Sandbox] = []

    def make(spec: SandboxSpec) -> Sandbox:
        sandbox = Sandbox.up(spec, tmp_path / f"sb{len(started)}")
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.down()


def operator_target(sb: Sandbox) -> Target:
    """The sandbox's target with the admin users: the auditor cannot pause or fail over."""
    parsed = parse_url(sb.info.target_url)
    sentinel = (Credentials("admin", Secret(sb.sentinel_password("admin")))
                if any(n.is_sentinel for n in sb.info.nodes) else Credentials())
    return Target(kind=parsed.kind, seeds=parsed.seeds, master_name=parsed.master_name,
                  credentials=Credentials("admin", Secret(sb.password("admin"))), sentinel_credentials=sentinel)


def assert_no_canary_key(sb: Sandbox) -> None:
    for node in sb.info.nodes:
        if node.is_sentinel:
            continue
        with sb.admin_client(node) as client:
            assert client.keys(CANARY_KEY_PREFIX + "*") == [], f"canary key left on {node.name}"
