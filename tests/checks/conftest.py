"""A fresh standalone sandbox for the checks that load their own data (MEM/RL)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from redis_audit.sandbox import Sandbox, SandboxSpec


@pytest.fixture
def standalone(fresh_sandbox: Callable[[SandboxSpec], Sandbox]) -> Sandbox:
    return fresh_sandbox(SandboxSpec(topology="standalone"))
