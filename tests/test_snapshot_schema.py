"""Snapshots are validated on load: a wrong structure is refused with one line and exit 2, never judged."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from redis_audit.sandbox import SandboxSpec
from redis_audit.schemas import SchemaViolation, load_schema
from redis_audit.snapshot import SNAPSHOT_SCHEMA, Snapshot, parse_snapshot
from redis_audit.topology import Role
from tests.checks.support import snapshot as collect
from tests.judging import snapshot as hand_built


def redis_audit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "redis_audit", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def real_snapshot(sandboxes) -> dict[str, Any]:
    """What a run against a real Sentinel deployment writes (every kind of fact, errors included)."""
    sandbox = sandboxes.get(SandboxSpec(topology="sentinel"))
    return collect(sandbox).to_json()


def test_the_schema_is_package_data_and_matches_the_version():
    schema = load_schema("snapshot")
    assert schema["properties"]["schema"]["const"] == SNAPSHOT_SCHEMA


def test_real_snapshots_validate(real_snapshot):
    loaded = Snapshot.from_json(parse_snapshot(json.dumps(real_snapshot)))
    assert loaded.to_json() == real_snapshot
    assert any(n.role is Role.SENTINEL for n in loaded.nodes.values())


def _structural_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path of the snapshot's own structure; fact values are free JSON and are not mutated."""
    yield path
    if path and path[-1] == "value":
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _structural_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _structural_paths(item, (*path, index))


def _set(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    mutated = copy.deepcopy(document)
    target: Any = mutated
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return mutated


def _wrong_type(value: Any) -> Any:
    """A value of another JSON type than `value` that no schema slot of its kind accepts."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, str | int):
        return ["edited by hand"]
    return "edited by hand"


def test_every_structural_field_with_a_wrong_type_is_refused(real_snapshot):
    paths = [p for p in _structural_paths(real_snapshot) if p and p[-1] != "value"]
    nullable = {"user", "masterName", "name", "shard", "runId", "nodeId", "primary", "role"}
    checked = 0
    for path in paths:
        original: Any = real_snapshot
        for step in path:
            original = original[step]
        if original is None and path[-1] in nullable:
            continue
        mutated = _set(real_snapshot, path, _wrong_type(original))
        with pytest.raises(SchemaViolation) as refused:
            parse_snapshot(json.dumps(mutated))
        assert "\n" not in str(refused.value)
        checked += 1
    assert checked > 100  # the whole structure was walked, not a handful of fields


def test_unknown_fields_and_bad_values_are_refused(real_snapshot):
    node = next(iter(real_snapshot["nodes"]))
    hostile = {
        "nodes edited by hand": _set(real_snapshot, ("nodes",), "edited by hand"),
        "unknown schema version": _set(real_snapshot, ("schema",), "redis-audit/snapshot/v9"),
        "missing schema": {k: v for k, v in real_snapshot.items() if k != "schema"},
        "unknown top-level key": _set(real_snapshot, ("extra",), 1),
        "unknown role": _set(real_snapshot, ("nodes", node, "role"), "leader"),
        "address without a port": _set(real_snapshot, ("nodes", node, "address"), "localhost"),
        "fact without value or error": _set(real_snapshot, ("nodes", node, "facts", "info"), {}),
        "fact with both": _set(real_snapshot, ("nodes", node, "facts", "info"), {"value": 1, "error": None}),
        "unknown error kind": _set(real_snapshot, ("nodes", node, "facts", "info"),
                                   {"error": {"kind": "oops", "command": "info", "message": "x"}}),
        "float in a fact": _set(real_snapshot, ("nodes", node, "facts", "info"), {"value": 1.5}),
        "huge integer": _set(real_snapshot, ("nodes", node, "facts", "info"), {"value": 2**60}),
        "deployment kind": _set(real_snapshot, ("topology", "kind"), "mesh"),
        "timestamp": _set(real_snapshot, ("startedAt",), "yesterday"),
        "a list at the top": [real_snapshot],
    }
    for name, document in hostile.items():
        with pytest.raises(SchemaViolation):
            parse_snapshot(json.dumps(document))
        assert name


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,
    '{"schema": ' + "[" * 5000 + "]" * 5000 + "}",
    '{"a": NaN}',
    "not json",
    "",
])
def test_hostile_texts_are_refused_without_recursing(text):
    with pytest.raises(SchemaViolation):
        parse_snapshot(text)


@pytest.mark.parametrize(("content", "message"), [
    ('{"schema": "redis-audit/snapshot/v1", "nodes": "edited by hand"}', "is not a redis-audit snapshot"),
    ("[" * 50_000 + "]" * 50_000, "nested deeper than"),
    ('{"schema": "redis-audit/snapshot/v0"}', "unsupported snapshot schema"),
])
def test_run_from_a_hostile_snapshot_exits_2_with_one_line(tmp_path: Path, content: str, message: str):
    path = tmp_path / "snap.json"
    path.write_text(content)
    result = redis_audit("run", "--from-snapshot", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and result.stdout == ""
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_hand_built_snapshot_still_round_trips():
    snap = hand_built(nodes={"127.0.0.1:7000": {"info": {"server": {"redis_version": "7.0.15"}}}})
    assert Snapshot.from_json(parse_snapshot(json.dumps(snap.to_json()))).to_json() == snap.to_json()
