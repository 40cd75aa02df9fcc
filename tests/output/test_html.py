"""The HTML page for the decision-maker: what was audited, the counts, validity, folded not-applicable SKIPs and
the inline SVG pictures; parsed by html5lib and laid out by a real headless Chromium."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import html5lib
import pytest

from redis_audit.check import CheckMeta
from redis_audit.cli.signed import PinnedKey, Verified, render, verify_file
from redis_audit.judge import CheckResult
from redis_audit.model import Finding, Severity, Status
from redis_audit.profile import profile_from_mapping
from redis_audit.signing.keys import generate_keypair, load_public_key
from redis_audit.signing.sign import sign_report
from redis_audit.signing.signers import LocalSigner
from tests.output.verdicts import HOSTILE, VERDICTS, build, not_applicable
from tests.reportkit import ALL_PASS, DEPLOYMENT, FINISHED, make_report

CHARTS = ("chart-latency", "chart-ttl-0", "chart-memory", "chart-failover")
PROFILE = {"latency": {"p95_ms": 10},
           "limiters": [{"name": "api", "prefix": "rl:", "window_s": 60, "peak_identities": 200_000}]}


def measured(check_id: str, status: str, resource: str, observed: dict[str, Any], **more: Any) -> CheckResult:
    meta = CheckMeta(id=check_id, title=f"{check_id} holds", severity=Severity.HIGH, category="audit",
                     verifies="v", risk="r", remediation="fix it")
    return CheckResult(Finding(check_id, Status(status), resource, f"{check_id} {status}",
                               {"observed": observed, **more}), meta, "builtin")


def pictured_report(base: Path) -> Verified:
    """A report holding every picture's data, in the shapes the checks write it."""
    pods = [measured("LAT-001", "PASS", f"pod:api-{i}", {"samples": 3000, "p50Us": 400 + i * 300, "p95Us": 1800 + i
                                                          * 2500, "p95Ci95Us": [1700 + i * 2400, 1900 + i * 2600],
                                                          "p99Us": 4000 + i * 5000, "maxUs": 9000 + i * 20000})
            for i in range(3)]
    ttl = measured("RL-001", "PASS", "rl:*", {"keys": 5000, "withoutTtl": 0, "maxTtlMs": 60_000, "ttlHistogram": {
        "1m-5m": 300, "<1m": 4700, "none": 0, "5m-15m": 0, "15m-1h": 0, "1h-6h": 0, ">=6h": 0}})
    memory = measured("RL-002", "WARN", "deployment", {
        "projectedPeakBytes": 200 << 20, "maxmemory": 256 << 20, "otherBytes": 40 << 20, "utilisationBp": 7812,
        "limiters": [{"name": "api", "projectedBytes": 160 << 20}]})
    timeline = [{"tMs": 0, "source": "probe", "event": "trigger", "detail": ""},
                {"tMs": 2100, "source": "sentinel a", "event": "+odown", "detail": ""},
                {"tMs": 3400, "source": "node b", "event": "master", "detail": HOSTILE}]
    rto = measured("FO-001", "PASS", "deployment", {"promotionMs": 3400, "writeGapMaxMs": 2900,
                                                    "writeGapStartMs": 600, "detectionMs": 2100}, timeline=timeline)
    acks = measured("FO-004", "FAIL", "deployment", {"ackedWritesLost": 3, "staleAckWindow": {
        "firstMs": 3100, "lastMs": 3350}, "staleAckAfterPromotionMs": 180})
    engine = measured("SEC-002", "PASS", "10.0.0.1:6379", {"engine": "valkey", "version": "8.1.1"})
    report = make_report(ALL_PASS, profile=profile_from_mapping(PROFILE), mode="pre-promotion",
                         extra=[*pods, ttl, memory, rto, acks, engine, not_applicable("CLU-001"),
                                not_applicable("NET-003")]).to_json()
    pair = generate_keypair(base / "keys")
    path = base / "pictured.dsse.json"
    path.write_bytes(sign_report(report, f"redis://{DEPLOYMENT}", [LocalSigner.from_file(pair.private_key)])
                     .to_bytes())
    return verify_file(path, [PinnedKey(pair.public_key, load_public_key(pair.public_key))],
                       at=FINISHED + dt.timedelta(hours=1))


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is missing: scripts/test installs it (apt-get install chromium)"
    return found


