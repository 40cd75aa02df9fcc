"""Shared fixtures: real sandboxes, started once per spec per session, and always stopped.

Cleanup happens in three places so that an interrupted run leaves no server behind: the
fixtures' finalizers (normal end, failing tests, Ctrl-C), `atexit` (the interpreter exits
without running finalizers) and a SIGTERM handler (a CI runner cancelling the job).
Tests never skip when redis-server is missing: `Sandbox.up` raises and the test fails.
"""

from __future__ import annotations

import atexit
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import pytest

from redis_audit.sandbox import Sandbox, SandboxSpec

# Every sandbox a fixture started and has not stopped yet, by state directory.
_LIVE: dict[Path, Sandbox] = {}


def _stop_all() -> None:
    while _LIVE:
        _, sandbox = _LIVE.popitem()
        sandbox.down()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _stop_all()
    # SystemExit unwinds through a `Sandbox.up` in progress, which stops what it had started.
    raise SystemExit(128 + signum)


atexit.register(_stop_all)
signal.signal(signal.SIGTERM, _on_sigterm)


def start_tracked(spec: SandboxSpec, state_dir: Path) -> Sandbox:
    sandbox = Sandbox.up(spec, state_dir)
    _LIVE[sandbox.state_dir] = sandbox
    return sandbox


def stop_tracked(sandbox: Sandbox) -> None:
    _LIVE.pop(sandbox.state_dir, None)
    sandbox.down()


class SandboxPool:
    """Starts each distinct spec once per session; tests must not damage these (use fresh_sandbox)."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._started: dict[SandboxSpec, Sandbox] = {}

    def get(self, spec: SandboxSpec) -> Sandbox:
        if spec not in self._started:
            name = f"sandbox-{spec.engine}-{spec.topology}-{spec.preset}{'-tls' if spec.tls else ''}"
            self._started[spec] = start_tracked(spec, self._tmp.mktemp(name))
        return self._started[spec]

    def stop_all(self) -> None:
        for sandbox in self._started.values():
            stop_tracked(sandbox)
        self._started.clear()


@pytest.fixture(scope="session")
def sandboxes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxPool]:
    pool = SandboxPool(tmp_path_factory)
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture
def fresh_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[SandboxSpec], Sandbox]]:
    """A factory for sandboxes a test may damage (stop nodes, change config); stopped at test end."""
    started: list[Sandbox] = []

    def start(spec: SandboxSpec) -> Sandbox:
        sandbox = start_tracked(spec, tmp_path_factory.mktemp(f"fresh-{spec.topology}"))
        started.append(sandbox)
        return sandbox

    try:
        yield start
    finally:
        for sandbox in started:
            stop_tracked(sandbox)


THIRD_PARTY_PACK = Path(__file__).parent / "fixtures" / "thirdparty_pack"


@pytest.fixture(scope="session")
def plugin_path(tmp_path_factory):
    """The third-party pack, installed (not editable) into its own folder."""
    target = tmp_path_factory.mktemp("plugin-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
         str(target), str(THIRD_PARTY_PACK)],
        check=True, capture_output=True,
    )
    return target
