"""Files the tool writes: atomically, never through a symbolic link, never onto an input of the same run.

The writers are enumerated twice, so that a new one cannot forget: no module but redis_audit/files.py
writes a file, and every file option of every command is either an output tested below or an input.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import click
import pytest

from redis_audit.cli.main import _register_commands, cli, main
from redis_audit.exitcodes import UsageError
from redis_audit.files import write_file
from redis_audit.signing.keys import generate_keypair
from redis_audit.snapshot import Snapshot, TargetInfo
from redis_audit.topology import DeploymentKind, Topology
from redis_audit.waivers import rfc3339

ROOT = Path(__file__).resolve().parent.parent / "redis_audit"
WRITE_CALL = re.compile(r"\.write_text\(|\.write_bytes\(|\bos\.open\(|\bos\.replace\(|\bos\.rename\(|\.touch\("
                        r"|shutil\.(copy|move)|mkstemp|NamedTemporaryFile|\bopen\([^)]*[\"'][wax]|\.open\([\"'][wax]")

# Every file option that names a file the command writes (command path, option).
# The old spellings (keys generate --out, probe latency --emit) still write, so they are tested too.
OUTPUTS = {("run", "--output"), ("run", "--save-snapshot"), ("render", "--output"), ("keys generate", "--output-dir"),
           ("keys generate", "--out"), ("probe latency", "--output"), ("probe latency", "--emit"),
           ("probe failover", "--output"), ("demo", "--output"), ("verify", "--emit-vsa"), ("census", "--output"),
           ("diff", "--output"), ("checks list", "--output")}
# File options the commands only read.
INPUTS = {"--profile", "--from-snapshot", "--probe-results", "--waivers", "--key", "--password-file",
          "--sentinel-password-file", "--tls-ca", "--tls-cert", "--tls-key", "--sarif-location",
          "--failover-password-file", "--failover-sentinel-password-file", "--failover-sandbox-state",
          "--sandbox-state", "--state-dir", "REPORT", "OLD", "NEW", "--trusted-packs", "--trusted-profiles"}


def file_options() -> set[tuple[str, str]]:
    _register_commands()
    found = set()

    def walk(command: click.Command, path: str) -> None:
        for param in command.params:
            if isinstance(param.type, click.Path):
                name = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
                found.add((path, name))
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None:
                    walk(sub, f"{path} {name}".strip())

    walk(cli, "")
    return found


def test_no_module_but_files_py_writes_a_file() -> None:
    writers = [f"{p.relative_to(ROOT)}:{n}" for p in ROOT.rglob("*.py") if p.name != "files.py" or p.parent != ROOT
               for n, line in enumerate(p.read_text().splitlines(), 1) if WRITE_CALL.search(line)]
    assert writers == [], "write files through redis_audit.files: " + ", ".join(writers)


def test_every_file_option_is_a_tested_output_or_an_input() -> None:
    options = file_options()
    outputs = {o for o in options if o in OUTPUTS}
    assert outputs == OUTPUTS  # each of these has a case in WRITERS below
    unknown = {o for o in options if o not in OUTPUTS and o[1] not in INPUTS}
    assert not unknown, f"classify these file options (an output needs a test in WRITERS): {sorted(unknown)}"
    assert {w[0] for w in WRITERS} == OUTPUTS


# -- each writer, refusing a symlink and an input -------------------------------------------------

@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, Path]:
    target = TargetInfo(url="redis://127.0.0.1:1", kind="redis", seeds=("127.0.0.1:1",), tls=False,
                        tls_verify=True, user=None, name="saved")
    snapshot = tmp_path / "snap.json"
    collected = rfc3339(dt.datetime.now(dt.UTC))  # fresh: a signed report's validity counts from collection
    Snapshot(target, Topology(DeploymentKind.STANDALONE), {}, collected, collected, "0.1.0").save(snapshot)
    keys = generate_keypair(tmp_path / "keys")
    profile = tmp_path / "profile.toml"
    profile.write_bytes(b"[general]\nname = 'mine'\n")
    envelope = tmp_path / "report.dsse.json"
    assert main(["run", "--from-snapshot", str(snapshot), "--sign-with", str(keys.private_key),
                 "--output", str(envelope)]) in (1, 3)
    return {"snapshot": snapshot, "private": keys.private_key, "public": keys.public_key, "profile": profile,
            "envelope": envelope, "dir": tmp_path}


DEPRECATED = "is deprecated and will be removed; use"
Argv = Callable[[dict[str, Path], Path], list[str]]
CLOSED = "redis://127.0.0.1:1"
WRITERS: list[tuple[tuple[str, str], Argv, str | None]] = [  # (writer, argv, an input of that command line)
    (("run", "--output"), lambda w, d: ["run", "--from-snapshot", str(w["snapshot"]), "--profile", str(w["profile"]),
                                        "--output", str(d)], "profile"),
    (("run", "--output"), lambda w, d: ["run", "--from-snapshot", str(w["snapshot"]), "--sign-with", str(w["private"]),
                                        "--output", str(d)], "private"),
    (("run", "--output"), lambda w, d: ["run", "--from-snapshot", str(w["snapshot"]), "--sign-with", str(w["private"]),
                                        "--output", str(d)], "public"),
    (("run", "--output"), lambda w, d: ["run", "--from-snapshot", str(w["snapshot"]), "--output", str(d)], "snapshot"),
    (("run", "--save-snapshot"), lambda w, d: ["run", "--from-snapshot", str(w["snapshot"]), "--profile",
                                               str(w["profile"]), "--save-snapshot", str(d)], "profile"),
    (("render", "--output"), lambda w, d: ["render", str(w["envelope"]), "--key", str(w["public"]), "--output",
                                           str(d)], "envelope"),
    (("render", "--output"), lambda w, d: ["render", str(w["envelope"]), "--key", str(w["public"]), "--output",
                                           str(d)], "public"),
    (("keys generate", "--output-dir"), lambda w, d: ["keys", "generate", "--output-dir", str(d.parent)], "private"),
    (("keys generate", "--out"), lambda w, d: ["keys", "generate", "--out", str(d.parent)], "private"),
    (("probe latency", "--output"), lambda w, d: ["probe", "latency", CLOSED, "--profile", str(w["profile"]),
                                                  "--output", str(d)], "profile"),
    (("probe latency", "--emit"), lambda w, d: ["probe", "latency", CLOSED, "--profile", str(w["profile"]),
                                                "--emit", str(d)], "profile"),
    (("census", "--output"), lambda w, d: ["census", CLOSED, "--profile", str(w["profile"]), "--output", str(d)],
     "profile"),
    (("diff", "--output"), lambda w, d: ["diff", str(w["envelope"]), str(w["envelope"]), "--key", str(w["public"]),
                                         "--output", str(d)], "envelope"),
    (("diff", "--output"), lambda w, d: ["diff", str(w["envelope"]), str(w["envelope"]), "--key", str(w["public"]),
                                         "--output", str(d)], "public"),
    (("checks list", "--output"), lambda w, d: ["checks", "list", "--output", str(d)], None),
    (("probe failover", "--output"), lambda w, d: ["probe", "failover", CLOSED, "--allow-failover", "--profile",
                                                   str(w["profile"]), "--output", str(d)], "profile"),
    (("demo", "--output"), lambda w, d: ["demo", "--profile", str(w["profile"]), "--output", str(d)], "profile"),
    (("verify", "--emit-vsa"), lambda w, d: ["verify", str(w["envelope"]), "--key", str(w["public"]), "--emit-vsa",
                                             str(d)], "envelope"),
    (("verify", "--emit-vsa"), lambda w, d: ["verify", str(w["envelope"]), "--key", str(w["public"]), "--emit-vsa",
                                             str(d), "--vsa-sign-with", str(w["private"])], "private"),
]


def one_line_refusal(capsys: pytest.CaptureFixture[str], code: int, *needles: str) -> None:
    # An old spelling (--out, --emit) adds its one deprecation line before the refusal.
    err = "".join(line for line in capsys.readouterr().err.splitlines(keepends=True) if DEPRECATED not in line)
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


def unchanged(files: dict[str, Path]) -> dict[Path, tuple[bytes, int]]:
    return {p: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for k, p in files.items() if k != "dir"}


@pytest.mark.parametrize(("writer", "argv", "input_name"), WRITERS, ids=lambda v: str(v) if isinstance(v, tuple)
                         else v if isinstance(v, str) else "")
def test_a_writer_refuses_a_symlink_to_a_victim(workspace: dict[str, Path], capsys: pytest.CaptureFixture[str],
                                                writer: tuple[str, str], argv: Argv, input_name: str | None) -> None:
    victim = workspace["dir"] / "victim.txt"
    victim.write_bytes(b"precious\n")
    if writer[0] == "keys generate":
        (workspace["dir"] / "newkeys").mkdir()
        link = workspace["dir"] / "newkeys" / "signing-key.pem"
    else:
        link = workspace["dir"] / "out.file"
    link.symlink_to(victim)
    before = unchanged(workspace)
    code = main(argv(workspace, link))
    one_line_refusal(capsys, code)
    assert victim.read_bytes() == b"precious\n" and link.is_symlink() and os.readlink(link) == str(victim)
    assert unchanged(workspace) == before


@pytest.mark.parametrize(("writer", "argv", "input_name"), [w for w in WRITERS if w[2] is not None],
                         ids=lambda v: str(v) if isinstance(v, tuple) else v if isinstance(v, str) else "")
def test_a_writer_refuses_to_overwrite_an_input_of_the_run(workspace: dict[str, Path],
                                                            capsys: pytest.CaptureFixture[str],
                                                            writer: tuple[str, str], argv: Argv,
                                                            input_name: str) -> None:
    before = unchanged(workspace)
    target = workspace[input_name]
    if writer[0] == "keys generate":  # the key pair goes next to an existing key: never replaced
        code = main(argv(workspace, target))
        one_line_refusal(capsys, code, "already exists")
    else:
        code = main(argv(workspace, target))
        one_line_refusal(capsys, code, "of this run; refusing to overwrite it")
        # Another spelling and a hard link of the same file are the same input.
        spelled = workspace["dir"] / "." / target.relative_to(workspace["dir"])
        one_line_refusal(capsys, main(argv(workspace, spelled)), "refusing to overwrite")
        hard = workspace["dir"] / "hard-link"
        os.link(target, hard)
        one_line_refusal(capsys, main(argv(workspace, hard)), "refusing to overwrite")
    assert unchanged(workspace) == before


def test_output_and_save_snapshot_on_one_path_are_refused_before_the_run(workspace: dict[str, Path],
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    same = workspace["dir"] / "both.json"
    code = main(["run", CLOSED, "--output", str(same), "--save-snapshot", str(same)])
    one_line_refusal(capsys, code, "is also --")
    assert not same.exists()


def test_writes_are_atomic_keep_the_mode_and_leave_no_temporary_file(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "report.txt"
    write_file(path, "one\n", what="--output")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    path.chmod(0o640)
    inode = path.stat().st_ino
    write_file(path, "two\n", what="--output")
    assert path.read_text() == "two\n" and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != inode  # a new file renamed into place, not the old one rewritten
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]

    def no_space(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)  # the new content cannot be made durable: nothing is replaced
    with pytest.raises(UsageError, match=r"--output: cannot write .*No space left on device"):
        write_file(path, "three\n", what="--output")
    assert path.read_text() == "two\n" and sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]


# -- signing keys ---------------------------------------------------------------------------------

def test_keys_are_generated_0600_and_never_into_a_directory_anyone_may_write(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    private_dir = tmp_path / "private"
    assert main(["keys", "generate", "--output-dir", str(private_dir)]) == 0
    assert stat.S_IMODE((private_dir / "signing-key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((private_dir / "signing-key.pub.pem").stat().st_mode) == 0o644
    capsys.readouterr()
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    one_line_refusal(capsys, main(["keys", "generate", "--output-dir", str(open_dir)]), "writable by anyone",
                     "--insecure-key-permissions")
    assert list(open_dir.iterdir()) == []
    assert main(["keys", "generate", "--output-dir", str(open_dir), "--insecure-key-permissions"]) == 0
    sticky = tmp_path / "sticky"  # like /tmp: others cannot rename or delete our files
    sticky.mkdir()
    sticky.chmod(0o1777)
    assert main(["keys", "generate", "--output-dir", str(sticky)]) == 0
    assert stat.S_IMODE((sticky / "signing-key.pem").stat().st_mode) == 0o600
