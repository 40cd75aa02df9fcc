"""A plain `pip install .` (not editable) registers the built-in pack through the entry point."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_non_editable_install_registers_the_builtin_pack(tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(site),
         str(ROOT)],
        check=True, capture_output=True,
    )
    assert (site / "redis_audit_checks" / "memory.py").is_file()
    # Run from elsewhere with only the installed copy on the path: no source tree to fall back on.
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONSAFEPATH": "1"}
    listed = subprocess.run(
        [sys.executable, "-c", "from redis_audit.cli.main import main; raise SystemExit(main())", "checks", "list",
         "--format", "json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, check=True,
    )
    checks = {c["id"]: c["source"] for c in json.loads(listed.stdout)["checks"]}
    assert checks["MEM-004"] == "builtin" and checks["AUTH-001"] == "builtin"
    module = subprocess.run([sys.executable, "-c", "import redis_audit_checks; print(redis_audit_checks.__file__)"],
                            env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert module.stdout.startswith(str(site))


def test_the_project_configuration_reads_without_a_setuptools_warning(monkeypatch):
    """Every install (the demo's too) reads pyproject.toml: a deprecated form in it, such as the `license`
    table, prints a warning block on each build step. The license is an SPDX expression instead."""
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    monkeypatch.chdir(ROOT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    assert [str(w.message).splitlines()[0] for w in caught] == []
    assert dist.metadata.license_expression == "Apache-2.0"
