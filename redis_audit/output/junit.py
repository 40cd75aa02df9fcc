"""JUnit XML for CI dashboards (kube-bench's mapping): one testcase per finding.

FAIL → <failure>, ERROR → <error>, PASS → a passing testcase, every other status (WARN, WAIVED, SKIP,
INFO) → <skipped> with the status. The finding's JSON is in <system-out>. A second suite has one
testcase per sign-off blocker: met passes, not met fails, not verified is skipped.

Every attribute and text goes through the sanitiser (`_element`): a key name with an escape sequence
or a NUL byte shows as `\x1b`/`\x00` and never makes the document invalid XML 1.0.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from redis_audit.jsonvalue import JsonObject
from redis_audit.output import RenderOptions
from redis_audit.output.sanitize import json_escape_hidden, visible
from redis_audit.output.view import View, effective


def render(report: JsonObject, options: RenderOptions) -> str:
    view = View(report)
    suites = ET.Element("testsuites", name="redis-audit")
    findings = view.findings(options.only_attention)
    suite = _element(suites, "testsuite", name=f"redis-audit {view.target}", tests=str(len(findings)),
                     failures=str(sum(effective(f) == "FAIL" for f in findings)),
                     errors=str(sum(effective(f) == "ERROR" for f in findings)),
                     skipped=str(sum(effective(f) not in ("FAIL", "ERROR", "PASS") for f in findings)),
                     timestamp=str(view.run.get("finishedAt")))
    properties = _element(suite, "properties")
    props = {"verdict": view.decision, "validUntil": view.valid_until, "mode": view.mode,
             "profile": view.profile_name}
    if options.signed:
        props["envelopeSha256"] = options.signed.envelope_sha256
        props["signers"] = ", ".join(options.signed.signers)
    for name, value in props.items():
        _element(properties, "property", name=name, value=value)
    for f in findings:
        _testcase(suite, f, view)
    signoff = _element(suites, "testsuite", name=f"sign-off blockers {view.target}",
                       tests=str(len(view.signoff)),
                       failures=str(sum(b.get("state") == "not met" for b in view.signoff)),
                       errors="0", skipped=str(sum(b.get("state") == "not verified" for b in view.signoff)))
    for blocker in view.signoff:
        case = _element(signoff, "testcase", classname="signoff", name=str(blocker.get("title")))
        requirements = [f"{r['name']}: {r['state']} ({View.requirement_checks(r)})"
                        for r in blocker.get("requirements") or []]
        detail = "\n".join(visible(r) for r in requirements)  # a line per requirement; nothing else breaks one
        if blocker.get("state") == "not met":
            _element(case, "failure", message=f"{blocker.get('title')}: not met", type="signoff", text=detail)
        elif blocker.get("state") != "met":
            _element(case, "skipped", message=f"NOT VERIFIED: {'; '.join(requirements)}")
        _element(case, "system-out", text=detail)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _testcase(suite: ET.Element, f: dict[str, Any], view: View) -> None:
    status = effective(f)
    case = _element(suite, "testcase", classname=str(f["checkId"]), name=f"{f['checkId']} {f['resource']}")
    message = str(f["message"])
    if status == "FAIL":
        kind = f"{f['severity']}{' blocker' if view.is_blocker(f) else ''}"
        _element(case, "failure", message=message, type=kind, text=str(f.get("remediation", "")))
    elif status == "ERROR":
        _element(case, "error", message=message, type="ERROR")
    elif status == "WAIVED":
        w = view.waiver(f.get("waiver"))
        _element(case, "skipped", message=f"WAIVED ({f['status']}) by {w.get('id')} until "
                                          f"{w.get('expires')}, {w.get('ticket')}: {message}")
    elif status != "PASS":
        _element(case, "skipped", message=f"{status}: {message}")
    _element(case, "system-out", text=json_escape_hidden(json.dumps(f, sort_keys=True, ensure_ascii=False)))


def _element(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    """A child element whose attributes and text went through the sanitiser (text keeps its line breaks)."""
    element = ET.SubElement(parent, tag, {name: visible(value) for name, value in attributes.items()})
    if text is not None:
        element.text = visible(text, keep_newlines=True)
    return element
