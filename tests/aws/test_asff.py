"""`--format asff` and `--upload-asff`: findings Security Hub's BatchImportFindings accepts, judged against the
shipped botocore service model (its shapes, enums and every length limit its documentation states)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters

from redis_audit.aws import clients
from redis_audit.aws.securityhub import BATCH_SIZE, upload_findings
from redis_audit.check import CheckMeta
from redis_audit.cli.main import main
from redis_audit.cli.signed import render
from redis_audit.exitcodes import UsageError
from redis_audit.judge import CheckResult
from redis_audit.model import Finding, Severity, Status
from redis_audit.output.asff import AsffAccount, findings
from tests.output.verdicts import ARN, EXPECTED, HOSTILE, VERDICTS, build
from tests.reportkit import FINISHED, make_report

from . import world
from .conftest import StubbedApi

MODEL = botocore.session.get_session().get_service_model("securityhub")
FINDING = MODEL.shape_for("AwsSecurityFinding")
ACCOUNT = AsffAccount("123456789012", "eu-west-1")


def plain(doc: str | None) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", doc or ""))


def documented_limits(doc: str) -> dict[str, int]:
    """The limits a member's documentation states, e.g. "Maximum length of 256", "up to 50 key-value pairs"."""
    found: dict[str, int] = {}
    for key, pattern in (("max", r"Maximum (?:length )?of (\d+)(?: length)?"),
                         ("items", r"Maximum number of (\d+) items"),
                         ("exact", r"Length Constraints: (\d+)\."), ("pairs", r"up to (\d+) key-value pairs"),
                         ("key", r"key can contain up to (\d+) characters"),
                         ("value", r"value can contain up to (\d+) characters")):
        match = re.search(pattern, doc)
        if match:
            found[key] = int(match.group(1))
    return found


def walk(value: Any, shape: Any, path: str, problems: list[str]) -> int:
    """Check `value` against the shape and the limits documented on it; returns how many limits were checked."""
    limits = documented_limits(plain(shape.documentation))
    checked = len(limits)
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), path
        problems += [f"{path}.{r} missing" for r in shape.required_members if r not in value]
        for key, item in value.items():
            if key not in shape.members:
                problems.append(f"{path}.{key} is not in the model")
                continue
            checked += walk(item, shape.members[key], f"{path}.{key}", problems)
    elif kind == "list":
        if len(value) > limits.get("items", 10**9):
            problems.append(f"{path}: {len(value)} items > {limits['items']}")
        for index, item in enumerate(value):
            checked += walk(item, shape.member, f"{path}[{index}]", problems)
    elif kind == "map":
        if len(value) > limits.get("pairs", 10**9):
            problems.append(f"{path}: {len(value)} pairs")
        for key, item in value.items():
            if len(key) > limits.get("key", 10**9) or len(item) > limits.get("value", 10**9):
                problems.append(f"{path}[{key[:40]}]: key {len(key)} / value {len(item)} characters")
            checked += walk(item, shape.value, f"{path}[{key}]", problems)
    elif kind == "string":
        assert isinstance(value, str), path
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} not in {shape.enum}")
        if len(value) > limits.get("max", 10**9) or ("exact" in limits and len(value) != limits["exact"]):
            problems.append(f"{path}: {len(value)} characters, limits {limits}")
    return checked


def assert_importable(batch: list[dict[str, Any]]) -> None:
    validate_parameters({"Findings": batch}, MODEL.operation_model("BatchImportFindings").input_shape)
    problems: list[str] = []
    checked = sum(walk(f, FINDING, f"[{f['Id']}]", problems) for f in batch)
    assert not problems, problems[:10]
    assert checked > 0
    assert all(len(json.dumps(f)) < 240 * 1024 for f in batch)  # "The maximum allowed size for a finding is 240 Kb"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory):
    return build(tmp_path_factory.mktemp("asff"))


def by_check(found: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f["ProductFields"].get("redis-audit/CheckId", f["GeneratorId"]),
             f["ProductFields"].get("redis-audit/Resource", "")): f for f in found}


@pytest.mark.parametrize("kind", VERDICTS)
def test_every_verdict_renders_findings_the_model_accepts(reports, kind: str) -> None:
    verified = reports[kind]
    found = json.loads(render(verified.report, "asff", signed=verified.context))
    assert_importable(found)
    verdict = found[0]
    assert verdict["GeneratorId"] == "redis-audit/verdict"
    assert verdict["Compliance"]["Status"] == {"READY": "PASSED", "NOT_READY": "FAILED",
                                               "INCONCLUSIVE": "NOT_AVAILABLE"}[EXPECTED[kind]]
    assert verdict["RecordState"] == "ACTIVE"
    # The account and region come from the deployment's ARN in the report.
    assert {f["AwsAccountId"] for f in found} == {"123456789012"}
    assert {f["ProductArn"] for f in found} == {
        "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default"}
    assert len(found) == 1 + len(verified.report["verdict"]["signoff"]["blockers"]) + len(verified.report["findings"])
    assert all(f["ProductFields"]["redis-audit/EnvelopeSha256"] == verified.context.envelope_sha256 for f in found)


