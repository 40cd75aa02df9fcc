"""Exit codes: every one a command returns is an `ExitCode`, and the README and ARCHITECTURE list them all."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from redis_audit.cli import probe_failover
from redis_audit.cli import profile as profile_command
from redis_audit.cli.main import main
from redis_audit.exitcodes import ExitCode

ROOT = Path(__file__).resolve().parents[2]
LITERAL_EXIT = re.compile(r"\breturn\s+(int\()?\d+\)?\s*$|\b(sys\.)?exit\(\d+\)")


def test_no_command_returns_an_exit_code_that_is_not_an_exitcode() -> None:
    literal = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
               for path in sorted((ROOT / "redis_audit" / "cli").glob("*.py"))
               for number, line in enumerate(path.read_text().splitlines(), 1) if LITERAL_EXIT.search(line)]
    assert literal == [], "return ExitCode members, so that every exit code is named and documented"


@pytest.mark.parametrize(("doc", "start", "code"), [
    ("README.md", "Exit codes, the same for every command:", r"\*\*(\d+)\*\*"),
    ("docs/ARCHITECTURE.md", "## Exit codes", r"(?:^|· )(\d+) "),
])
def test_every_exit_code_is_documented(doc: str, start: str, code: str) -> None:
    text = (ROOT / doc).read_text()
    listing = text[text.index(start):].split("\n\n")[0]
    documented = {int(n) for n in re.findall(code, listing, re.MULTILINE)}
    assert documented == {int(code) for code in ExitCode}


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(spec: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(profile_command, "resolve_profile", interrupted)
    assert main(["profile", "digest", "builtin:default"]) == ExitCode.INTERRUPTED == 130
    assert capsys.readouterr().err.strip() == "Interrupted."  # after click's blank line closing the ^C


def test_an_interrupted_failover_probe_exits_130_and_the_others_by_their_outcome() -> None:
    assert probe_failover.exit_status({"status": "interrupted"}, []) == ExitCode.INTERRUPTED
    assert probe_failover.exit_status({"status": "aborted"}, []) == ExitCode.INCONCLUSIVE
    assert probe_failover.exit_status({"status": "refused"}, []) == ExitCode.NOT_READY
    assert probe_failover.exit_status({"status": "completed"}, [{"status": "FAIL"}]) == ExitCode.NOT_READY
    assert probe_failover.exit_status({"status": "completed"}, [{"status": "PASS"}]) == ExitCode.READY
