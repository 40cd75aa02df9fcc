"""Checks are validated when they register, as pluggy checks a hook implementation against its spec: a
broken check in any pack (third-party ones included) stops the load with one line naming the pack and
the check, exit 2, instead of an ERROR on every node at judge time.

The broken checks live in a temporary third-party pack, really installed (pip --target) like
tests/fixtures/thirdparty_pack; its package imports one case module, chosen by BROKEN_CASE.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from redis_audit.check import CheckPack, Scope
from redis_audit.facts.names import FACT_NAMES
from redis_audit.model import Severity
from redis_audit.registry import RegistryError, all_checks, discover_packs

PACKAGE = "broken_redis_checks"
PACK = "check pack 'broken' (broken-redis-checks 1.0.0)"

INIT = '''
import importlib
import os

from redis_audit.check import CheckPack, Scope
from redis_audit.model import Severity

PACK = CheckPack("broken")
META = dict(title="A check", severity=Severity.LOW, category="audit", verifies="v", risk="r", remediation="m",
            scope=Scope.DEPLOYMENT)

importlib.import_module(f"{__name__}.{os.environ['BROKEN_CASE']}")
'''

HEADER = '''
from redis_audit.check import Scope
from redis_audit.model import Severity

from . import META, PACK
'''

# case -> (the case module's code, the one line the load fails with)
BROKEN: dict[str, tuple[str, str]] = {
    "node_check_without_node": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "scope": Scope.NODE})
        def judge(ctx):
            yield from ()
        ''', "X-BROKEN-001 (judge): takes (ctx), but a node-scoped check is called as (ctx, node)"),
    "deployment_check_with_node": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001"})
        def judge(ctx, node):
            yield from ()
        ''', "X-BROKEN-001 (judge): takes (ctx, node), but a deployment-scoped check is called as (ctx)"),
    "parameter_names": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "scope": Scope.NODE})
        def judge(context, node):
            yield from ()
        ''', "X-BROKEN-001 (judge): takes (context, node), but a node-scoped check is called as (ctx, node)"),
    "extra_parameter": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001"})
        def judge(ctx, limit=3):
            yield from ()
        ''', "X-BROKEN-001 (judge): takes (ctx, limit), but a deployment-scoped check is called as (ctx)"),
    "star_args": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "scope": Scope.NODE})
        def judge(ctx, *nodes):
            yield from ()
        ''', "X-BROKEN-001 (judge): takes (ctx, *nodes), but a node-scoped check is called as (ctx, node)"),
    "not_a_function": ('''
        PACK.check(**{**META, "id": "X-BROKEN-001"})("judge")
        ''', "X-BROKEN-001 ('judge'): is a str, not a function: a deployment-scoped check is called as (ctx)"),
    "id_not_in_the_catalogue_pattern": ('''
        @PACK.check(**{**META, "id": "MEM-1"})
        def judge(ctx):
            yield from ()
        ''', "'MEM-1' (judge): the id must be a catalogue id like 'MEM-001' (2-6 capitals, 3 digits) or a "
             "third-party id like 'X-ACME-001'"),
    "id_in_lower_case": ('''
        @PACK.check(**{**META, "id": "x-broken-001"})
        def judge(ctx):
            yield from ()
        ''', "'x-broken-001' (judge): the id must be a catalogue id like 'MEM-001' (2-6 capitals, 3 digits) or "
             "a third-party id like 'X-ACME-001'"),
    "severity_outside_the_enum": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "severity": "urgent"})
        def judge(ctx):
            yield from ()
        ''', "X-BROKEN-001 (judge): unknown severity 'urgent' (known: critical, high, medium, low, info)"),
    "category_outside_the_set": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "category": "performance"})
        def judge(ctx):
            yield from ()
        ''', "X-BROKEN-001 (judge): unknown category 'performance' (known: network, tls, authentication, acl, "
             "hardening, secrets, encryption, availability, sentinel, cluster, memory, limiter, latency, client, "
             "persistence, host, monitoring, audit)"),
    "category_misspelt": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "category": "memroy"})
        def judge(ctx):
            yield from ()
        ''', "X-BROKEN-001 (judge): unknown category 'memroy' (did you mean 'memory'?)"),
    "role_unknown": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "scope": Scope.NODE, "roles": frozenset({"master"})})
        def judge(ctx, node):
            yield from ()
        ''', "X-BROKEN-001 (judge): unknown role 'master' (known: primary, replica, sentinel)"),
    "roles_empty": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "scope": Scope.NODE, "roles": frozenset()})
        def judge(ctx, node):
            yield from ()
        ''', "X-BROKEN-001 (judge): roles is empty: the check would never run"),
    "topology_unknown": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "topologies": frozenset({"standalone", "galaxy"})})
        def judge(ctx):
            yield from ()
        ''', "X-BROKEN-001 (judge): unknown deployment kind 'galaxy' (known: standalone, replicated, sentinel, "
             "cluster, unknown)"),
    "scope_unknown": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "scope": "shard"})
        def judge(ctx):
            yield from ()
        ''', "X-BROKEN-001 (judge): unknown scope 'shard' (known: node, deployment)"),
    "needs_a_string": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "needs": "config"})
        def judge(ctx):
            yield from ()
        ''', "X-BROKEN-001 (judge): needs must be a tuple of fact names, not 'config'"),
    "needs_an_unknown_fact": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "needs": ("info", "confg")})
        def judge(ctx):
            yield from ()
        ''', "X-BROKEN-001 (judge): needs fact 'confg', which no collector provides; did you mean 'config'?"),
    "needs_a_fact_nothing_resembles": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "needs": ("kubernetes.pods",)})
        def judge(ctx):
            yield from ()
        ''', "X-BROKEN-001 (judge): needs fact 'kubernetes.pods', which no collector provides "
             "(the facts: redis_audit/facts/names.py)"),
    "reference_without_a_scheme": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "references": ("redis.io/docs/latest/",)})
        def judge(ctx):
            yield from ()
        ''', "X-BROKEN-001 (judge): reference 'redis.io/docs/latest/' is not a well-formed http(s) URL"),
    "reference_with_a_note": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "references": ("https://example.com/a.c (main)",)})
        def judge(ctx):
            yield from ()
        ''', "X-BROKEN-001 (judge): reference 'https://example.com/a.c (main)' is not a well-formed http(s) URL"),
    "references_a_string": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "references": "https://example.com/"})
        def judge(ctx):
            yield from ()
        ''', "X-BROKEN-001 (judge): references must be a tuple of URLs"),
    "unknown_metadata": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "need": ("info",)})
        def judge(ctx):
            yield from ()
        ''', "X-BROKEN-001 (judge): unknown metadata need"),
    "missing_metadata": ('''
        @PACK.check(**{k: v for k, v in META.items() if k != "risk"}, id="X-BROKEN-001")
        def judge(ctx):
            yield from ()
        ''', "X-BROKEN-001 (judge): missing metadata risk"),
    "empty_title": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "title": " "})
        def judge(ctx):
            yield from ()
        ''', "X-BROKEN-001 (judge): title is empty"),
    "version_zero": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001", "version": 0})
        def judge(ctx):
            yield from ()
        ''', "X-BROKEN-001 (judge): version must be a positive integer, not 0"),
    "defined_twice": ('''
        @PACK.check(**{**META, "id": "X-BROKEN-001"})
        def judge(ctx):
            yield from ()

        @PACK.check(**{**META, "id": "X-BROKEN-001"})
        def judge_again(ctx):
            yield from ()
        ''', "X-BROKEN-001 (judge_again): defined twice in this pack"),
    "an_id_the_builtin_pack_defines": ('''
        @PACK.check(**{**META, "id": "MEM-001"})
        def judge(ctx):
            yield from ()
        ''', "MEM-001 (judge): check id MEM-001 is defined by both pack 'builtin' and pack 'broken'"),
    "extension_of_an_unknown_id": ('''
        @PACK.extend("X-BROKEN-404", applies=lambda snapshot: True)
        def extend(ctx):
            yield from ()
        ''', "extend extends check X-BROKEN-404, which no loaded pack defines"),
    "extension_with_the_wrong_parameters": ('''
        @PACK.extend("MEM-001", applies=lambda snapshot: True, scope=Scope.NODE)
        def extend(ctx):
            yield from ()
        ''', "extension of MEM-001 (extend): takes (ctx), but a node-scoped check is called as (ctx, node)"),
    "extension_with_a_bad_id": ('''
        @PACK.extend("mem-001", applies=lambda snapshot: True)
        def extend(ctx):
            yield from ()
        ''', "extension of 'mem-001' (extend): extends 'mem-001': the id must be a catalogue id like 'MEM-001' "
             "(2-6 capitals, 3 digits) or a third-party id like 'X-ACME-001'"),
    "extension_without_applies": ('''
        @PACK.extend("MEM-001", applies=True)
        def extend(ctx):
            yield from ()
        ''', "extension of MEM-001 (extend): applies is a bool, not a function of the snapshot"),
}

CLEAN = '''
@PACK.check(**{**META, "id": "X-BROKEN-001", "scope": Scope.NODE, "needs": ("info", "keyspace.census"),
               "roles": frozenset({"primary"}), "topologies": frozenset({"standalone"}), "severity": "high",
               "references": ("https://redis.io/docs/latest/",)})
def judge(ctx, node):
    yield from ()


@PACK.extend("MEM-001", applies=lambda snapshot: True)
def from_elsewhere(ctx):
    yield from ()
'''


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary pack, with a module per case, installed (not editable) into its own folder."""
    source = tmp_path_factory.mktemp("broken-pack")
    package = source / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text(INIT)
    for case, (code, _) in [*BROKEN.items(), ("clean", (CLEAN, ""))]:
        (package / f"{case}.py").write_text(HEADER + textwrap.dedent(code))
    (source / "pyproject.toml").write_text(textwrap.dedent(f'''
        [build-system]
        requires = ["setuptools>=70.1"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "broken-redis-checks"
        version = "1.0.0"

        [project.entry-points."redis_audit.checks"]
        broken = "{PACKAGE}:PACK"

        [tool.setuptools]
        packages = ["{PACKAGE}"]
        '''))
    site = tmp_path_factory.mktemp("broken-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
                    str(site), str(source)], check=True, capture_output=True)
    return site


