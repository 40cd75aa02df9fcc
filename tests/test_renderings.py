"""Renderings of a verified report, parsed the way their readers parse them: XML, the SARIF schema, a browser."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest

from redis_audit.cli.signed import PinnedKey, render, verify_file
from redis_audit.output import RenderOptions
from redis_audit.output import table as table_format
from redis_audit.signing.keys import generate_keypair
from redis_audit.signing.sign import sign_report
from redis_audit.signing.signers import LocalSigner
from redis_audit.waivers import load_waivers
from tests.reportkit import ALL_PASS, DEPLOYMENT, FINISHED, make_report
from tests.test_waivers import waiver, waiver_file

HOSTILE = '<script>document.title="pwned"</script><img src=x onerror=alert(1)> | **bold** `tick`'
SCHEMA = Path(__file__).parent / "output" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def verified(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("render")
    pair = generate_keypair(base / "keys")
    waivers = load_waivers(waiver_file(base, waiver()), FINISHED, 90)
    findings = [*ALL_PASS, ("MEM-004", "FAIL", "high", "10.0.0.2:6379", "volatile-lru"),
                ("MEM-001", "FAIL", "critical", "10.0.0.3:6379", HOSTILE),
                ("CLI-003", "WARN", "medium", "deployment", "pool timeouts unknown"),
                ("ENC-001", "ERROR", "low", "deployment", "describe failed"),
                ("LAT-001", "SKIP", "high", "deployment", "no probe")]
    report = make_report(findings, waiver_file=waivers, mode="pre-promotion").to_json()
    path = base / "report.dsse.json"
    path.write_bytes(sign_report(report, f"redis://{DEPLOYMENT}", [LocalSigner.from_file(pair.private_key)])
                     .to_bytes())
    import datetime as dt

    return verify_file(path, [PinnedKey(pair.public_key, __import__("redis_audit.signing.keys", fromlist=["x"])
                                        .load_public_key(pair.public_key))], at=FINISHED + dt.timedelta(hours=1))


def test_table_sorts_by_status_then_severity_and_colours_only_when_asked(verified) -> None:
    text = render(verified.report, "table", signed=verified.context)
    rows = [line.split()[0] for line in text.splitlines() if line.split()[:1] and line.split()[0] in (
        "FAIL", "ERROR", "WAIVED", "WARN", "SKIP", "PASS")]
    assert rows[:5] == ["FAIL", "ERROR", "WAIVED", "WARN", "SKIP"] and rows[-1] == "PASS"
    assert "\033[" not in text and "BLOCKER" in text and "Sign-off blockers" in text
    assert "\033[31mNOT_READY" in table_format.render(verified.report, RenderOptions(color=True))
    attention = render(verified.report, "table", only_attention=True, signed=verified.context)
    assert "PASS " not in attention.split("Status")[1]


def test_markdown_has_the_ticket_fields_and_escapes_hostile_text(verified) -> None:
    text = render(verified.report, "markdown", signed=verified.context)
    for expected in ("**NOT_READY**", "| Valid until | 2026-05-11T10:00:00Z |", "| Envelope sha256 |",
                     "Production Redis configuration", "Rate limiting coverage", "Performance validation",
                     "| W-1 | applied |", "<details><summary>All findings (13)</summary>",
                     f"redis-audit verify {verified.path} --key"):
        assert expected in text
    assert "<script>" not in text and "&lt;script&gt;" in text and r"\*\*bold\*\*" in text


def test_junit_is_valid_xml_grouped_by_how_the_verdict_treats_each_finding(verified) -> None:
    root = ET.fromstring(render(verified.report, "junit", signed=verified.context))
    suites = {s.get("name").split(": ", 1)[1]: s for s in root.findall("testsuite")}
    assert list(suites) == ["verdict", "sign-off blockers (progress, not gating)", "blocking",
                            "needs attention (not blocking)", "passed", "not applicable"]
    cases = {c.get("name"): c for s in suites.values() for c in s.findall("testcase")}
    assert len(cases) == 1 + 3 + 13 and root.get("failures") == "2" and root.get("errors") == "0"
    assert suites["verdict"].find("testcase/failure").get("message") == "NOT_READY: 1 blocker(s)"
    assert cases["MEM-001 10.0.0.3:6379"].find("failure").get("message") == f"FAIL: {HOSTILE}"
    assert cases["ENC-001 deployment [ERROR]"].find("system-err").text.startswith("ERROR (not blocking")
    assert cases["MEM-004 10.0.0.2:6379 [WAIVED]"].find("system-err").text.startswith("WAIVED (FAIL) by W-1")
    assert cases["CLI-003 deployment [WARN]"].find("system-err").text.startswith("WARN (not blocking")
    assert cases["LAT-001 deployment"].find("skipped").get("message") == "SKIP: no probe"
    assert list(cases["AUTH-001 10.0.0.1:6379"]) == [cases["AUTH-001 10.0.0.1:6379"].find("system-out")]
    assert [c.get("name") for c in suites["sign-off blockers (progress, not gating)"].findall("testcase")] == [
        "Production Redis configuration", "Rate limiting coverage", "Performance validation"]


def test_sarif_validates_against_the_official_schema(verified) -> None:
    log = json.loads(render(verified.report, "sarif", signed=verified.context))
    jsonschema.validate(log, json.loads(SCHEMA.read_text()))
    results = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"MEM-004", "MEM-001", "CLI-003", "ENC-001", "VERDICT"}
    waived = next(r for r in results if r["ruleId"] == "MEM-004")
    assert waived["suppressions"][0]["status"] == "accepted" and "W-1" in waived["suppressions"][0]["justification"]
    ids = {(f["checkId"], f"{DEPLOYMENT}/{f['resource']}"): f["findingId"] for f in verified.report["findings"]}
    assert all(r["partialFingerprints"]["readinessFindingId/v1"]
               == ids[(r["ruleId"], r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"])]
               for r in results if r["ruleId"] != "VERDICT")
    assert log["runs"][0]["properties"]["signoff"][0]["title"] == "Production Redis configuration"


def test_json_is_the_verified_statement(verified) -> None:
    statement = json.loads(render(verified.report, "json", signed=verified.context))
    assert statement["_type"] == "https://in-toto.io/Statement/v1" and statement["predicate"] == verified.report


class Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.stack: list[str] = []
        self.text_by_id: dict[str, str] = {}
        self.open_ids: list[tuple[str, int]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        element_id = dict(attrs).get("id")
        if element_id:
            self.text_by_id[element_id] = ""
            self.open_ids.append((element_id, len(self.stack)))
        self.stack.append(tag)

    def handle_endtag(self, tag) -> None:
        if self.stack:
            self.stack.pop()
        self.open_ids = [(i, depth) for i, depth in self.open_ids if depth < len(self.stack)]

    def handle_data(self, data) -> None:
        for element_id, _ in self.open_ids:
            self.text_by_id[element_id] += data


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is missing: scripts/test installs it (apt-get install chromium)"
    return found


def test_html_in_a_real_browser(verified, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render(verified.report, "html", signed=verified.context))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}"]
    dom_text = subprocess.run([chromium(), *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                              timeout=60, check=True).stdout
    shot = tmp_path / "shot.png"
    subprocess.run([chromium(), *flags, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
                   capture_output=True, timeout=60, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    dom = Dom()
    dom.feed(dom_text)
    assert "script" not in dom.tags and "img" not in dom.tags  # the hostile message stayed text
    assert "pwned" not in dom_text.split("<title>")[1].split("</title>")[0]
    assert dom.text_by_id["verdict"] == "NOT_READY"
    signoff = dom.text_by_id["signoff"]
    for title in ("Production Redis configuration", "Rate limiting coverage", "Performance validation"):
        assert title in signoff
    assert HOSTILE in dom_text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert dom.text_by_id["dsse-envelope"].encode() == verified.path.read_bytes()
