"""`redis-audit sandbox up|status|down` from the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from redis_audit.cli.main import main


def test_up_status_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = str(tmp_path / "sb")
    try:
        assert main(["sandbox", "up", "--topology", "replicated", "--tls", "--state-dir", state]) == 0
        assert "rediss://127.0.0.1:" in capsys.readouterr().out
        assert main(["sandbox", "up", "--state-dir", state]) == 2
        assert "already running" in capsys.readouterr().err

        assert main(["sandbox", "status", "--format", "json", "--state-dir", state]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["running"] is True
        assert status["ca_file"].endswith("ca.crt")
        credentials = json.loads(Path(status["credentials_file"]).read_text())
        assert main(["sandbox", "status", "--state-dir", state]) == 0
        table = capsys.readouterr().out
        for users in credentials.values():
            for password in users.values():
                assert password not in table
                assert password not in json.dumps(status)
        pids = [n["pid"] for n in status["nodes"]]
    finally:
        assert main(["sandbox", "down", "--state-dir", state]) == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_status_without_sandbox_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "status", "--state-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no sandbox" in err and len(err.strip().splitlines()) == 1
