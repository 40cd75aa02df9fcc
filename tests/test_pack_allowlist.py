"""Third-party packs run in-process: a run can restrict them to the built-in pack or to trusted digests,
refusing anything else before any of its code runs; the report records every pack's digest.

The third-party pack (tests/fixtures/thirdparty_pack) is really installed, in its own folder; with
ACME_IMPORT_MARKER set, importing it leaves a file behind, so "not imported" is observable.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from redis_audit.registry import installed_packs
from redis_audit.signing.keys import KeyPairPaths, generate_keypair
from redis_audit.snapshot import Snapshot, TargetInfo
from redis_audit.topology import DeploymentKind, Topology
from redis_audit.waivers import rfc3339


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> KeyPairPaths:
    return generate_keypair(tmp_path_factory.mktemp("packs-key"))


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    target = TargetInfo(url="redis://127.0.0.1:1", kind="redis", seeds=("127.0.0.1:1",), tls=False,
                        tls_verify=True, user=None, name="saved")
    collected = rfc3339(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    path = tmp_path / "snap.json"
    Snapshot(target, Topology(DeploymentKind.STANDALONE), {}, collected, collected, "0.1.0").save(path)
    return path


class Cli:
    def __init__(self, plugin: Path, marker: Path) -> None:
        self.env = {**os.environ, "PYTHONPATH": str(plugin), "ACME_IMPORT_MARKER": str(marker)}
        self.marker = marker

    def __call__(self, *args: object) -> subprocess.CompletedProcess[str]:
        self.marker.unlink(missing_ok=True)
        return subprocess.run([sys.executable, "-m", "redis_audit", *map(str, args)], env=self.env,
                              capture_output=True, text=True, check=False)

    @property
    def imported(self) -> bool:
        return self.marker.exists()

    def digests(self) -> dict[str, str]:
        """`checks packs`: name -> digest (computed without importing any pack)."""
        lines = self("checks", "packs").stdout.splitlines()
        assert not self.imported
        return {line.split()[1]: line.split()[0] for line in lines}


@pytest.fixture
def cli(plugin_path: Path, tmp_path: Path) -> Cli:
    return Cli(plugin_path, tmp_path / "acme-imported")


def test_every_pack_in_the_report_carries_its_distribution_version_and_digest(cli: Cli, snapshot: Path) -> None:
    digests = cli.digests()
    result = cli("run", "--from-snapshot", snapshot, "--format", "json")
    assert cli.imported, result.stderr
    packs = {p["name"]: p for p in json.loads(result.stdout)["tool"]["packs"]}
    assert packs["builtin"]["distribution"] == "redis-audit" and packs["builtin"]["package"] == "redis_audit_checks"
    assert packs["acme"]["distribution"] == "acme-redis-checks" and packs["acme"]["version"] == "1.0.0"
    assert {name: p["digest"] for name, p in packs.items()} == digests
    # In this process the built-in pack's digest is the same: it is computed from its files.
    assert next(p.digest for p in installed_packs() if p.builtin) == digests["builtin"]


def test_packs_builtin_does_not_import_another_pack(cli: Cli, snapshot: Path) -> None:
    result = cli("run", "--from-snapshot", snapshot, "--format", "json", "--packs", "builtin")
    assert not cli.imported and "check pack acme (acme-redis-checks 1.0.0, sha256:" in result.stderr
    report = json.loads(result.stdout)
    assert [p["name"] for p in report["tool"]["packs"]] == ["builtin"]
    assert not [f for f in report["findings"] if f["checkId"].startswith("X-ACME")]


def test_a_trusted_list_refuses_an_unlisted_pack_before_importing_it(cli: Cli, snapshot: Path,
                                                                     tmp_path: Path) -> None:
    digests = cli.digests()
    trusted = tmp_path / "trusted-packs.txt"
    trusted.write_text(f"# vetted packs\n{digests['builtin']}  builtin\n")
    result = cli("run", "--from-snapshot", snapshot, "--packs", trusted)
    assert result.returncode == 2 and result.stdout == "" and result.stderr.count("\n") == 1
    assert f"check pack acme (acme-redis-checks 1.0.0, {digests['acme']}) is not in the trusted list" in result.stderr
    assert not cli.imported
    trusted.write_text(f"{digests['acme']}  acme  acme-redis-checks 1.0.0\n")
    result = cli("run", "--from-snapshot", snapshot, "--packs", trusted, "--format", "json")
    assert cli.imported and any(f["checkId"] == "X-ACME-001" for f in json.loads(result.stdout)["findings"])
    # A changed pack no longer matches its vetted digest.
    trusted.write_text(f"sha256:{'0' * 64}  acme, an older release\n")
    assert cli("run", "--from-snapshot", snapshot, "--packs", trusted).returncode == 2 and not cli.imported


def test_signoff_runs_load_the_builtin_pack_only_unless_a_trusted_list_says_more(
        cli: Cli, snapshot: Path, key: KeyPairPaths, tmp_path: Path) -> None:
    envelope = tmp_path / "r.dsse.json"
    signoff = ("run", "--from-snapshot", snapshot, "--profile", "builtin:signoff", "--sign-with", key.private_key,
               "--output", envelope)
    result = cli(*signoff)
    assert result.returncode in (1, 3) and not cli.imported, result.stderr
    result = cli(*signoff, "--packs", "all")
    assert result.returncode == 2 and "a signoff run loads the built-in pack" in result.stderr and not cli.imported
    # verify --trusted-packs: the relying party's list of vetted pack digests.
    digests = cli.digests()
    builtin_only, with_acme = tmp_path / "builtin.txt", tmp_path / "all.txt"
    builtin_only.write_text(f"{digests['builtin']}\n")
    with_acme.write_text(f"{digests['builtin']}\n{digests['acme']}\n")
    acme_run = tmp_path / "acme.dsse.json"
    assert cli("run", "--from-snapshot", snapshot, "--run-mode", "pre-promotion", "--sign-with", key.private_key,
               "--output", acme_run).returncode in (1, 3)
    result = cli("verify", acme_run, "--key", key.public_key, "--trusted-packs", builtin_only)
    assert result.returncode == 5 and "check pack 'acme' (acme-redis-checks 1.0.0" in result.stderr
    assert cli("verify", acme_run, "--key", key.public_key, "--trusted-packs", with_acme).returncode in (1, 3)
    assert cli("verify", envelope, "--key", key.public_key, "--trusted-packs", builtin_only).returncode in (1, 3)
