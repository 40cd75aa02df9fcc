from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from redis_audit.exitcodes import UsageError
from redis_audit.signing.errors import KeyFileError
from redis_audit.signing.keys import (
    Verifier,
    generate_keypair,
    keyid_for,
    load_private_key,
    load_public_key,
    spki_der,
)
from redis_audit.signing.signers import LocalSigner, insecure_keyids, signer_from_spec


@pytest.mark.parametrize("algorithm", ["ed25519", "p256"])
def test_generated_private_key_is_0600_and_pairs_with_the_public_key(tmp_path: Path, algorithm: str) -> None:
    paths = generate_keypair(tmp_path / "keys", algorithm)  # type: ignore[arg-type]
    assert stat.S_IMODE(paths.private_key.stat().st_mode) == 0o600
    signer = LocalSigner.from_file(paths.private_key)
    assert signer.warnings == ()
    public = load_public_key(paths.public_key)
    assert keyid_for(public) == signer.keyid
    assert Verifier(public).verify(signer.sign(b"message"), b"message")


def test_private_key_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        paths = generate_keypair(tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(paths.private_key.stat().st_mode) == 0o600


@pytest.mark.parametrize("existing", ["signing-key.pem", "signing-key.pub.pem"])
def test_generate_refuses_to_overwrite_either_file(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_bytes(b"keep me")
    with pytest.raises(KeyFileError, match="already exists"):
        generate_keypair(tmp_path)
    assert (tmp_path / existing).read_bytes() == b"keep me"
    assert [p.name for p in tmp_path.iterdir()] == [existing]


def test_keyid_is_sha256_of_the_der_spki(ed_signer: LocalSigner) -> None:
    import hashlib

    assert ed_signer.keyid == "sha256:" + hashlib.sha256(spki_der(ed_signer.public_key())).hexdigest()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o610, 0o601])
def test_a_private_key_readable_by_others_is_refused_unless_overridden(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: int) -> None:
    paths = generate_keypair(tmp_path)
    paths.private_key.chmod(mode)
    with pytest.raises(KeyFileError, match=f"mode {mode:04o}.*chmod 600.*--insecure-key-permissions"):
        signer_from_spec(str(paths.private_key))
    with caplog.at_level(logging.WARNING, logger="redis_audit.signing"):
        signer = signer_from_spec(str(paths.private_key), allow_insecure=True)
    assert isinstance(signer, LocalSigner) and signer.insecure and insecure_keyids([signer]) == [signer.keyid]
    assert len(signer.warnings) == 1 and f"{mode:04o}" in signer.warnings[0] and signer.warnings[0] in caplog.text
    assert load_private_key(paths.private_key, allow_insecure=True).warnings == signer.warnings
    paths.private_key.chmod(0o600)
    assert not load_private_key(paths.private_key).insecure and not load_private_key(paths.private_key).warnings


def test_file_prefix_and_plain_path_give_the_same_signer(tmp_path: Path) -> None:
    paths = generate_keypair(tmp_path, "p256")
    assert signer_from_spec(f"file:{paths.private_key}").keyid == signer_from_spec(str(paths.private_key)).keyid


def test_errors_name_the_file_and_never_show_key_material(tmp_path: Path) -> None:
    paths = generate_keypair(tmp_path)
    pem = paths.private_key.read_text()
    broken = tmp_path / "broken.pem"
    lines = pem.splitlines()
    broken.write_text("\n".join([lines[0], lines[1][::-1], *lines[2:]]))  # a corrupted body
    broken.chmod(0o600)
    with pytest.raises(KeyFileError) as excinfo:
        load_private_key(broken)
    message = str(excinfo.value)
    assert str(broken) in message
    assert not any(line in message for line in pem.splitlines()[1:-1])
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__
    signer = LocalSigner.from_file(paths.private_key)
    assert repr(signer) == f"LocalSigner(keyid={signer.keyid!r})"


def test_unsupported_key_types_are_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p384 = ec.generate_private_key(ec.SECP384R1())
    path = tmp_path / "p384.pub.pem"
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    path.write_bytes(p384.public_key().public_bytes(serialization.Encoding.PEM, spki))
    with pytest.raises(KeyFileError, match="unsupported key type"):
        load_public_key(path)


def test_missing_key_file_is_a_one_line_usage_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read key file"):
        signer_from_spec(str(tmp_path / "absent.pem"))


def test_an_out_dir_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(KeyFileError, match="cannot create the key directory"):
        generate_keypair(tmp_path / "file")


@pytest.mark.parametrize("spec", ["", "file:", "kms:"])
def test_empty_signer_specs_are_usage_errors(spec: str) -> None:
    with pytest.raises(UsageError):
        signer_from_spec(spec)
