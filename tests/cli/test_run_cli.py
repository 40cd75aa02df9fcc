"""`redis-audit run` from the command line: exit codes, one-line errors, and no secret anywhere."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from redis_audit.sandbox import SandboxSpec


def redis_audit(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run([sys.executable, "-m", "redis_audit", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, check=False)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_line_error(result) -> None:
    assert "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if "error" in line]) == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["run", "http://x"], 2, "target must start with"),
        (["run", "redis://h:notaport"], 2, "bad host:port"),
        (["run", "rediss://127.0.0.1:1", "--tls-ca", "/nonexistent/ca.pem"], 2, "--tls-ca: no such file"),
        (["run", "redis://127.0.0.1:1", "--password-env", "NO_SUCH_VARIABLE_X"], 2, "is not set"),
        (["run"], 2, "missing TARGET"),
        (["run", "--from-snapshot", "/nonexistent.json"], 2, "no such file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, code, message):
    result = redis_audit(*args)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    one_line_error(result)


def test_bad_profile_is_one_line_and_exit_2(tmp_path):
    profile = tmp_path / "p.toml"
    profile.write_text("[memory]\nmaxmem = 1\n")
    result = redis_audit("run", f"redis://127.0.0.1:{closed_port()}", "--profile", str(profile))
    assert result.returncode == 2 and f"{profile}: memory.maxmem: unknown key" in result.stderr
    one_line_error(result)


def test_unreachable_host_is_inconclusive():
    result = redis_audit("run", f"redis://127.0.0.1:{closed_port()}", "--format", "json")
    assert result.returncode == 3
    report = json.loads(result.stdout)
    assert report["verdict"]["decision"] == "INCONCLUSIVE"
    assert "Traceback" not in result.stderr


def test_wrong_password_is_inconclusive_and_never_printed(sandboxes):
    sandbox = sandboxes.get(SandboxSpec(topology="standalone"))
    wrong = "wrong-password-0123456789"
    result = redis_audit("run", sandbox.info.target_url, "--user", "auditor", "--password-env", "PW",
                         env={"PW": wrong})
    assert result.returncode == 3
    assert "authentication failed" in result.stdout + result.stderr
    assert wrong not in result.stdout + result.stderr


def test_password_in_url_warns_and_never_reaches_report_or_snapshot(sandboxes, tmp_path):
    sandbox = sandboxes.get(SandboxSpec(topology="sentinel", tls=True))
    info = sandbox.info
    password = sandbox.password("auditor")
    url = info.target_url.replace("://", f"://auditor:{password}@", 1)
    result = redis_audit(
        "run", url, "--sentinel-user", "auditor", "--sentinel-password-env", "SPW", "--tls-ca", str(info.ca_file),
        "--format", "json", "--output", str(tmp_path / "r.json"), "--save-snapshot", str(tmp_path / "s.json"),
        env={"SPW": sandbox.sentinel_password("auditor")},
    )
    assert result.returncode in (0, 1), result.stderr
    assert "visible in the process list" in result.stderr
    everything = result.stdout + result.stderr + (tmp_path / "r.json").read_text() + (tmp_path / "s.json").read_text()
    secrets = json.loads(info.credentials_file.read_text())
    for group in secrets.values():
        for value in (group.values() if isinstance(group, dict) else []):
            assert value not in everything


def test_snapshot_round_trip_judges_offline(sandboxes, tmp_path):
    sandbox = sandboxes.get(SandboxSpec(topology="standalone", preset="bad"))
    snap = tmp_path / "snap.json"
    live = redis_audit("run", sandbox.info.target_url, "--format", "json", "--save-snapshot", str(snap))
    offline = redis_audit("run", "--from-snapshot", str(snap), "--format", "json")
    assert live.returncode == offline.returncode == 1

    def essence(text: str) -> list[tuple[str, str, str]]:
        return sorted((f["checkId"], f["resource"], f["status"]) for f in json.loads(text)["findings"])

    assert essence(live.stdout) == essence(offline.stdout)
