"""`--format policyreport`, validated against the published PolicyReport CRD's v1alpha2 OpenAPI schema and the
Kubernetes object rules the API server enforces beyond it (names, labels)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from redis_audit.cli.signed import render
from redis_audit.output.policyreport import dns_name, label_value
from tests.output.verdicts import EXPECTED, HOSTILE, VERDICTS, build
from tests.reportkit import DEPLOYMENT, FINISHED

CRD = Path(__file__).parent / "wgpolicyk8s.io_policyreports.yaml"
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@pytest.fixture(scope="module")
def schema() -> dict:
    crd = yaml.safe_load(CRD.read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha2")
    return version["schema"]["openAPIV3Schema"]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory):
    return build(tmp_path_factory.mktemp("policyreport"))


def assert_kubernetes_object(document: dict) -> None:
    meta = document["metadata"]
    assert len(meta["name"]) <= 253 and DNS_SUBDOMAIN.match(meta["name"]), meta["name"]
    for key, value in meta["labels"].items():
        assert len(value) <= 63 and LABEL_VALUE.match(value), (key, value)
    assert len(json.dumps(meta["annotations"])) < 256 * 1024


@pytest.mark.parametrize("kind", VERDICTS)
def test_every_verdict_is_a_valid_policy_report(reports, schema, kind: str) -> None:
    verified = reports[kind]
    document = json.loads(render(verified.report, "policyreport", signed=verified.context))
    jsonschema.validate(document, schema)
    assert_kubernetes_object(document)
    assert document["apiVersion"] == "wgpolicyk8s.io/v1alpha2" and document["kind"] == "PolicyReport"
    results = document["results"]
    findings = verified.report["findings"]
    assert len(results) == len(findings) + 1 + len(verified.report["verdict"]["signoff"]["blockers"])
    assert {r["source"] for r in results} == {"redis-audit"}
    assert all(r["timestamp"] == {"seconds": int(FINISHED.timestamp()), "nanos": 0} for r in results)
    verdict = next(r for r in results if r["policy"] == "redis-audit-verdict")
    assert verdict["result"] == {"READY": "pass", "NOT_READY": "fail", "INCONCLUSIVE": "error"}[EXPECTED[kind]]
    assert document["metadata"]["labels"]["redis-audit.dev/verdict"] == EXPECTED[kind]
    summary = {k: sum(1 for r in results if r["result"] == k) for k in ("pass", "fail", "warn", "error", "skip")}
    assert document["summary"] == summary
    # One result per finding, with the finding's id and the raw and effective statuses.
    by_id = {r["properties"]["findingId"]: r for r in results if "findingId" in r["properties"]}
    assert set(by_id) == {f["findingId"] for f in findings}
    assert document["metadata"]["annotations"]["redis-audit.dev/envelope-sha256"] == verified.context.envelope_sha256


def test_statuses_map_to_results_the_way_kyverno_reports_them(reports) -> None:
    results = json.loads(render(reports["waived"].report, "policyreport"))["results"]
    by_check = {(r["policy"], r["properties"].get("resource")): r for r in results}
    waived = by_check[("MEM-004", "10.0.0.2:6379")]
    assert waived["result"] == "skip" and waived["properties"]["waiver"] == "W-1"  # like a policy exception
    assert waived["properties"]["status"] == "FAIL" and waived["properties"]["effectiveStatus"] == "WAIVED"
    assert by_check[("LAT-003", "10.0.0.2:6379")]["result"] == "warn"
    assert by_check[("TLS-001", "10.0.0.1:6379")]["result"] == "pass"
    signoff = json.loads(render(reports["signoff"].report, "policyreport"))["results"]
    gated = [r for r in signoff if r["policy"] == "redis-audit-signoff"]
    # In the gating sign-off profile, a blocker that is not verified fails like one that is not met.
    assert gated and all(r["result"] in ("pass", "fail") for r in gated)
    assert any(r["properties"]["state"] == "not verified" and r["result"] == "fail" for r in gated)


def test_hostile_server_text_stays_data(reports, schema) -> None:
    document = json.loads(render(reports["not-ready"].report, "policyreport"))
    jsonschema.validate(document, schema)
    assert any(r["message"].startswith(HOSTILE) for r in document["results"])


@pytest.mark.parametrize("name", [DEPLOYMENT, "Payments_Cache", "payments cache (eu)", "é" * 300, "-", "a.b..c"])
def test_names_and_labels_from_any_deployment_name_are_valid_and_distinct(name: str) -> None:
    metadata_name = dns_name(f"redis-audit-{name}")
    assert len(metadata_name) <= 253 and DNS_SUBDOMAIN.match(metadata_name)
    value = label_value(name)
    assert len(value) <= 63 and LABEL_VALUE.match(value)
    assert dns_name("redis-audit-Payments_Cache") != dns_name("redis-audit-payments-cache")