def browser(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}"]
    return subprocess.run([chromium(), *flags, *args, page.as_uri()], capture_output=True, text=True, timeout=90,
                          check=True)


def parse_strictly(text: str) -> Any:
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    document = parser.parse(text)  # raises on the first parse error
    assert not parser.errors
    return document


@pytest.fixture(scope="module")
def pictured(tmp_path_factory: pytest.TempPathFactory) -> Verified:
    return pictured_report(tmp_path_factory.mktemp("html"))


def test_the_header_says_what_was_audited_and_until_when(pictured) -> None:
    document = parse_strictly(render(pictured.report, "html", signed=pictured.context))
    text = {el.get("id"): "".join(el.itertext()) for el in document.iter() if el.get("id")}
    audited = text["audited"]
    for expected in (DEPLOYMENT, "rediss://10.0.0.1:6379", "sentinel", "valkey 8.1.1", "TLS"):
        assert expected in audited
    assert f"Valid until {pictured.report['verdict']['validUntil']}" in text["validity"]
    assert "must not gate a promotion" in text["validity"]
    counts = {el.get("data-status"): "".join(el.itertext()) for el in document.iter("span") if el.get("data-status")}
    assert counts["PASS"].endswith(str(pictured.report["effectiveCounts"]["PASS"]))
    subject = json.loads(pictured.path.read_text())  # the envelope: its payload names the subject digest
    assert pictured.context.statement["subject"][0]["digest"]["sha256"] in text["report-fields"]
    assert subject["payloadType"] == "application/vnd.in-toto+json"


def test_not_applicable_skips_are_folded_away_from_needs_attention(pictured) -> None:
    document = parse_strictly(render(pictured.report, "html", signed=pictured.context))
    attention = next(el for el in document.iter() if el.get("id") == "attention")
    folded = next(el for el in document.iter() if el.get("id") == "not-applicable")
    assert folded.tag == "details" and "open" not in folded.attrib
    assert "CLU-001" in "".join(folded.itertext()) and "NET-003" in "".join(folded.itertext())
    assert "CLU-001" not in "".join(attention.itertext()) and "FO-004" in "".join(attention.itertext())


@pytest.mark.parametrize("kind", VERDICTS)
def test_every_verdict_parses_without_error(tmp_path_factory: pytest.TempPathFactory, kind: str) -> None:
    verified = build(tmp_path_factory.mktemp(kind))[kind]
    document = parse_strictly(render(verified.report, "html", signed=verified.context))
    assert not [el for el in document.iter() if el.tag in ("script", "img", "iframe")]
    assert "".join(next(el for el in document.iter() if el.get("id") == "verdict").itertext()) == \
        verified.report["verdict"]["decision"]


def test_charts_are_drawn_only_from_data_the_report_has(tmp_path: Path) -> None:
    bare = make_report(ALL_PASS).to_json()
    assert "<svg" not in render(bare, "html") and 'id="charts"' not in render(bare, "html")


def test_the_pictures_are_laid_out_in_a_real_browser(pictured, tmp_path: Path) -> None:
    page_text = render(pictured.report, "html", signed=pictured.context)
    assert "<script" not in page_text and "http://" not in page_text.split("<body>")[1].replace(
        "http://www.w3.org/2000/svg", "")  # no external asset, no script
    page = tmp_path / "report.html"
    page.write_text(page_text)
    shot = tmp_path / "shot.png"
    browser(page, tmp_path / "p1", f"--screenshot={shot}", "--window-size=1280,4000")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    # Measure the real layout: the same page plus a test-only script that records each SVG's rendered box.
    probe = tmp_path / "measure.html"
    probe.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page_text).replace(
        "</body>", "<script>document.body.setAttribute('data-boxes', JSON.stringify([...document.querySelectorAll("
        "'svg')].map(s => {const r = s.getBoundingClientRect(); return [s.id, r.width, r.height];})))</script></body>"))
    dom = browser(probe, tmp_path / "p2", "--dump-dom", "--window-size=1280,4000").stdout
    boxes = {name: (w, h) for name, w, h in json.loads(
        re.search(r'data-boxes="([^"]*)"', dom).group(1).replace("&quot;", '"'))}
    for chart in CHARTS:
        width, height = boxes[chart]
        assert width >= 300 and height >= 60, (chart, width, height)
    assert "pwned" not in dom and HOSTILE.split("<")[0] in page_text  # hostile event detail stayed text
