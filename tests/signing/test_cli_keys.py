from __future__ import annotations

import stat
from pathlib import Path

import pytest

from redis_audit.cli.main import main
from redis_audit.signing.keys import keyid_for, load_public_key
from redis_audit.signing.signers import LocalSigner


@pytest.mark.parametrize("algorithm", ["ed25519", "p256"])
def test_keys_generate_prints_both_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str], algorithm: str) -> None:
    out = tmp_path / "keys"
    assert main(["keys", "generate", "--output-dir", str(out), "--algorithm", algorithm]) == 0
    private, public = (Path(line) for line in capsys.readouterr().out.splitlines())
    assert private == out / "signing-key.pem" and public == out / "signing-key.pub.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert keyid_for(load_public_key(public)) == LocalSigner.from_file(private).keyid


def test_keys_generate_refuses_to_overwrite_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "generate", "--output-dir", str(tmp_path)]) == 0
    before = (tmp_path / "signing-key.pem").read_bytes()
    capsys.readouterr()
    assert main(["keys", "generate", "--output-dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "already exists" in captured.err
    assert (tmp_path / "signing-key.pem").read_bytes() == before
    assert "PRIVATE KEY" not in captured.err