@pytest.fixture
def installed(broken_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The pack on sys.path for one test; its modules forgotten afterwards, so the next case imports anew."""
    monkeypatch.syspath_prepend(str(broken_site))
    yield monkeypatch
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_check_stops_the_load_with_one_line_naming_pack_and_check(
        case: str, installed: pytest.MonkeyPatch) -> None:
    installed.setenv("BROKEN_CASE", case)
    with pytest.raises(RegistryError) as raised:
        discover_packs()
    assert str(raised.value) == f"{PACK}: {BROKEN[case][1]}"
    assert "\n" not in str(raised.value)


def test_a_clean_third_party_pack_loads_with_enum_values_given_as_text(installed: pytest.MonkeyPatch) -> None:
    installed.setenv("BROKEN_CASE", "clean")
    checks = {c.id: c for c in all_checks(discover_packs())}
    meta = checks["X-BROKEN-001"].meta
    assert meta.severity is Severity.HIGH and {str(r) for r in meta.roles} == {"primary"}
    assert [e.source for e in checks["MEM-001"].extensions] == ["broken"]


def test_the_cli_refuses_a_broken_pack_with_exit_2_and_one_line(broken_site: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(broken_site), "BROKEN_CASE": "node_check_without_node"}
    line = f"redis-audit: error: {PACK}: {BROKEN['node_check_without_node'][1]}\n"
    for command in (["checks", "list"], ["run", "--from-snapshot", str(tmp_path / "never-read.json")]):
        result = subprocess.run([sys.executable, "-m", "redis_audit", *command], env=env, capture_output=True,
                                text=True, check=False)
        assert (result.returncode, result.stdout, result.stderr) == (2, "", line), command


def test_the_builtin_pack_loads_clean_and_needs_only_provided_facts() -> None:
    packs = discover_packs()
    builtin = next(p for p in packs if p.pack.name == "builtin").pack
    assert len(builtin.checks) > 70
    facts = FACT_NAMES
    for check in builtin.checks:
        assert set(check.meta.needs) <= facts, check.label


def test_an_extension_is_checked_when_it_registers_not_when_it_is_judged() -> None:
    pack = CheckPack("direct")
    with pytest.raises(ValueError, match=r"check pack 'direct': extension of TLS-001 \(.*<lambda>\): takes \(\), but"):
        pack.extend("TLS-001", applies=lambda snap: True, scope=Scope.DEPLOYMENT)(lambda: iter(()))
    assert pack.extensions == []
