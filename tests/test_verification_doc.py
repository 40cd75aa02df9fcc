"""docs/verification.md, tested as a reader would use it: the securesystemslib recipe, extracted from the doc
and run as written against freshly signed reports (it must reject a flipped byte), the keyid convention, and
the Verification Summary (verify --emit-vsa)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

from redis_audit.cli.main import main
from redis_audit.signing.keys import KeyPairPaths, generate_keypair, keyid_for, load_public_key
from redis_audit.signing.sign import sign_report
from redis_audit.signing.signers import LocalSigner
from tests.reportkit import ALL_PASS, DEPLOYMENT, make_report

DOC = Path(__file__).resolve().parent.parent / "docs" / "verification.md"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def recipe() -> str:
    """The first Python block of the doc that starts with the recipe's name line."""
    blocks = DOC.read_text().split("```python\n")[1:]
    return next(b.split("```")[0] for b in blocks if b.startswith("# verify_report.py"))


@pytest.fixture(scope="module", params=["ed25519", "p256"])
def keys(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> KeyPairPaths:
    return generate_keypair(tmp_path_factory.mktemp(request.param), request.param)


def signed(keys: KeyPairPaths, path: Path, ready: bool = True) -> Path:
    findings = ALL_PASS if ready else [*ALL_PASS, ("MEM-002", "FAIL", "high", "10.0.0.1:6379", "no cap")]
    report = make_report(findings, mode="pre-promotion", finished=NOW).to_json()
    path.write_bytes(sign_report(report, f"redis://{DEPLOYMENT}", [LocalSigner.from_file(keys.private_key)])
                     .to_bytes())
    return path


def run_recipe(tmp_path: Path, envelope: Path, public_key: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "verify_report.py"
    script.write_text(recipe())
    return subprocess.run([sys.executable, str(script), str(envelope), str(public_key)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)


def test_the_recipe_is_short() -> None:
    code = [line for line in recipe().splitlines() if line.strip() and not line.startswith("#")]
    assert len(code) <= 18, len(code)


def test_the_recipe_verifies_a_freshly_signed_report(keys: KeyPairPaths, tmp_path: Path) -> None:
    done = run_recipe(tmp_path, signed(keys, tmp_path / "ready.dsse.json"), keys.public_key)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"redis://{DEPLOYMENT} READY valid until ")
    done = run_recipe(tmp_path, signed(keys, tmp_path / "bad.dsse.json", ready=False), keys.public_key)
    assert done.returncode == 1 and " NOT_READY " in done.stdout, done.stderr


@pytest.mark.parametrize("field", ["payload", "sig"])
def test_the_recipe_rejects_a_flipped_byte(keys: KeyPairPaths, tmp_path: Path, field: str) -> None:
    envelope = json.loads(signed(keys, tmp_path / "r.dsse.json").read_text())
    holder = envelope if field == "payload" else envelope["signatures"][0]
    raw = bytearray(base64.b64decode(holder[field]))
    raw[len(raw) // 2] ^= 0x01
    holder[field] = base64.b64encode(bytes(raw)).decode()
    tampered = tmp_path / "tampered.dsse.json"
    tampered.write_text(json.dumps(envelope))
    done = run_recipe(tmp_path, tampered, keys.public_key)
    assert done.returncode != 0 and "VerificationError" in done.stderr, done.stdout + done.stderr


def test_the_recipe_rejects_another_key(keys: KeyPairPaths, tmp_path: Path) -> None:
    other = generate_keypair(tmp_path / "other", "p256")
    done = run_recipe(tmp_path, signed(keys, tmp_path / "r.dsse.json"), other.public_key)
    assert done.returncode != 0 and "VerificationError" in done.stderr


def test_the_keyid_is_the_sha256_of_the_der_spki_as_the_doc_says(keys: KeyPairPaths) -> None:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is part of Debian's base system"
    der = subprocess.run([openssl, "pkey", "-pubin", "-in", str(keys.public_key), "-outform", "DER"],
                         capture_output=True, check=True).stdout
    assert keyid_for(load_public_key(keys.public_key)) == "sha256:" + hashlib.sha256(der).hexdigest()


def vsa(tmp_path: Path, keys: KeyPairPaths, envelope: Path, *extra: str) -> tuple[int, Path]:
    out = tmp_path / f"{envelope.stem}.vsa.json"
    code = main(["verify", str(envelope), "--key", str(keys.public_key), "--emit-vsa", str(out), *extra])
    return code, out


def test_verify_emits_a_vsa_that_passes_only_for_ready(keys: KeyPairPaths, tmp_path: Path) -> None:
    for ready, code_expected, result in ((True, 0, "PASSED"), (False, 1, "FAILED")):
        envelope = signed(keys, tmp_path / f"{ready}.dsse.json", ready=ready)
        code, out = vsa(tmp_path, keys, envelope)
        statement = json.loads(out.read_text())
        assert code == code_expected
        assert statement["_type"] == "https://in-toto.io/Statement/v1"
        assert statement["predicateType"] == "https://slsa.dev/verification_summary/v1"
        report_subject = json.loads(base64.b64decode(json.loads(envelope.read_text())["payload"]))["subject"]
        assert statement["subject"] == report_subject
        predicate = statement["predicate"]
        assert predicate["verificationResult"] == result
        assert predicate["verifiedLevels"] == (["REDIS_AUDIT_READY"] if ready else ["FAILED"])
        assert predicate["resourceUri"] == f"redis://{DEPLOYMENT}"
        assert predicate["inputAttestations"] == [
            {"uri": envelope.name, "digest": {"sha256": hashlib.sha256(envelope.read_bytes()).hexdigest()}}]
        assert predicate["policy"]["digest"]["sha256"] and predicate["verifier"]["id"] == "https://redis-audit.dev/verify"


def test_a_signed_vsa_verifies_with_securesystemslib(keys: KeyPairPaths, tmp_path: Path) -> None:
    verifier = generate_keypair(tmp_path / "verifier", "p256")
    code, out = vsa(tmp_path, keys, signed(keys, tmp_path / "r.dsse.json"), "--vsa-sign-with",
                    str(verifier.private_key))
    assert code == 0
    public = load_public_key(verifier.public_key)
    envelope = Envelope.from_dict(json.loads(out.read_text()))
    envelope.verify([SSlibKey.from_crypto(public, keyid=keyid_for(public))], threshold=1)  # type: ignore[arg-type]
    assert json.loads(envelope.payload)["predicate"]["verificationResult"] == "PASSED"


def test_no_vsa_for_an_invalid_report(keys: KeyPairPaths, tmp_path: Path) -> None:
    envelope = json.loads(signed(keys, tmp_path / "r.dsse.json").read_text())
    envelope["signatures"][0]["sig"] = base64.b64encode(b"\x00" * 64).decode()
    tampered = tmp_path / "tampered.dsse.json"
    tampered.write_text(json.dumps(envelope))
    code, out = vsa(tmp_path, keys, tampered)
    assert code == 5 and not out.exists()