def test_status_record_state_and_workflow(reports) -> None:
    found = by_check(findings(reports["waived"].report, ACCOUNT))
    waived = found[("MEM-004", "10.0.0.2:6379")]
    assert (waived["Compliance"]["Status"], waived["Workflow"]["Status"], waived["RecordState"]) == (
        "FAILED", "SUPPRESSED", "ACTIVE")
    assert "W-1" in waived["Note"]["Text"]
    passed = found[("AUTH-001", "10.0.0.1:6379")]
    assert (passed["Compliance"]["Status"], passed["RecordState"], passed["Severity"]["Label"]) == (
        "PASSED", "ARCHIVED", "INFORMATIONAL")
    warned = found[("LAT-003", "10.0.0.2:6379")]
    assert (warned["Compliance"]["Status"], warned["RecordState"], warned["Workflow"]["Status"]) == (
        "WARNING", "ACTIVE", "NEW")
    not_applicable = found[("CLU-001", "deployment")]
    assert (not_applicable["Compliance"]["Status"], not_applicable["RecordState"]) == ("NOT_AVAILABLE", "ARCHIVED")
    errored = by_check(findings(reports["inconclusive"].report, ACCOUNT))[("HA-001", "10.0.0.3:6379")]
    assert (errored["Compliance"]["Status"], errored["RecordState"]) == ("NOT_AVAILABLE", "ACTIVE")


def test_ids_are_stable_across_runs_so_a_rerun_updates_and_resolves(reports) -> None:
    """Run 1 fails MEM-004 on a node; run 2 (another run id, later) passes it: the same Id, now ARCHIVED."""
    failing = make_report([("AUTH-001", "PASS"), ("MEM-004", "FAIL", "high", "10.0.0.2:6379", "volatile-lru")])
    fixed = make_report([("AUTH-001", "PASS"), ("MEM-004", "PASS", "high", "10.0.0.2:6379", "allkeys-lru")],
                        finished=FINISHED.replace(day=5))
    first, second = (by_check(findings(r.to_json(), ACCOUNT)) for r in (failing, fixed))
    assert failing.run_id != fixed.run_id
    assert {k: f["Id"] for k, f in first.items()} == {k: f["Id"] for k, f in second.items()}
    before, after = first[("MEM-004", "10.0.0.2:6379")], second[("MEM-004", "10.0.0.2:6379")]
    assert before["RecordState"] == "ACTIVE" and after["RecordState"] == "ARCHIVED"
    assert after["Compliance"]["Status"] == "PASSED" and after["UpdatedAt"] > before["UpdatedAt"]
    other = make_report([("AUTH-001", "PASS")]).to_json()
    other["target"]["name"] = "sessions-cache"
    assert not {f["Id"] for f in findings(other, ACCOUNT)} & {f["Id"] for f in first.values()}


def test_security_hub_controls_and_resources_of_an_elasticache_deployment(reports) -> None:
    found = by_check(findings(reports["not-ready"].report, ACCOUNT))
    backups = found[("PERS-004", ARN)]
    assert backups["Compliance"]["SecurityControlId"] == "ElastiCache.1"
    assert backups["Compliance"]["RelatedRequirements"] == ["AWS Security Hub ElastiCache.1"]
    assert "Software and Configuration Checks/AWS Security Best Practices/ElastiCache.1" in backups["Types"]
    assert backups["Resources"] == [{"Type": "AwsElastiCacheReplicationGroup", "Id": ARN, "Partition": "aws",
                                     "Region": "eu-west-1"}]
    assert found[("HA-004", ARN)]["Compliance"]["SecurityControlId"] == "ElastiCache.3"
    assert found[("SEC-003", ARN)]["Compliance"]["SecurityControlId"] == "ElastiCache.2"
    assert found[("TLS-001", "10.0.0.1:6379")]["Compliance"]["SecurityControlId"] == "ElastiCache.5"
    # A node finding of the managed deployment names the replication group, with the node beside it.
    node = found[("MEM-004", "10.0.0.2:6379")]["Resources"][0]
    assert node["Id"] == ARN and node["Details"]["Other"]["redis-audit/resource"] == "10.0.0.2:6379"
    assert "SecurityControlId" not in found[("MEM-004", "10.0.0.2:6379")]["Compliance"]


