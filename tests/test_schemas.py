"""The published JSON Schemas (schemas/ = redis_audit/schemas/): each is valid, versioned like the document it
describes, and holds for what redis-audit writes: the JSON rendering of every verdict, every committed sample
(report.json and the DSSE payload), `checks list --format json`. A deliberately broken document fails."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from redis_audit.cli.main import main
from redis_audit.cli.signed import render
from redis_audit.profile import load_profile
from redis_audit.schemas import SchemaViolation, load_schema, schema_names, validate
from redis_audit.signing.intoto import build_statement
from tests.reportkit import ALL_PASS, make_report

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "sample_reports").glob("*/report.json"))
DOCUMENT_SCHEMA = {"report": "redis-audit/report/v2", "snapshot": "redis-audit/snapshot/v1",
                   "latency-result": "redis-audit/latency-result/v1",
                   "failover-result": "redis-audit/failover-result/v1", "checks": "redis-audit/checks/v1"}


def test_every_schema_is_valid_and_versioned_with_the_field_it_describes() -> None:
    assert set(schema_names()) == {*DOCUMENT_SCHEMA, "readiness-statement"}
    for name in schema_names():
        schema = load_schema(name)
        Draft202012Validator.check_schema(schema)
        version = DOCUMENT_SCHEMA.get(name, "readiness/v2").rsplit("/", 1)[1]  # the statement follows the report
        assert schema["$id"] == f"urn:redis-audit:schema:{name}:{version}"
        if name in DOCUMENT_SCHEMA:
            assert schema["properties"]["schema"] == {"const": DOCUMENT_SCHEMA[name]}


def test_the_user_facing_schemas_directory_is_the_package_data() -> None:
    top = ROOT / "schemas"
    assert top.is_symlink() and top.resolve() == (ROOT / "redis_audit" / "schemas").resolve()
    assert {p.name for p in top.glob("*.schema.json")} == {f"{n}.schema.json" for n in schema_names()}


@pytest.mark.parametrize("verdict", ["READY", "NOT_READY", "INCONCLUSIVE", "signoff"])
def test_the_json_rendering_validates(verdict: str) -> None:
    findings: list[Any] = {
        "READY": [*ALL_PASS, ("CLI-003", "WARN", "medium", "deployment", "x")],
        "NOT_READY": [*ALL_PASS, ("MEM-002", "FAIL", "high", "10.0.0.1:6379", "no cap")],
        "INCONCLUSIVE": [s for s in ALL_PASS if s[0] != "AUTH-001"] + [("AUTH-001", "ERROR", "critical",
                                                                        "10.0.0.1:6379", "Timeout")],
        "signoff": ALL_PASS}[verdict]
    profile = load_profile(Path("signoff")) if verdict == "signoff" else None
    report = make_report(findings, profile=profile).to_json()
    statement = build_statement("redis://payments-cache", report["target"]["fingerprint"], report)  # type: ignore
    rendered = json.loads(render(statement.predicate, "json"))
    validate("report", rendered)  # unsigned: `run --format json` prints the report itself
    validate("readiness-statement", statement.to_json())


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.parent.name)
def test_every_sample_report_and_its_signed_payload_validate(sample: Path) -> None:
    statement = json.loads(sample.read_text())
    validate("readiness-statement", statement)
    validate("report", statement["predicate"])
    envelope = json.loads((sample.parent / "report.dsse.json").read_text())
    validate("readiness-statement", json.loads(base64.b64decode(envelope["payload"])))


def test_checks_list_json_validates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checks", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    validate("checks", listed)
    assert len(listed["checks"]) > 50


def _broken(document: dict[str, Any], path: tuple[str | int, ...], value: object = None, delete: bool = False
            ) -> dict[str, Any]:
    broken = copy.deepcopy(document)
    parent: Any = broken
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return broken


@pytest.mark.parametrize(("path", "value", "delete", "where"), [
    (("verdict",), None, True, "top level"),
    (("verdict", "decision"), "PROBABLY_READY", False, "verdict/decision"),
    (("findings", 0, "status"), "OK", False, "findings/0/status"),
    (("findings", 0, "findingId"), "not-an-id", False, "findings/0/findingId"),
    (("counts", "PASS"), 1.5, False, "counts/PASS"),
    (("run", "finishedAt"), "yesterday", False, "run/finishedAt"),
    (("topology", "kind"), "mesh", False, "topology/kind"),
    (("schema",), "redis-audit/report/v1", False, "schema"),
    (("evidence", "source"), "guessed", False, "evidence/source"),
    (("profile", "name"), "signoff", False, "profile"),
    (("surprise",), 1, False, "top level"),
])
def test_a_broken_report_fails(path: tuple[str | int, ...], value: object, delete: bool, where: str) -> None:
    report = json.loads(SAMPLES[0].read_text())["predicate"]
    with pytest.raises(SchemaViolation, match=f"^{where}"):
        validate("report", _broken(report, path, value, delete))


def test_a_broken_statement_checks_list_and_probe_results_fail(capsys: pytest.CaptureFixture[str]) -> None:
    statement = json.loads(SAMPLES[0].read_text())
    with pytest.raises(SchemaViolation, match="predicateType"):
        validate("readiness-statement", _broken(statement, ("predicateType",), "https://example.com/v1"))
    with pytest.raises(SchemaViolation, match="predicate/verdict"):
        validate("readiness-statement", _broken(statement, ("predicate", "verdict"), None, delete=False))
    assert main(["checks", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    with pytest.raises(SchemaViolation, match="checks/0/severity"):
        validate("checks", _broken(listed, ("checks", 0, "severity"), "urgent"))
    with pytest.raises(SchemaViolation, match="status"):
        validate("failover-result", {"schema": "redis-audit/failover-result/v1", "mode": "plain", "budgetS": 60,
                                     "status": "fine", "reasons": []})
    with pytest.raises(SchemaViolation, match="top level"):
        validate("latency-result", {"schema": "redis-audit/latency-result/v1", "tool": "0.1.0"})
