"""`run` with an AWS target: endpoint unreachable (wire SKIP, control plane judged), upload, secrets."""

from __future__ import annotations

import json

import boto3
import pytest

from redis_audit.aws import clients
from redis_audit.cli.main import main

from . import world
from .conftest import StubbedApi


@pytest.fixture
def aws_run(moto, api, monkeypatch):
    world.build(api)
    monkeypatch.setattr(clients.AwsApi, "open", classmethod(lambda cls, settings, deadline=None: api))
    return api


def test_unreachable_endpoint_skips_wire_checks_and_judges_the_control_plane(aws_run, tmp_path, capsys):
    out = tmp_path / "report.json"
    code = main(["run", "--aws-replication-group", "rl", "--format", "json", "--output", str(out),
                 "--deadline", "10", "--connect-timeout", "0.5"])
    report = json.loads(out.read_text())
    findings = report["findings"]
    by_id = {}
    for f in findings:
        by_id.setdefault(f["checkId"], []).append(f)
    assert code in (1, 3)
    assert any(f["status"] == "PASS" and f["resource"].startswith("arn:aws:elasticache") for f in by_id["ENC-001"])
    assert any(f["status"] == "PASS" for f in by_id["TLS-001"])
    assert any(f["status"] == "SKIP" and "no reachable" in f["message"] for f in by_id["TLS-001"])
    assert any(f["status"] == "ERROR" and "could not be reached" in f["message"] for f in by_id["AUDIT-001"])


def test_upload_stores_the_report_with_sse_kms(aws_run, tmp_path, capsys):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="audits")
    key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    out = tmp_path / "report.json"
    main(["run", "--aws-replication-group", "rl", "--format", "json", "--output", str(out), "--deadline", "10",
          "--connect-timeout", "0.5", "--upload", "s3://audits/redis/", "--upload-kms-key", key])
    listed = s3.list_objects_v2(Bucket="audits", Prefix="redis/rl/")["Contents"]
    assert len(listed) == 1 and listed[0]["Key"].endswith("-report.json")
    head = s3.head_object(Bucket="audits", Key=listed[0]["Key"])
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key
    assert "Report stored in s3://audits/redis/rl/" in capsys.readouterr().out


def test_failed_upload_exits_6_with_one_line(aws_run, tmp_path, capsys):
    out = tmp_path / "report.json"
    code = main(["run", "--aws-replication-group", "rl", "--format", "json", "--output", str(out),
                 "--deadline", "10", "--connect-timeout", "0.5", "--upload", "s3://missing-bucket/x/"])
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert code == 6 and out.exists()
    assert len(err) == 1 and "NoSuchBucket" in err[0]


def test_password_secret_is_used_and_never_written(moto, monkeypatch, tmp_path, capsys):
    api = StubbedApi()
    monkeypatch.setattr(clients.AwsApi, "open", classmethod(lambda cls, settings, deadline=None: api))
    sm = boto3.client("secretsmanager")
    arn = sm.create_secret(Name="redis-auditor", SecretString=json.dumps({"pw": "s3cr3t-value-xyz"}))["ARN"]
    out, snap = tmp_path / "r.json", tmp_path / "s.json"
    main(["run", "redis://127.0.0.1:1", "--password-secret", arn, "--password-secret-key", "pw", "--format", "json",
          "--output", str(out), "--save-snapshot", str(snap), "--deadline", "5", "--connect-timeout", "0.3"])
    captured = capsys.readouterr()
    for text in (out.read_text(), snap.read_text(), captured.out, captured.err):
        assert "s3cr3t-value-xyz" not in text
    assert json.loads(out.read_text())["findings"]


def test_wrong_secret_key_is_a_usage_error_without_the_value(moto, monkeypatch, capsys):
    api = StubbedApi()
    monkeypatch.setattr(clients.AwsApi, "open", classmethod(lambda cls, settings, deadline=None: api))
    arn = boto3.client("secretsmanager").create_secret(Name="x", SecretString='{"pw": "value-9876"}')["ARN"]
    code = main(["run", "redis://127.0.0.1:1", "--password-secret", arn, "--password-secret-key", "nope"])
    err = capsys.readouterr().err
    assert code == 2 and "value-9876" not in err and "keys: pw" in err
