"""`run` end to end: a mocked control plane (moto + Stubber) whose endpoint is a real sandbox server.

The replication group's primary endpoint is the TLS port of a good-preset sandbox (TLS on, and the
group says TransitEncryptionEnabled/required), so the wire checks and the control-plane evaluators
judge the same deployment in one report. The data-plane password comes from moto's Secrets Manager.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from redis_audit.aws import clients
from redis_audit.cli.main import main
from redis_audit.sandbox import Sandbox, SandboxSpec
from redis_audit.sandbox.config import DATA_USERS

from . import world
from .conftest import StubbedApi

TLS_SANDBOX = SandboxSpec(tls=True)
PLAIN_SANDBOX = SandboxSpec()


@pytest.fixture
def aws_api(moto: None, api: StubbedApi, monkeypatch: pytest.MonkeyPatch) -> StubbedApi:
    """Every AwsApi the run opens (endpoint discovery, secrets, collector) is this moto/Stubber one."""
    monkeypatch.setattr(clients.AwsApi, "open", classmethod(lambda cls, settings, deadline=None: api))
    return api


def auditor_secret(sandbox: Sandbox, kms_key: str | None = None, rotate: bool = False) -> str:
    """A Secrets Manager secret (JSON) holding the sandbox auditor's password; returns its ARN."""
    sm = boto3.client("secretsmanager")
    extra = {"KmsKeyId": kms_key} if kms_key else {}
    arn = str(sm.create_secret(Name="redis/auditor", SecretString=json.dumps(
        {"username": "auditor", "password": sandbox.password("auditor")}), **extra)["ARN"])
    if rotate:  # moto rotates in place (no Lambda), keeping the value
        sm.rotate_secret(SecretId=arn, RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
    return arn


def by_check(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for finding in report["findings"]:
        out.setdefault(finding["checkId"], []).append(finding)
    return out


def no_secret_anywhere(sandbox: Sandbox, texts: list[str]) -> None:
    secrets = [sandbox.password(user) for user in DATA_USERS]
    for text in texts:
        for secret in secrets:
            assert secret not in text


@pytest.fixture
def tls_group(aws_api: StubbedApi, sandboxes: Any) -> Iterator[tuple[Sandbox, dict[str, Any]]]:
    sandbox = sandboxes.get(TLS_SANDBOX)
    port = sandbox.info.nodes_with_role("primary")[0].port
    built = world.build(aws_api, primary_port=port)
    yield sandbox, built


def test_managed_group_on_a_real_server_reports_wire_and_control_plane_under_one_id(tls_group, tmp_path, capsys):
    sandbox, built = tls_group
    arn = auditor_secret(sandbox, built["key"]["Arn"], rotate=True)
    out, snap = tmp_path / "report.json", tmp_path / "snapshot.json"
    code = main(["run", "--aws-replication-group", "rl", "--user", "auditor", "--password-secret", arn,
                 "--tls-ca", str(sandbox.info.ca_file), "--format", "json", "--output", str(out),
                 "--save-snapshot", str(snap), "--deadline", "60"])
    captured = capsys.readouterr()
    assert code in (0, 1, 3), captured.err
    report = json.loads(out.read_text())
    findings = by_check(report)
    node = sandbox.info.nodes_with_role("primary")[0].address
    group_arn = built["group"]["ARN"]

    # The endpoint the control plane named was reached, authenticated with the secret's password.
    assert [(f["status"], f["message"]) for f in findings["AUDIT-001"]] == [("PASS", "the only node was reached")]
    assert not [f for f in report["findings"] if "NOAUTH" in f["message"] or "WRONGPASS" in f["message"]]

    # One id, two proofs: TLS-001 from the handshake on the wire and from TransitEncryptionMode.
    tls = {f["resource"]: f for f in findings["TLS-001"]}
    assert tls[node]["status"] == "PASS"
    assert tls[group_arn]["status"] == "PASS"
    assert "required" in json.dumps(tls[group_arn]["evidence"])

    # The Phase 3 blocker "at-rest encryption" is judged from the control plane, with the key's ARN.
    enc = [f for f in findings["ENC-001"] if f["status"] != "SKIP"]
    assert [(f["resource"], f["status"]) for f in enc] == [(group_arn, "PASS")]
    assert enc[0]["evidence"]["observed"]["KmsKeyId"] == built["key"]["Arn"]
    assert enc[0]["evidence"]["observed"]["KeyRotationEnabled"] is True

    # Control-plane evidence: alarm names (MON-002), the secret's ARN and key (SECRET-001/002).
    assert "rl-DatabaseMemoryUsagePercentage" in json.dumps(findings["MON-002"])
    secret_findings = findings["SECRET-001"] + findings["SECRET-002"]
    assert {f["resource"] for f in secret_findings} == {arn}
    assert {f["status"] for f in secret_findings} == {"PASS"}
    # The two views can disagree, and the report shows both: the control plane's group has a replica
    # per shard, the standalone sandbox behind the endpoint has none (the wire's FAIL is the blocker).
    assert {(f["resource"], f["status"]) for f in findings["HA-001"]} == {(node, "FAIL"), (f"{group_arn}/0001", "PASS")}
    # Wire checks that the control plane does not cover ran against the server too.
    assert any(f["resource"] == node and f["status"] in ("PASS", "WARN", "FAIL") for f in findings["MEM-001"])

    no_secret_anywhere(sandbox, [out.read_text(), snap.read_text(), captured.out, captured.err])


def test_password_secret_with_a_self_hosted_target_supplies_the_password_and_is_judged(
        aws_api, sandboxes, tmp_path, capsys):
    sandbox = sandboxes.get(PLAIN_SANDBOX)
    arn = auditor_secret(sandbox)  # no customer key, never rotated
    out, snap = tmp_path / "report.json", tmp_path / "snapshot.json"
    code = main(["run", sandbox.info.target_url, "--user", "auditor", "--password-secret", arn,
                 "--format", "json", "--output", str(out), "--save-snapshot", str(snap), "--deadline", "60"])
    captured = capsys.readouterr()
    assert code in (0, 1, 3), captured.err
    report = json.loads(out.read_text())
    findings = by_check(report)
    assert [f["status"] for f in findings["AUDIT-001"]] == ["PASS"]
    assert not [f for f in report["findings"] if "NOAUTH" in f["message"] or "WRONGPASS" in f["message"]]
    assert {f["status"] for f in findings["SECRET-001"]} == {"WARN"}  # the default aws/secretsmanager key
    assert [(f["resource"], f["status"]) for f in findings["SECRET-002"]] == [(arn, "FAIL")]
    assert "rotation is off" in findings["SECRET-002"][0]["message"]
    # Self-hosted: the control-plane-only checks still say why they do not apply.
    assert {f["status"] for f in findings["ENC-001"]} == {"SKIP"}
    no_secret_anywhere(sandbox, [out.read_text(), snap.read_text(), captured.out, captured.err])


def test_self_hosted_target_without_secrets_skips_the_secret_checks(sandboxes):
    from tests.helpers import audit, findings

    report = audit(sandboxes.get(PLAIN_SANDBOX))
    skipped = findings(report, "SECRET-001") + findings(report, "SECRET-002")
    assert skipped and all(f.status == "SKIP" and "--password-secret" in f.message for f in skipped)
