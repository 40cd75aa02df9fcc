"""The committed sample reports: nothing secret in them, and every envelope verifies with the committed key.

They expire (validUntil), so they are verified as of their own run: `verify --at TIME` is how an
auditor checks an old report, and `diff` checks its OLD report the same way.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from redis_audit.cli.main import main

SAMPLES = Path(__file__).resolve().parent.parent / "sample_reports"
ENVELOPES = sorted(SAMPLES.glob("*/report.dsse.json"))
# Sandbox passwords are 48 lowercase hex characters (sha256 digests are 64, finding ids 24).
PASSWORD = re.compile(r"(?<![0-9a-f])[0-9a-f]{48}(?![0-9a-f])")


def test_there_are_three_samples_in_every_format() -> None:
    assert [p.parent.name for p in ENVELOPES] == ["not-ready", "ready", "waived"]
    for envelope in ENVELOPES:
        names = {p.name for p in envelope.parent.iterdir()}
        assert {"report.txt", "report.md", "report.html", "report.xml", "report.sarif", "report.json", "report.prom",
                "report.policyreport.json", "report.asff.json"} <= names


def test_nothing_secret_is_committed() -> None:
    for path in SAMPLES.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert not re.search(r"BEGIN .*PRIVATE KEY", text), path
            assert not PASSWORD.search(text), path


@pytest.mark.parametrize("envelope", ENVELOPES, ids=lambda p: p.parent.name)
def test_every_sample_verifies_with_the_committed_public_key(envelope: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    statement = json.loads((envelope.parent / "report.json").read_text())
    at = statement["predicate"]["run"]["finishedAt"]
    code = main(["verify", str(envelope), "--key", str(SAMPLES / "signing-key.pub.pem"), "--at", at])
    out = capsys.readouterr().out
    assert code == {"ready": 0, "not-ready": 1, "waived": 0}[envelope.parent.name], out
    if envelope.parent.name == "waived":
        assert "Waivers applied: WVR-SAMPLE-1" in out
