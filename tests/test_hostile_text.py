"""A key named with every control character, on a real server: every rendering shows it, none runs it.

The key reaches the census table (its pattern and "keys without TTL" examples) and, through the
limiter check whose resource is the key's pattern, every report format, `verify`'s summary and
`diff`; live, from a signed envelope and from a saved snapshot.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from redis_audit.cli.main import main
from redis_audit.output.sanitize import is_hidden
from redis_audit.sandbox import Sandbox, SandboxSpec, sandbox_cli_args
from redis_audit.signing.keys import generate_keypair
from tests.output.test_sanitize import BIDI, CONTROLS, OTHERS, REPAINT, strings

# As UTF-8 code points (C1 as U+0080..U+009F) and, in a second key, as raw bytes 0x80..0x9f.
HOSTILE_NAME = ("rl:" + REPAINT + CONTROLS + BIDI + OTHERS.replace("\ufffe", "")).encode("utf-8")
RAW_BYTES_NAME = b"rl:raw" + bytes(range(0x80, 0xA0)) + b"\x1b[2J"
FORMATS = ("table", "markdown", "junit", "json", "sarif", "html")


def hidden(text: str) -> set[str]:
    return {c for c in text if is_hidden(c) and c != "\n"}


def assert_shown_not_run(fmt: str, text: str) -> None:
    assert not hidden(text), (fmt, sorted(hidden(text))[:5])
    if fmt == "junit":
        ET.fromstring(text)  # well-formed XML 1.0
    elif fmt in ("json", "sarif"):
        assert any(HOSTILE_NAME.decode() in s for s in strings(json.loads(text)))  # exact, for programs
    else:
        assert "\\x1b" in text and "\\u202e" in text  # spelled out (Markdown doubles the backslash)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sandbox, Path, list[str]]:
    from tests.conftest import start_tracked, stop_tracked

    sandbox = start_tracked(SandboxSpec(topology="standalone"), tmp_path_factory.mktemp("hostile-sandbox"))
    admin = sandbox.admin_client(sandbox.info.nodes[0])
    admin.execute_command("SET", HOSTILE_NAME, b"1")  # no TTL: a limiter finding names its pattern
    admin.execute_command("SET", RAW_BYTES_NAME, b"1")
    workdir = tmp_path_factory.mktemp("hostile")
    yield sandbox, workdir, sandbox_cli_args(sandbox, workdir)
    stop_tracked(sandbox)


def test_the_census_table_shows_the_key_names(hostile, capsys: pytest.CaptureFixture[str]) -> None:
    _, _, args = hostile
    assert main(["census", *args, "--mode", "exact"]) == 0
    out = capsys.readouterr().out
    assert_shown_not_run("table", out)
    assert "\\u202e" in out and "\\x9b" in out and "rl:raw\\x80" in out
    assert main(["census", *args, "--mode", "exact", "--format", "json"]) == 0
    assert not hidden(capsys.readouterr().out)


def test_every_rendering_live_signed_verified_and_from_the_snapshot(
        hostile, capsys: pytest.CaptureFixture[str]) -> None:
    _, workdir, args = hostile
    keys = generate_keypair(workdir / "keys")
    envelope, snapshot = workdir / "report.dsse.json", workdir / "snapshot.json"
    code = main(["run", *args, "--sign-with", str(keys.private_key), "--output", str(envelope),
                 "--save-snapshot", str(snapshot)])
    assert code in (1, 3)
    captured = capsys.readouterr()
    assert_shown_not_run("table", captured.out)
    assert not hidden(captured.err)
    main(["verify", str(envelope), "--key", str(keys.public_key)])
    summary = capsys.readouterr().out
    assert "VALID" in summary and not hidden(summary)
    assert "Blocker:" in summary and "x1b[2J" in summary  # the limiter blocker names the hostile pattern

    for fmt in FORMATS:
        main(["render", str(envelope), "--key", str(keys.public_key), "--format", fmt])
        assert_shown_not_run(fmt, capsys.readouterr().out)
        main(["run", "--from-snapshot", str(snapshot), "--format", fmt])
        assert_shown_not_run(fmt, capsys.readouterr().out)

    assert main(["diff", str(envelope), str(envelope), "--key", str(keys.public_key)]) == 0
    assert not hidden(capsys.readouterr().out)


def test_an_error_line_shows_its_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--from-snapshot", f"/nonexistent/{REPAINT}\nredis-audit: READY"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and not hidden(err) and "\\x1b[2J" in err
