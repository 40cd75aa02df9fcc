"""SARIF 2.1.0 for GitHub code scanning and other SARIF gates: error-level results exactly when the verdict
is not READY.

Levels follow the verdict, not the severity alone: a blocker, an error the verdict could not look past
and the verdict itself (NOT_READY, INCONCLUSIVE) are `error`; a WARN or a FAIL below the blocking
severities is `warning`; a waived finding is `note` with an accepted external suppression (so
`sarif --check error` passes a waived READY report, and GitHub shows the alert as dismissed); an error
that does not gate is a `review`. A READY report has no verdict result, so the previous NOT_READY alert
closes on GitHub.

Every result points at a real file the user keeps in the repository (RenderOptions.source: the profile,
the inventory, or the file given with --sarif-location) at the deployment's line, and carries its own
`primaryLocationLineHash`, derived from the stable finding id: GitHub would otherwise hash the line and
merge every finding on it into one alert.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from typing import Any

from redis_audit.jsonvalue import JsonObject, as_object
from redis_audit.output import RenderOptions, SourceFile
from redis_audit.output.sanitize import json_escape_hidden
from redis_audit.output.view import BLOCKING, INCONCLUSIVE, NEEDS_ATTENTION, View, effective

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://redis-audit.dev/"
# GitHub ranks security alerts by this score (critical >= 9.0, high >= 7.0, medium >= 4.0, low > 0).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
# Check categories that are security controls: their rules carry the `security` tag and a security-severity.
SECURITY_CATEGORIES = frozenset({"acl", "authentication", "audit", "encryption", "hardening", "network", "secrets",
                                 "tls"})
VERDICT_RULE, SIGNOFF_RULE, REQUIRED_RULE = "VERDICT", "SIGNOFF", "REQUIRED"
GATE_RULES = (  # id, name, title, what holds, remediation
    (VERDICT_RULE, "ReadinessVerdict", "The deployment is READY for production traffic",
     "The signed report's verdict is READY: no blocker, and nothing the verdict could not look past.",
     "Fix the blockers this report lists (each is its own result), or, for INCONCLUSIVE, make the audit complete: "
     "reach every node, grant the auditor's ACL what the errored checks need."),
    (SIGNOFF_RULE, "SignoffBlockerMet", "Each sign-off blocker is met",
     "In a profile that gates on them (signoff), every sign-off blocker must be met: each of its requirements "
     "verified by checks that passed.",
     "Make the failing checks pass; a requirement that is not verified needs its checks to run and judge (not skip, "
     "not error) on this deployment."),
    (REQUIRED_RULE, "RequiredCheckJudged", "Every required check ran and judged",
     "The profile's required_checks all ran on this deployment and gave a verdict.",
     "Give the auditor what the check needs (facts, ACL), or remove it from [general] required_checks if it does "
     "not apply."),
)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "deployment"


def default_source(deployment: str) -> SourceFile:
    return SourceFile(f"redis-audit/{_slug(deployment)}.toml")


def render(report: JsonObject, options: RenderOptions) -> str:
    view = View(report)
    source = options.source or default_source(view.target)
    rules = _rules(view)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = [_finding_result(f, view, source, index) for f in view.findings()
               if view.gate(f) in (BLOCKING, INCONCLUSIVE, NEEDS_ATTENTION) and effective(f) != "SKIP"]
    results += _gate_results(view, source, index)
    properties: dict[str, Any] = {"verdict": view.decision, "validUntil": view.valid_until, "mode": view.mode,
                                  "profile": view.profile_name, "profileDigest": view.profile_digest,
                                  "profileLimits": view.limit_lines, "evidence": view.evidence_line,
                                  "signoff": view.signoff, "blockers": view.blockers, "reasons": view.reasons}
    if options.signed:
        properties["envelopeSha256"] = options.signed.envelope_sha256
        properties["signers"] = list(options.signed.signers)
    tool = {"driver": {"name": "redis-audit", "version": str(as_object(report.get("tool")).get("version")),
                       "informationUri": INFORMATION_URI, "rules": rules}}
    run = {"tool": tool, "automationDetails": {"id": f"redis-audit/{_slug(view.target)}/"},
           "invocations": [{"executionSuccessful": True, "startTimeUtc": str(view.run.get("startedAt")),
                            "endTimeUtc": str(view.run.get("finishedAt"))}],
           "results": results, "properties": properties}
    log = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return json_escape_hidden(json.dumps(log, indent=2, ensure_ascii=False)) + "\n"


@cache
def _catalogue() -> dict[str, dict[str, Any]]:
    """The installed checks' metadata (what each verifies, its risk, references), for the rule help.

    Descriptive text only: a report judged by checks this machine lacks still renders, from its own fields."""
    from redis_audit.registry import RegistryError, all_checks, discover_packs

    try:
        return {c.id: c.meta.to_json() for c in all_checks(discover_packs())}
    except RegistryError:
        return {}


def _rules(view: View) -> list[dict[str, Any]]:
    first: dict[str, dict[str, Any]] = {}
    for f in view.findings():
        first.setdefault(str(f["checkId"]), f)
    return [*(_check_rule(check_id, first[check_id], view) for check_id in sorted(first)),
            *(_gate_rule(*spec) for spec in GATE_RULES)]


def _check_rule(check_id: str, finding: dict[str, Any], view: View) -> dict[str, Any]:
    meta = _catalogue().get(check_id, {})
    title = str(finding.get("title") or meta.get("title") or check_id)
    severity = str(finding.get("severity"))
    category = str(finding.get("category") or meta.get("category") or "readiness")
    verifies = str(meta.get("verifies") or title)
    risk = str(meta.get("risk") or "")
    remediation = str(finding.get("remediation") or meta.get("remediation") or "")
    references = [str(r) for r in meta.get("references") or []]
    help_uri = references[0] if references else f"{INFORMATION_URI}checks/{check_id}"
    markdown = [f"**{title}**", "", f"Verifies: {verifies}"]
    markdown += [f"Risk: {risk}"] if risk else []
    markdown += ["", f"Remediation: {remediation}"] + ([""] + [f"- <{r}>" for r in references] if references else [])
    blocking = severity in _blocking_severities(view)
    tags = ["redis", category] + (["security"] if category in SECURITY_CATEGORIES else [])
    properties: dict[str, Any] = {"tags": tags, "severity": severity, "precision": "very-high",
                                  "problem.severity": "error" if blocking else "warning"}
    if "security" in tags:
        properties["security-severity"] = SECURITY_SEVERITY.get(severity, "5.5")
    return {"id": check_id, "name": _pascal(title), "shortDescription": {"text": title},
            "fullDescription": {"text": f"{verifies}{' Risk: ' + risk if risk else ''}"},
            "help": {"text": f"{verifies}\n\nRemediation: {remediation}", "markdown": "\n".join(markdown)},
            "helpUri": help_uri, "defaultConfiguration": {"level": "error" if blocking else "warning"},
            "properties": properties}


def _gate_rule(rule_id: str, name: str, title: str, verifies: str, remediation: str) -> dict[str, Any]:
    return {"id": rule_id, "name": name, "shortDescription": {"text": title}, "fullDescription": {"text": verifies},
            "help": {"text": f"{verifies}\n\nRemediation: {remediation}",
                     "markdown": f"**{title}**\n\n{verifies}\n\nRemediation: {remediation}"},
            "helpUri": f"{INFORMATION_URI}verdict", "defaultConfiguration": {"level": "error"},
            "properties": {"tags": ["redis", "readiness"], "precision": "very-high", "problem.severity": "error"}}


def _blocking_severities(view: View) -> set[str]:
    general = as_object(as_object(as_object(view.report.get("profile")).get("values")).get("general"))
    severities = general.get("blocking_severities")
    return {str(s) for s in severities} if isinstance(severities, list) else {"critical", "high"}


def _pascal(text: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in re.findall(r"[A-Za-z0-9]+", text)) or "Check"


def _location(view: View, source: SourceFile, resource: str) -> dict[str, Any]:
    return {"physicalLocation": {"artifactLocation": {"uri": source.path},
                                 "region": {"startLine": source.line}},
            "logicalLocations": [{"fullyQualifiedName": f"{view.target}/{resource}", "kind": "resource"}]}


def _fingerprints(finding_id: str) -> dict[str, str]:
    # GitHub keys alerts on primaryLocationLineHash ("<hash>:<n>") and computes it from the line's text when
    # absent: every result on the deployment's line would become one alert. The finding id is per
    # deployment, node and check, and stable across runs.
    return {"primaryLocationLineHash": f"{finding_id[:16]}:1", "readinessFindingId/v1": finding_id}


def _finding_result(f: dict[str, Any], view: View, source: SourceFile, index: dict[str, int]) -> dict[str, Any]:
    status, gate = effective(f), view.gate(f)
    if gate in (BLOCKING, INCONCLUSIVE):
        kind, level = "fail", "error"
    elif status == "WAIVED":
        kind, level = "fail", "note"
    elif status == "ERROR":  # could not be evaluated, and the verdict does not depend on it
        kind, level = "review", "none"
    else:
        kind, level = "fail", "warning"
    why = {BLOCKING: "blocker", INCONCLUSIVE: "the audit could not conclude"}.get(gate, "not blocking")
    result: dict[str, Any] = {
        "ruleId": str(f["checkId"]), "ruleIndex": index[str(f["checkId"])], "kind": kind, "level": level,
        "message": {"text": f"{status} ({why}): {f['message']} ({view.target} {f['resource']})"},
        "locations": [_location(view, source, str(f["resource"]))],
        "partialFingerprints": _fingerprints(str(f["findingId"])),
        "properties": {"status": str(f["status"]), "effectiveStatus": status, "severity": str(f["severity"]),
                       "gate": gate, "blocker": gate == BLOCKING, "deployment": view.target,
                       "resource": str(f["resource"]), "evidence": f.get("evidence")},
    }
    if status == "WAIVED":
        w = view.waiver(f.get("waiver"))
        result["suppressions"] = [{
            "kind": "external", "status": "accepted",
            "justification": f"{w.get('id')}: {w.get('reason')} (approved by {w.get('approver')}, "
                             f"{w.get('ticket')}, expires {w.get('expires')})"}]
    return result


def _gate_results(view: View, source: SourceFile, index: dict[str, int]) -> list[dict[str, Any]]:
    """The verdict (unless READY), and each blocker that is no finding of its own: a sign-off blocker, a
    required check that did not run or only skipped."""
    results = []
    for b in view.blockers:
        reason = str(b.get("reason"))
        if reason == "failed" or (reason == "required-not-verified" and _has_findings(view, str(b.get("checkId")))):
            continue  # the finding's own result already says it
        rule = SIGNOFF_RULE if reason.startswith("signoff") else REQUIRED_RULE
        results.append(_gate_result(view, source, index, rule, f"{reason}: {b.get('message')}",
                                    f"{rule}|{b.get('checkId')}|{reason}", {"blocker": b}))
    if view.decision != "READY":
        detail = "; ".join(view.reasons) if view.decision == "INCONCLUSIVE" else \
            ", ".join(sorted({f"{b.get('checkId')}" for b in view.blockers}))
        results.append(_gate_result(view, source, index, VERDICT_RULE,
                                    f"{view.decision}: {view.target} is not ready ({detail})", VERDICT_RULE,
                                    {"decision": view.decision, "validUntil": view.valid_until}))
    return results


def _has_findings(view: View, check_id: str) -> bool:
    return any(f.get("checkId") == check_id for f in view.findings())


def _gate_result(view: View, source: SourceFile, index: dict[str, int], rule: str, text: str, identity: str,
                 properties: dict[str, Any]) -> dict[str, Any]:
    digest = hashlib.sha256(f"{identity}|{view.target}".encode()).hexdigest()[:24]
    return {"ruleId": rule, "ruleIndex": index[rule], "kind": "fail", "level": "error",
            "message": {"text": text}, "locations": [_location(view, source, "deployment")],
            "partialFingerprints": _fingerprints(digest),
            "properties": {"deployment": view.target, "blocker": rule != VERDICT_RULE, **properties}}
