"""`redis-audit census TARGET`: the census on its own, as a user runs it. Its old spellings, `keys TARGET`
and `keys census TARGET`, still run it, with one deprecation line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from redis_audit.cli.main import main
from redis_audit.sandbox import Sandbox, SandboxSpec, sandbox_cli_args
from tests.keyspace.data import admin_clients, load


@pytest.fixture
def loaded(fresh_sandbox: Callable[[SandboxSpec], Sandbox]) -> Sandbox:
    sb = fresh_sandbox(SandboxSpec(topology="standalone", tls=True))
    load(sb, rl=1000, rlz=100, cache=40)
    return sb


def test_census_prints_groups_and_says_when_the_budget_bought_an_exact_answer(
        loaded: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["census", *sandbox_cli_args(loaded, tmp_path), "--mode", "sampled"]) == 0
    out = capsys.readouterr().out
    assert "rl:*:*" in out and "rlz:*" in out
    assert "mode exact (sampled was asked; the budget covered every key)" in out
    assert main(["census", *sandbox_cli_args(loaded, tmp_path), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["complete"] and result["totals"]["keys"] == 1140


def test_a_refused_census_is_one_line_and_exit_3(loaded: Sandbox, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    admin_clients(loaded)[0].execute_command("ACL", "SETUSER", "noscan", "on", ">noscan-pw", "~*", "+@all", "-scan")
    (tmp_path / "pw").write_text("noscan-pw")
    args = [a if a != "auditor" else "noscan" for a in sandbox_cli_args(loaded, tmp_path)]
    args[args.index("--password-file") + 1] = str(tmp_path / "pw")
    assert main(["census", *args]) == 3
    err = capsys.readouterr().err
    assert "NOPERM" in err and "acl suggest" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_census_output_writes_what_stdout_shows_and_one_line_about_it(loaded: Sandbox, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    args = ["census", *sandbox_cli_args(loaded, tmp_path), "--format", "json"]
    assert main(args) == 0
    shown = json.loads(capsys.readouterr().out)
    out = tmp_path / "census.json"
    assert main([*args, "--output", str(out)]) == 0
    captured = capsys.readouterr()
    address = loaded.info.target_url.split("//")[1]
    groups = len(shown["groups"])
    assert captured.out == (f"Census of rediss://auditor@{address}: 1,140 keys in {groups} groups (exact); "
                            f"written to {out}\n")
    assert captured.err == ""
    written = json.loads(out.read_text())
    assert {g["pattern"]: g["keys"] for g in written["groups"]} == {g["pattern"]: g["keys"] for g in shown["groups"]}


@pytest.mark.parametrize("old", [["keys"], ["keys", "census"]])
def test_the_old_census_spellings_still_run_it_and_say_the_new_one(old: list[str], loaded: Sandbox, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*old, *sandbox_cli_args(loaded, tmp_path), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["totals"]["keys"] == 1140
    assert captured.err == (f'redis-audit: warning: "redis-audit {" ".join(old)} TARGET" is deprecated and will be '
                            'removed; use "redis-audit census TARGET"\n')
