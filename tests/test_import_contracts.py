"""The layering contracts (pyproject.toml, [tool.importlinter]) hold, and a breach fails with its import chain.

scripts/test runs `lint-imports` on the tree; these tests show the contracts can fail: each adds one
forbidden import to a copy of the sources and asserts lint-imports exits non-zero naming the import.
"""

from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import redis_audit

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
# What a check pack may import of redis_audit: the check API, the snapshot and the pure facts.
CHECKS_MAY_IMPORT = {"check", "check_rules", "grading", "model", "snapshot", "topology", "jsonvalue", "profile",
                     "wording", "facts"}


def _contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # the copy, ahead of the installed tree
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")], cwd=tree,
                          env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the sources laid out as installed: checks/ as the package redis_audit_checks."""
    root = tmp_path_factory.mktemp("tree")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "redis_audit", root / "redis_audit", ignore=ignore)
    shutil.copytree(ROOT / "checks", root / "redis_audit_checks", ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_copy_keeps_every_contract(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(_contracts())} kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "chain"), [
    # The snapshot (data) may not reach the connections: a layer breach, named with its chain.
    ("redis_audit/snapshot.py", "from redis_audit.client import open_client",
     "redis_audit.snapshot -> redis_audit.client"),
    # A check opens no connection.
    ("redis_audit_checks/memory.py", "import redis_audit.collect.base",
     "redis_audit_checks.memory -> redis_audit.collect.base"),
    # Production code never depends on the sandbox.
    ("redis_audit/failover/trigger.py", "from redis_audit.sandbox import Sandbox",
     "redis_audit.failover.trigger -> redis_audit.sandbox"),
    # The pure facts open no socket.
    ("redis_audit/facts/parse.py", "import socket", "redis_audit.facts.parse -> socket"),
    # A rendering never reaches the network.
    ("redis_audit/output/table.py", "from redis_audit.collect import node_collectors",
     "redis_audit.output.table -> redis_audit.collect"),
])
def test_a_forbidden_import_fails_with_its_chain(tree: Path, module: str, line: str, chain: str) -> None:
    path = tree / module
    original = path.read_text()
    try:
        path.write_text(original + f"\n{line}  # noqa\n")
        result = _lint(tree)
    finally:
        path.write_text(original)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout.upper() and chain in result.stdout, result.stdout


def test_the_checks_contract_names_every_other_module() -> None:
    """A new module of redis_audit is either open to check packs or forbidden to them, never forgotten."""
    forbidden = {str(m).removeprefix("redis_audit.") for m in _contracts()["checks"]["forbidden_modules"]  # type: ignore[attr-defined]
                 if str(m).startswith("redis_audit.")}
    everything = {m.name for m in pkgutil.iter_modules(redis_audit.__path__)}
    assert forbidden | CHECKS_MAY_IMPORT == everything
    assert not forbidden & CHECKS_MAY_IMPORT
