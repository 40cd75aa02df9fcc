"""Check packs come from the entry-point group, built-in and third-party alike."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from redis_audit.check import CheckPack, Scope
from redis_audit.model import Severity
from redis_audit.registry import LoadedPack, RegistryError, all_checks, discover_packs

META = dict(title="t", severity=Severity.LOW, category="audit", verifies="v", risk="r", remediation="m",
            scope=Scope.DEPLOYMENT)


def _pack(name: str, *ids: str) -> LoadedPack:
    pack = CheckPack(name)
    for check_id in ids:
        pack.check(id=check_id, **META)(lambda ctx: iter(()))
    return LoadedPack(pack, name, "1", name)


def test_builtin_pack_is_registered_through_the_entry_point():
    packs = discover_packs()
    builtin = next(p for p in packs if p.pack.name == "builtin")
    assert builtin.distribution == "redis-audit"
    assert {"AUTH-001", "NET-002", "TLS-001", "MEM-001", "MEM-004", "HA-001"} <= {c.id for c in builtin.pack.checks}


def test_two_checks_with_one_id_is_an_error():
    with pytest.raises(RegistryError, match="X-DUP-001 is defined by both pack 'a' and pack 'b'"):
        all_checks([_pack("a", "X-DUP-001"), _pack("b", "X-DUP-001")])


def test_extending_an_unknown_check_is_an_error():
    pack = CheckPack("ext")
    pack.extend("X-NONE-001", applies=lambda snap: True)(lambda ctx: iter(()))
    with pytest.raises(RegistryError, match="extends check X-NONE-001"):
        all_checks([LoadedPack(pack, "ext", "1", "ext")])


def cli(plugin: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(plugin)}
    return subprocess.run([sys.executable, "-m", "redis_audit", *args], env=env, capture_output=True, text=True)


def test_installed_plugin_pack_is_listed_with_its_source(plugin_path):
    listed = json.loads(cli(plugin_path, "checks", "list", "--format", "json").stdout)["checks"]
    sources = {c["id"]: c["source"] for c in listed}
    assert sources["X-ACME-001"] == "acme" and sources["AUTH-001"] == "builtin"
