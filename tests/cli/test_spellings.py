"""One spelling per command and per option; every command that writes a document takes `--format` and
`--output` and treats them alike; the old spellings still work, hidden from --help, with one line on stderr."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import click
import pytest

from redis_audit.cli.main import _register_commands, cli, main
from redis_audit.signing.keys import generate_keypair
from redis_audit.snapshot import Snapshot, TargetInfo
from redis_audit.topology import DeploymentKind, Topology
from redis_audit.waivers import rfc3339

DEPRECATED = 'redis-audit: warning: "{old}" is deprecated and will be removed; use "{new}"\n'
# Commands with --format whose output is not a document to keep: why each is exempt from --output.
NOT_DOCUMENTS = {"sandbox status": "the state of a local sandbox, shown to the person running it"}
# Commands that reach a deployment without --deadline: why each is bounded anyway.
NO_DEADLINE = {"acl suggest": "one INFO to one seed, under the connect and command timeouts"}
FORMAT_NAMES = {"table", "json", "markdown", "html", "junit", "sarif", "asff", "policyreport", "prometheus",
                "openmetrics"}


def visible_commands() -> dict[str, click.Command]:
    """Every command a user finds in --help, by its path ("probe latency")."""
    _register_commands()
    found: dict[str, click.Command] = {}

    def walk(command: click.Command, path: str) -> None:
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    walk(sub, f"{path} {name}".strip())
        else:
            found[path] = command

    walk(cli, "")
    return found


def options(command: click.Command) -> dict[str, click.Option]:
    return {p.opts[0]: p for p in command.params if isinstance(p, click.Option) and not p.hidden}


def test_each_command_has_one_name_and_keys_means_signing_keys() -> None:
    commands = visible_commands()
    assert {path for path in commands if path.startswith("keys")} == {"keys generate"}
    assert "census" in commands
    assert len({id(command) for command in commands.values()}) == len(commands)  # no command under two names


def test_every_command_that_writes_a_document_has_format_and_output() -> None:
    for path, command in visible_commands().items():
        named = options(command)
        if "--format" in named and path not in NOT_DOCUMENTS:
            assert "--output" in named, f"{path} has --format but no --output"
            assert isinstance(named["--output"].type, click.Path), path
        if "--format" in named:
            choice = named["--format"].type
            assert isinstance(choice, click.Choice) and set(choice.choices) <= FORMAT_NAMES, path
            assert named["--format"].default == "table", path


def test_option_names_are_one_vocabulary() -> None:
    for path, command in visible_commands().items():
        named = options(command)
        assert not {"--out", "--emit", "--public-key", "--output-file"} & named.keys(), path
        takes_target = any(p.name == "target" for p in command.params if isinstance(p, click.Argument))
        if takes_target and path not in NO_DEADLINE:
            assert "--deadline" in named, f"{path} reaches a deployment without --deadline"


@pytest.mark.parametrize(("argv", "hidden"), [
    (["keys", "--help"], "census"),
    (["keys", "generate", "--help"], "--out "),
    (["probe", "latency", "--help"], "--emit"),
    (["diff", "--help"], "text"),
])
def test_old_spellings_are_hidden_from_help(argv: list[str], hidden: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0
    assert hidden not in capsys.readouterr().out


def test_keys_generate_out_still_writes_the_keys_and_says_output_dir(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "generate", "--out", str(tmp_path / "old")]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [str(tmp_path / "old" / "signing-key.pem"),
                                         str(tmp_path / "old" / "signing-key.pub.pem")]
    assert captured.err == DEPRECATED.format(old="--out", new="--output-dir")
    assert main(["keys", "generate", "--out", str(tmp_path / "a"), "--output-dir", str(tmp_path / "b")]) == 2
    assert 'give "--output-dir" only ("--out" is its old spelling)' in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert main(["keys", "generate"]) == 2
    assert "Missing option '--output-dir'" in capsys.readouterr().err


@pytest.fixture
def envelope(tmp_path: Path) -> tuple[Path, Path]:
    """A signed report of a saved snapshot, and its public key."""
    target = TargetInfo(url="redis://127.0.0.1:1", kind="redis", seeds=("127.0.0.1:1",), tls=False,
                        tls_verify=True, user=None, name="saved")
    collected = rfc3339(dt.datetime.now(dt.UTC))
    snapshot = tmp_path / "snap.json"
    Snapshot(target, Topology(DeploymentKind.STANDALONE), {}, collected, collected, "0.1.0").save(snapshot)
    keys = generate_keypair(tmp_path / "keys")
    signed = tmp_path / "report.dsse.json"
    assert main(["run", "--from-snapshot", str(snapshot), "--sign-with", str(keys.private_key),
                 "--output", str(signed)]) in (1, 3)
    return signed, keys.public_key


def test_diff_format_text_is_the_old_name_of_table(envelope: tuple[Path, Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    signed, public = envelope
    capsys.readouterr()
    diff = ["diff", str(signed), str(signed), "--key", str(public)]
    assert main([*diff, "--format", "table"]) == 0
    table = capsys.readouterr()
    assert table.out.startswith("Verdict: ") and table.err == ""
    assert main([*diff, "--format", "text"]) == 0
    assert capsys.readouterr() == (table.out, DEPRECATED.format(old="--format text", new="--format table"))


def document_commands(signed: Path, public: Path, snapshot: Path) -> dict[str, list[str]]:
    return {
        "run": ["run", "--from-snapshot", str(snapshot), "--format", "json"],
        "render": ["render", str(signed), "--key", str(public), "--format", "markdown"],
        "diff": ["diff", str(signed), str(signed), "--key", str(public), "--format", "json"],
        "checks list": ["checks", "list", "--format", "json"],
    }


@pytest.mark.parametrize("name", ["run", "render", "diff", "checks list"])
def test_output_writes_exactly_what_stdout_shows_and_one_summary(name: str, envelope: tuple[Path, Path],
                                                                 tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The census and the latency probe are held to the same in their own tests, on real servers."""
    signed, public = envelope
    argv = document_commands(signed, public, tmp_path / "snap.json")[name]
    capsys.readouterr()
    code = main(argv)
    shown = capsys.readouterr()
    out = tmp_path / "document"
    assert main([*argv, "--output", str(out)]) == code
    captured = capsys.readouterr()
    assert _stable(out.read_text()) == _stable(shown.out)
    summary = captured.out + captured.err  # run says it on stdout (two lines); render on stderr
    assert str(out) in summary.splitlines()[-1] and len(summary.splitlines()) <= 2, summary
    assert shown.out not in summary


def _stable(text: str) -> str:
    """A run stamps its own times and run id into the report; everything else must be the same."""
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "TIME", text)
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "UUID", text)
