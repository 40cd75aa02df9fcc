"""Sandboxes for the census tests: fresh ones, because every test loads its own data."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from redis_audit.sandbox import Sandbox, SandboxSpec


@pytest.fixture
def standalone(fresh_sandbox: Callable[[SandboxSpec], Sandbox]) -> Sandbox:
    return fresh_sandbox(SandboxSpec(topology="standalone"))


@pytest.fixture
def cluster(fresh_sandbox: Callable[[SandboxSpec], Sandbox]) -> Sandbox:
    return fresh_sandbox(SandboxSpec(topology="cluster", cluster_primaries=3, cluster_replicas=0))
