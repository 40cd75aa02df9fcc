"""JUnit XML for CI dashboards (Jenkins, GitLab, Azure DevOps): the test report fails exactly when the
verdict is not READY.

One <testsuite> per group, each a classname `redis-audit.<deployment>.<group>` so that Jenkins shows the
groups as classes and GitLab as suites:

- verdict: one testcase; <failure> for NOT_READY (the blockers), <error> for INCONCLUSIVE (the reasons).
- sign-off: one testcase per sign-off blocker; when the profile gates on them (signoff), "not met" and
  "not verified" are failures; otherwise they are skipped, shown for progress.
- blocking: findings the verdict names as blockers (<failure>) or could not look past (<error>).
- needs-attention: WARN, waived findings, a FAIL below the blocking severities, an error that does not
  gate. They pass, because the verdict does not depend on them, but stay in sight: their own suite, the
  status in the test name and <system-err> (GitLab lists suites; Jenkins shows stderr of a passed test).
- passed: PASS and INFO.
- not-applicable: SKIP, as <skipped> with the reason.

Every finding's JSON is in its <system-out>. `time` is the run's duration on the verdict testcase (the
findings carry none) and the sum of its testcases on each suite; the totals add up.

Every attribute and text goes through the sanitiser (`_element`): a key name with an escape sequence
or a NUL byte shows as `\x1b`/`\x00` and never makes the document invalid XML 1.0.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from redis_audit.jsonvalue import JsonObject, as_object
from redis_audit.output import RenderOptions
from redis_audit.output.sanitize import json_escape_hidden, visible
from redis_audit.output.view import (
    BLOCKING,
    INCONCLUSIVE,
    NEEDS_ATTENTION,
    NOT_APPLICABLE,
    PASSED,
    View,
    effective,
)

GROUP_TITLES = {BLOCKING: "blocking", NEEDS_ATTENTION: "needs attention (not blocking)", PASSED: "passed",
                NOT_APPLICABLE: "not applicable"}
def _seconds(value: float) -> str:
    return f"{value:.3f}"


def render(report: JsonObject, options: RenderOptions) -> str:
    view = View(report)
    suites = _element(None, "testsuites", name=f"redis-audit {view.target}")
    _verdict_suite(suites, view, options)
    if view.signoff:
        _signoff_suite(suites, view)
    grouped: dict[str, list[dict[str, Any]]] = {g: [] for g in GROUP_TITLES}
    for f in view.findings(options.only_attention):
        grouped[BLOCKING if view.gate(f) == INCONCLUSIVE else view.gate(f)].append(f)
    for group, findings in grouped.items():
        if findings:
            suite = _suite(suites, view, GROUP_TITLES[group])
            for f in findings:
                _finding_case(suite, f, view)
            _count(suite)
    _count(suites)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _suite(parent: ET.Element, view: View, title: str) -> ET.Element:
    return _element(parent, "testsuite", name=f"{view.target}: {title}",
                    timestamp=str(view.run.get("startedAt", "")).removesuffix("Z"))


def _case(suite: ET.Element, view: View, group: str, name: str, seconds: float = 0.0) -> ET.Element:
    return _element(suite, "testcase", classname=f"redis-audit.{view.target}.{group}", name=name,
                    time=_seconds(seconds))


def _lines(lines: list[str]) -> str:
    """A line per item, each sanitised on its own: nothing a server supplied can break a line."""
    return "\n".join(visible(line) for line in lines)


def _verdict_suite(suites: ET.Element, view: View, options: RenderOptions) -> None:
    suite = _suite(suites, view, "verdict")
    properties = _element(suite, "properties")
    counts = as_object(view.report.get("effectiveCounts") or view.report.get("counts"))
    props = {"verdict": view.decision, "validUntil": view.valid_until, "mode": view.mode,
             "profile": view.profile_name, "profileDigest": view.profile_digest, "runId": str(view.run.get("id")),
             "startedAt": str(view.run.get("startedAt")), "tool": view.tool, "evidence": view.evidence_line,
             **{f"profileLimit{i + 1}": line for i, line in enumerate(view.limit_lines)},
             **{f"count.{status}": str(n) for status, n in counts.items()}}
    if options.signed:
        props |= {"envelopeSha256": options.signed.envelope_sha256, "signers": ", ".join(options.signed.signers),
                  "verifyCommand": options.signed.verify_command}
    for name, value in props.items():
        _element(properties, "property", name=name, value=value)
    case = _case(suite, view, "verdict", f"{view.target} is READY", view.run_seconds)
    blockers = _lines([f"{b.get('checkId')} {b.get('resource')} ({b.get('reason')}): {b.get('message')}"
                       for b in view.blockers])
    reasons = _lines(view.reasons)
    if view.decision == "NOT_READY":
        _element(case, "failure", message=f"NOT_READY: {len(view.blockers)} blocker(s)", type="NOT_READY",
                 text=blockers + (f"\nIncomplete because:\n{reasons}" if reasons else ""))
    elif view.decision != "READY":  # INCONCLUSIVE, or anything this version does not know: never a pass
        _element(case, "error", message=f"{view.decision}: the audit could not conclude", type=view.decision,
                 text=reasons or blockers)
    _element(case, "system-out", text=_lines([f"verdict {view.decision}, valid until {view.valid_until}",
                                              view.counts()]))
    _count(suite)


def _signoff_suite(suites: ET.Element, view: View) -> None:
    suite = _suite(suites, view, f"sign-off blockers{'' if view.signoff_gate else ' (progress, not gating)'}")
    for blocker in view.signoff:
        state = str(blocker.get("state"))
        case = _case(suite, view, "sign-off", str(blocker.get("title")))
        requirements = [f"{r.get('name')}: {r.get('state')} ({View.requirement_checks(r)})"
                        for r in blocker.get("requirements") or []]
        if state != "met" and view.signoff_gate:
            _element(case, "failure", message=f"{blocker.get('title')}: {state}", type=state,
                     text=_lines(requirements))
        elif state != "met":
            _element(case, "skipped", message=f"{state.upper()} (not gating in profile {view.profile_name}): "
                                              f"{'; '.join(requirements)}")
        _element(case, "system-out", text=_lines(requirements))
    _count(suite)


def _finding_case(suite: ET.Element, f: dict[str, Any], view: View) -> None:
    status, gate = effective(f), view.gate(f)
    name = f"{f['checkId']} {f['resource']}"
    case = _case(suite, view, gate, f"{name} [{status}]" if gate == NEEDS_ATTENTION else name)
    message = f"{status}: {f['message']}"
    if gate == BLOCKING:
        _element(case, "failure", message=message, type=f"{f['severity']} blocker",
                 text=visible(f.get("remediation", "")))
    elif gate == INCONCLUSIVE:
        _element(case, "error", message=message, type="ERROR", text=visible(f.get("remediation", "")))
    elif gate == NOT_APPLICABLE:
        _element(case, "skipped", message=message)
    elif gate == NEEDS_ATTENTION:
        _element(case, "system-err", text=_attention(f, view))
    _element(case, "system-out", text=json_escape_hidden(json.dumps(f, sort_keys=True, ensure_ascii=False)))


def _attention(f: dict[str, Any], view: View) -> str:
    status = effective(f)
    if status == "WAIVED":
        w = view.waiver(f.get("waiver"))
        return _lines([f"WAIVED ({f['status']}) by {w.get('id')} until {w.get('expires')}, {w.get('ticket')}, "
                       f"approved by {w.get('approver')}: {w.get('reason')}", str(f["message"])])
    why = {"FAIL": f"below the blocking severities ({f['severity']})", "ERROR": "this error does not gate",
           "WARN": "a warning never blocks"}.get(status, "")
    return _lines([f"{status} (not blocking: {why}): {f['message']}", f"Remediation: {f.get('remediation', '')}"])


def _count(element: ET.Element) -> None:
    """tests/failures/errors/skipped/time of a suite from its testcases, of testsuites from its suites."""
    if element.tag == "testsuites":
        suites = element.findall("testsuite")
        for key in ("tests", "failures", "errors", "skipped"):
            element.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
        element.set("time", _seconds(sum(float(s.get("time", "0")) for s in suites)))
        return
    cases = element.findall("testcase")
    element.set("tests", str(len(cases)))
    element.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    element.set("errors", str(sum(c.find("error") is not None for c in cases)))
    element.set("skipped", str(sum(c.find("skipped") is not None for c in cases)))
    element.set("time", _seconds(sum(float(c.get("time", "0")) for c in cases)))


def _element(parent: ET.Element | None, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    """A child element (the root without a parent) whose attributes and text went through the sanitiser
    (text keeps its line breaks)."""
    sanitised = {name: visible(value) for name, value in attributes.items()}
    element = ET.Element(tag, sanitised) if parent is None else ET.SubElement(parent, tag, sanitised)
    if text is not None:
        element.text = visible(text, keep_newlines=True)
    return element
