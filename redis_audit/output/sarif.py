"""SARIF 2.1.0 for code-scanning dashboards (checkov's severity mapping).

One rule per check; a result for each FAIL, WARN and ERROR (waived ones too, with an accepted external
suppression carrying the waiver). Fingerprints are the report's stable finding ids, so a finding keeps its
identity across runs. The location is the deployment's signed report, a fixed path per deployment.
"""

from __future__ import annotations

import json
import re
from typing import Any

from redis_audit.jsonvalue import JsonObject
from redis_audit.output import RenderOptions
from redis_audit.output.sanitize import json_escape_hidden
from redis_audit.output.view import View, effective

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
SECURITY_SEVERITY = {"critical": "10.0", "high": "8.9", "medium": "6.9", "low": "3.9", "info": "0.0"}
REPORTED = ("FAIL", "WARN", "ERROR")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "deployment"


def render(report: JsonObject, options: RenderOptions) -> str:
    view = View(report)
    findings = [f for f in view.findings() if str(f.get("status")) in REPORTED]
    rules: dict[str, dict[str, Any]] = {}
    for f in view.findings():
        rules.setdefault(str(f["checkId"]), _rule(f))
    rule_ids = sorted(rules)
    location = f"redis-audit/{_slug(view.target)}.dsse.json"
    results = [_result(f, view, rule_ids.index(str(f["checkId"])), location) for f in findings]
    properties: dict[str, Any] = {"verdict": view.decision, "validUntil": view.valid_until, "mode": view.mode,
                                  "signoff": view.signoff, "blockers": view.blockers}
    if options.signed:
        properties["envelopeSha256"] = options.signed.envelope_sha256
        properties["signers"] = list(options.signed.signers)
    tool = {"driver": {"name": "redis-audit", "version": view.tool.split(" ")[-1],
                       "informationUri": "https://redis-audit.dev/", "rules": [rules[r] for r in rule_ids]}}
    log = {"$schema": SCHEMA, "version": "2.1.0",
           "runs": [{"tool": tool, "automationDetails": {"id": f"redis-audit/{_slug(view.target)}/"},
                     "results": results, "properties": properties}]}
    return json_escape_hidden(json.dumps(log, indent=2, ensure_ascii=False)) + "\n"


def _rule(f: dict[str, Any]) -> dict[str, Any]:
    severity = str(f.get("severity"))
    return {"id": str(f["checkId"]), "name": _slug(str(f.get("title") or f["checkId"])),
            "shortDescription": {"text": str(f.get("title") or f["checkId"])},
            "help": {"text": str(f.get("remediation") or "")},
            "defaultConfiguration": {"level": LEVEL.get(severity, "warning")},
            "properties": {"security-severity": SECURITY_SEVERITY.get(severity, "5.0"),
                           "tags": ["redis", str(f.get("category", "readiness"))], "severity": severity}}


def _result(f: dict[str, Any], view: View, rule_index: int, location: str) -> dict[str, Any]:
    status = str(f["status"])
    if status == "ERROR":  # could not be evaluated: a review, not a failure (SARIF: level none)
        kind, level = "review", "none"
    else:
        kind, level = "fail", "warning" if status == "WARN" else LEVEL.get(str(f["severity"]), "warning")
    result: dict[str, Any] = {
        "ruleId": str(f["checkId"]), "ruleIndex": rule_index, "kind": kind, "level": level,
        "message": {"text": f"{status}: {f['message']} ({f['resource']})"},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": location}},
                       "logicalLocations": [{"fullyQualifiedName": f"{view.target}/{f['resource']}",
                                             "kind": "resource"}]}],
        "partialFingerprints": {"readinessFindingId/v1": str(f["findingId"])},
        "properties": {"status": status, "effectiveStatus": effective(f), "severity": str(f["severity"]),
                       "blocker": view.is_blocker(f), "evidence": f.get("evidence")},
    }
    if effective(f) == "WAIVED":
        w = view.waiver(f.get("waiver"))
        result["suppressions"] = [{
            "kind": "external", "status": "accepted",
            "justification": f"{w.get('id')}: {w.get('reason')} (approved by {w.get('approver')}, "
                             f"{w.get('ticket')}, expires {w.get('expires')})"}]
    return result
