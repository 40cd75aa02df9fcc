"""`probe latency --format json --output` on two 'pods', folded into `run --probe-results`: per-pod and overall
LAT-001. The old spelling, `--emit FILE`, still writes the same result file."""

import json
import re

from redis_audit.cli.main import main
from redis_audit.schemas import validate


def test_result_files_and_probe_results_round_trip_with_two_pods(server, tmp_path, monkeypatch, capsys):
    target = server.info.target_url
    monkeypatch.setenv("AUDITOR_PASSWORD", server.password("auditor"))
    login = ["--user", "auditor", "--password-env", "AUDITOR_PASSWORD"]
    files = []
    for pod, zone in (("app-7d9-a", "eu-west-1a"), ("app-7d9-b", "eu-west-1b")):
        monkeypatch.setenv("POD_NAME", pod)
        monkeypatch.setenv("HOSTNAME", pod)
        out = tmp_path / f"{pod}.json"
        assert main(["probe", "latency", target, *login, "--rate", "100", "--duration", "0.8", "--az", zone,
                     "--format", "json", "--output", str(out)]) == 0
        captured = capsys.readouterr()
        address = target.split("//")[1]  # the document went to the file; stdout has one line saying so
        assert re.fullmatch(rf"Latency probe of {address}: \d+ requests, P95 \d+ µs; written to {out}\n",
                            captured.out), captured.out
        assert captured.err == ""
        data = json.loads(out.read_text())
        assert data["schema"] == "redis-audit/latency-result/v1"
        validate("latency-result", data)  # the published schema (schemas/latency-result.schema.json)
        assert data["origin"] == {"host": pod, "pod": pod, "namespace": None, "node": None, "az": zone}
        files.append(out)
    capsys.readouterr()
    report = tmp_path / "report.json"
    profile = tmp_path / "profile.toml"  # a generous limit: this asserts the folding, not the host's speed
    profile.write_text("[latency]\np95_ms = 500\n")
    code = main(["run", target, *login, "--format", "json", "--output", str(report), "--deadline", "20",
                 "--profile", str(profile),
                 *[arg for f in files for arg in ("--probe-results", str(f))]])
    assert code in (0, 1, 3)
    validate("report", json.loads(report.read_text()))
    findings = [f for f in json.loads(report.read_text())["findings"] if f["checkId"] == "LAT-001"]
    assert {f["resource"] for f in findings} == {"pod:app-7d9-a (eu-west-1a)", "pod:app-7d9-b (eu-west-1b)",
                                                 "deployment"}
    overall = next(f for f in findings if f["resource"] == "deployment")
    assert overall["status"] == "PASS" and overall["evidence"]["observed"]["samples"] == 160


def test_a_bad_result_file_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "something-else"}')
    assert main(["run", "--from-snapshot", str(tmp_path / "none.json"), "--probe-results", str(bad)]) == 2
    assert "not a redis-audit/latency-result/v1 file" in capsys.readouterr().err


def test_the_old_emit_spelling_still_writes_the_result_and_says_the_new_one(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AUDITOR_PASSWORD", server.password("auditor"))
    probe = ["probe", "latency", server.info.target_url, "--user", "auditor", "--password-env", "AUDITOR_PASSWORD",
             "--rate", "100", "--duration", "0.3"]
    out = tmp_path / "pod.json"
    assert main([*probe, "--emit", str(out)]) == 0  # as before: the JSON file, and the table on stdout
    captured = capsys.readouterr()
    assert captured.err == ('redis-audit: warning: "--emit" is deprecated and will be removed; '
                            'use "--format json --output FILE"\n')
    assert "P95" in captured.out and json.loads(out.read_text())["schema"] == "redis-audit/latency-result/v1"
    assert main([*probe, "--emit", "-"]) == 0  # '-': the result document on stdout, as --format json prints it
    captured = capsys.readouterr()
    assert 'use "--format json"\n' in captured.err and captured.err.count("\n") == 1
    validate("latency-result", json.loads(captured.out))
