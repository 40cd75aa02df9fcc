"""The probe tests run against the shared standalone sandbox (good preset, plaintext).

Stalls come from the delaying proxy (`DelayProxy.stall`), not DEBUG SLEEP: the sandbox's servers have
enable-debug-command off, and that setting cannot change at runtime.
"""

from __future__ import annotations

from typing import Any

import pytest

from redis_audit.sandbox import Sandbox, SandboxNode, SandboxSpec
from redis_audit.secret import Secret
from redis_audit.target import Credentials

STANDALONE = SandboxSpec()


@pytest.fixture
def server(sandboxes: Any) -> Sandbox:
    """The shared standalone sandbox: read it, probe it, never change it (use fresh_sandbox for that)."""
    sandbox: Sandbox = sandboxes.get(STANDALONE)
    return sandbox


def primary(sandbox: Sandbox) -> SandboxNode:
    return sandbox.info.nodes_with_role("primary")[0]


def credentials(sandbox: Sandbox, user: str = "auditor") -> Credentials:
    """The auditor may not GET (the probe then skips GET with NOPERM); admin may, under the probe's policy."""
    return Credentials(user, Secret(sandbox.password(user)))