def test_a_self_hosted_deployment_is_an_other_resource_and_needs_an_account() -> None:
    report = make_report([("TLS-001", "FAIL", "critical", "10.0.0.1:6379", "plaintext")]).to_json()
    with pytest.raises(UsageError, match="--asff-account-id"):
        render(report, "asff")
    found = by_check(json.loads(render(report, "asff", asff=ACCOUNT)))
    tls = found[("TLS-001", "10.0.0.1:6379")]
    assert tls["Resources"][0]["Type"] == "Other" and "SecurityControlId" not in tls["Compliance"]
    assert_importable(list(found.values()))


def huge(check_id: str, status: str, resource: str) -> CheckResult:
    meta = CheckMeta(id=check_id, title="T" * 150, severity=Severity.HIGH, category="audit", verifies="v", risk="r",
                     remediation="do this " * 300)
    return CheckResult(Finding(check_id, Status(status), resource, HOSTILE * 60, {"observed": "x" * 20_000}),
                       meta, "builtin")


def test_every_documented_limit_holds_for_oversized_text() -> None:
    # The limits are read from the shipped model's documentation; make sure the reading still finds them.
    assert documented_limits(plain(FINDING.members["Title"].documentation)) == {"max": 256}
    assert documented_limits(plain(FINDING.members["Description"].documentation)) == {"max": 1024}
    assert documented_limits(plain(MODEL.shape_for("Recommendation").members["Text"].documentation)) == {"max": 512}
    assert documented_limits(plain(FINDING.members["ProductFields"].documentation)) == {
        "pairs": 50, "key": 128, "value": 2048}
    report = make_report([], extra=[huge("MEM-001", "FAIL", "n" * 3000), huge("MEM-002", "WARN", ARN)]).to_json()
    report["target"]["name"] = "d" * 600
    found = findings(report, ACCOUNT)
    assert_importable(found)
    failed = next(f for f in found if f["ProductFields"].get("redis-audit/CheckId") == "MEM-001")
    assert len(failed["Remediation"]["Recommendation"]["Text"]) == 512 and failed["Description"].endswith("…")
    assert len({f["Id"] for f in found}) == len(found)


# -- upload ----------------------------------------------------------------------------------------

def recorder(api: StubbedApi) -> list[list[dict[str, Any]]]:
    """Every Findings list sent to BatchImportFindings, as the Stubber-backed client received it."""
    sent: list[list[dict[str, Any]]] = []
    api.stub("securityhub", "get_findings", {"Findings": []})  # registers the client; replaced below
    api.stubbers["securityhub"]._queue.clear()
    api._stub_clients["securityhub"].meta.events.register(
        "before-parameter-build.securityhub.BatchImportFindings",
        lambda params, **_: sent.append(copy.deepcopy(params["Findings"])))
    return sent


def stored_finding(report: dict[str, Any], check: str, **changes: Any) -> dict[str, Any]:
    found = next(f for f in findings(report, AsffAccount("123456789012", "us-east-1"))
                 if f["ProductFields"].get("redis-audit/CheckId") == check)
    found.update(ProductName="redis-audit", CompanyName="redis-audit", Region="us-east-1",
                 ProcessedAt="2026-05-01T00:00:00Z", WorkflowState="NEW", **changes)
    found["ProductFields"] = {**found["ProductFields"], "aws/securityhub/FindingId": "arn:x",
                              "aws/securityhub/ProductName": "Default"}
    return found


@pytest.fixture
def aws_run(moto, api: StubbedApi, monkeypatch: pytest.MonkeyPatch) -> StubbedApi:
    world.build(api)
    monkeypatch.setattr(clients.AwsApi, "open", classmethod(lambda cls, settings, deadline=None: api))
    return api


def test_run_upload_asff_imports_in_batches_keeps_history_and_archives_what_is_gone(aws_run, tmp_path, capsys):
    sent = recorder(aws_run)
    earlier = make_report([("ENC-001", "FAIL", "high", "arn:aws:elasticache:us-east-1:123456789012:"
                            "replicationgroup:rl", "off")]).to_json()
    earlier["target"]["name"] = "rl"
    gone = stored_finding(earlier, "ENC-001", Id="redis-audit/rl/NODE-001/retired", RecordState="ACTIVE")
    aws_run.stub("securityhub", "get_findings", {"Findings": [gone]})
    aws_run.stub("securityhub", "batch_import_findings", {"FailedCount": 0, "SuccessCount": 85, "FailedFindings": []})
    out = tmp_path / "asff.json"
    code = main(["run", "--aws-replication-group", "rl", "--format", "asff", "--output", str(out), "--upload-asff",
                 "--deadline", "10", "--connect-timeout", "0.5"])
    err = capsys.readouterr().err
    assert code in (1, 3), err
    written = json.loads(out.read_text())
    assert [len(b) for b in sent] == [len(written) + 1]  # one call: fewer than 100
    imported = [f for batch in sent for f in batch]
    for batch in sent:
        assert_importable(batch)
    archived = next(f for f in imported if f["Id"] == gone["Id"])
    assert archived["RecordState"] == "ARCHIVED" and archived["Compliance"]["Status"] == "NOT_AVAILABLE"
    assert not any(k.startswith("aws/") for k in archived["ProductFields"]) and "ProcessedAt" not in archived
    assert {f["Id"] for f in imported} - {gone["Id"]} == {f["Id"] for f in written}
    assert "findings imported into account 123456789012" in err and "1 findings of earlier runs archived" in err
    aws_run.stubbers["securityhub"].assert_no_pending_responses()


def test_a_finding_seen_before_keeps_its_creation_time(reports, moto, api: StubbedApi) -> None:
    report = reports["not-ready"].report
    account = AsffAccount("123456789012", "eu-west-1")
    first = findings(report, account)[0]
    stored = {**first, "CreatedAt": "2026-01-01T00:00:00Z", "FirstObservedAt": "2026-01-01T00:00:00Z",
              "RecordState": "ACTIVE"}
    sent = recorder(api)
    api.stub("securityhub", "get_findings", {"Findings": [stored]})
    api.stub("securityhub", "batch_import_findings", {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []})
    result = upload_findings(api, report, account)
    again = next(f for f in sent[0] if f["Id"] == first["Id"])
    assert again["CreatedAt"] == "2026-01-01T00:00:00Z" and again["UpdatedAt"] == first["UpdatedAt"]
    assert result.archived_gone == 0 and not result.failed


def test_more_than_100_findings_go_in_batches_of_100(reports, moto, api: StubbedApi) -> None:
    nodes = [("MEM-001", "FAIL", "critical", f"10.0.{i // 250}.{i % 250}:6379", "maxmemory 0") for i in range(230)]
    report = make_report(nodes).to_json()
    sent = recorder(api)
    api.stub("securityhub", "get_findings", {"Findings": []})
    for count in (100, 100, 34):
        api.stub("securityhub", "batch_import_findings",
                 {"FailedCount": 0, "SuccessCount": count, "FailedFindings": []})
    result = upload_findings(api, report, ACCOUNT)
    assert [len(b) for b in sent] == [BATCH_SIZE, BATCH_SIZE, 34] and result.imported == 234
    assert len({f["Id"] for b in sent for f in b}) == 234
    api.stubbers["securityhub"].assert_no_pending_responses()


def test_refused_findings_are_reported_and_exit_6(aws_run, tmp_path, capsys):
    recorder(aws_run)
    aws_run.stub("securityhub", "get_findings", {"Findings": []})
    for _ in range(2):
        aws_run.stub("securityhub", "batch_import_findings", {"FailedCount": 1, "SuccessCount": 0, "FailedFindings": [
            {"Id": "redis-audit/rl/verdict", "ErrorCode": "InvalidInput", "ErrorMessage": "bad \x1b[2J finding"}]})
    code = main(["run", "--aws-replication-group", "rl", "--output", str(tmp_path / "r.json"), "--format", "json",
                 "--upload-asff", "--deadline", "10", "--connect-timeout", "0.5"])
    err = capsys.readouterr().err
    assert code == 6 and "Security Hub refused redis-audit/rl/verdict: InvalidInput" in err
    assert "\x1b" not in err


def test_findings_of_another_account_are_refused_before_any_import(aws_run, tmp_path, capsys):
    recorder(aws_run)
    code = main(["run", "--aws-replication-group", "rl", "--output", str(tmp_path / "r.json"), "--format", "json",
                 "--upload-asff", "--asff-account-id", "999999999999", "--deadline", "10", "--connect-timeout", "0.5"])
    assert code == 6 and "account 999999999999" in capsys.readouterr().err


def test_self_hosted_format_asff_without_an_account_is_a_usage_error_before_connecting(capsys) -> None:
    code = main(["run", "redis://127.0.0.1:1", "--format", "asff"])
    assert code == 2 and "--asff-account-id" in capsys.readouterr().err


def test_render_format_asff_of_a_verified_report(reports, tmp_path: Path, capsys) -> None:
    verified = reports["ready"]
    key = next(iter(verified.context.signers)).split(" ")[0]
    code = main(["render", str(verified.path), "--key", str(verified.path.parent / "keys" / key),
                 "--at", "2026-05-04T11:00:00Z", "--format", "asff", "--asff-region", "us-west-2"])
    found = json.loads(capsys.readouterr().out)
    assert code == 0 and found[0]["ProductArn"].startswith("arn:aws:securityhub:us-west-2:123456789012:")
