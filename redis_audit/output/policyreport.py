"""A Kubernetes PolicyReport (`wgpolicyk8s.io/v1alpha2`), the report that Kyverno's policy-reporter and other
dashboards read: one result per finding, one for the verdict and one per sign-off blocker.

Apply it with `kubectl apply -n NAMESPACE -f report.json` (JSON is YAML). The name and labels come from
the deployment, so a scheduled re-run replaces the previous report instead of adding one.

Mapping: policy = the check id, rule = the check's title as a slug, result = the effective status
(PASS/INFO pass, FAIL fail, WARN warn, ERROR error, SKIP skip, WAIVED skip with the waiver in its
properties, as Kyverno reports a policy exception). Every string comes from the report and stays data: the
output is JSON, so nothing a server said can change its structure.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from redis_audit.jsonvalue import JsonObject
from redis_audit.output import RenderOptions
from redis_audit.output.sanitize import json_escape_hidden
from redis_audit.output.view import View, effective
from redis_audit.waivers import parse_rfc3339

API_VERSION = "wgpolicyk8s.io/v1alpha2"
SOURCE = "redis-audit"
RESULT = {"PASS": "pass", "INFO": "pass", "FAIL": "fail", "WARN": "warn", "ERROR": "error", "SKIP": "skip",
          "WAIVED": "skip"}
VERDICT_RESULT = {"READY": "pass", "NOT_READY": "fail", "INCONCLUSIVE": "error"}
SIGNOFF_RESULT = {"met": "pass", "not met": "fail"}
MAX_PROPERTY = 4096  # evidence is cut here: the object must stay well under etcd's size limit


def dns_name(text: str, limit: int = 253) -> str:
    """A DNS-1123 subdomain for metadata.name; a hash suffix keeps distinct inputs distinct."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "deployment"
    if slug != text or len(slug) > limit:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        slug = f"{slug[:limit - 9].rstrip('-')}-{digest}"
    return slug


def label_value(text: str) -> str:
    """A Kubernetes label value: at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends."""
    value = re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)


def _timestamp(text: object) -> dict[str, int]:
    try:
        seconds = int(parse_rfc3339(str(text)).timestamp())
    except ValueError:
        seconds = 0
    return {"seconds": seconds, "nanos": 0}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:100] or "check"


def render(report: JsonObject, options: RenderOptions) -> str:
    view = View(report)
    when = _timestamp(view.run.get("finishedAt"))
    results = [_verdict(view, when), *(_signoff(view, b, when) for b in view.signoff),
               *(_finding(view, f, when) for f in view.findings())]
    summary = {key: sum(1 for r in results if r["result"] == key) for key in ("pass", "fail", "warn", "error", "skip")}
    annotations = {"redis-audit.dev/deployment": view.target, "redis-audit.dev/valid-until": view.valid_until,
                   "redis-audit.dev/run-id": str(view.run.get("id")), "redis-audit.dev/verdict": view.decision,
                   "redis-audit.dev/profile-digest": view.profile_digest}
    if options.signed:
        annotations["redis-audit.dev/envelope-sha256"] = options.signed.envelope_sha256
    document = {
        "apiVersion": API_VERSION,
        "kind": "PolicyReport",
        "metadata": {
            "name": dns_name(f"redis-audit-{view.target}"),
            "labels": {"app.kubernetes.io/managed-by": "redis-audit",
                       "redis-audit.dev/deployment": label_value(view.target),
                       "redis-audit.dev/verdict": view.decision, "redis-audit.dev/mode": label_value(view.mode)},
            "annotations": annotations,
        },
        "summary": summary,
        "results": results,
    }
    # Exact values; DEL, C1 and bidi controls as \u escapes so the file is safe to cat.
    return json_escape_hidden(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"


def _result(policy: str, rule: str, result: str, message: str, when: dict[str, int], *, severity: str,
            category: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"source": SOURCE, "policy": policy, "rule": rule, "result": result, "scored": True,
            "severity": severity, "category": category, "message": message, "timestamp": when,
            "properties": {k: v if isinstance(v, str) else json.dumps(v, sort_keys=True, ensure_ascii=False)
                           for k, v in properties.items() if v is not None}}


def _verdict(view: View, when: dict[str, int]) -> dict[str, Any]:
    blockers = sorted({str(b.get("checkId")) for b in view.blockers})
    message = f"{view.decision}" + (f": blocked by {', '.join(blockers)}" if blockers else "")
    if view.reasons:
        message += f" (incomplete: {'; '.join(view.reasons)})"
    return _result("redis-audit-verdict", "readiness", VERDICT_RESULT.get(view.decision, "error"), message, when,
                   severity="critical", category="readiness",
                   properties={"verdict": view.decision, "validUntil": view.valid_until, "mode": view.mode,
                               "blockers": str(len(view.blockers))})


def _signoff(view: View, blocker: dict[str, Any], when: dict[str, int]) -> dict[str, Any]:
    state = str(blocker.get("state"))
    # In a gating profile an unverified blocker blocks promotion like an unmet one.
    result = SIGNOFF_RESULT.get(state, "fail" if view.signoff_gate else "warn")
    requirements = "; ".join(f"{r.get('name')}: {r.get('state')}" for r in blocker.get("requirements") or [])
    return _result("redis-audit-signoff", str(blocker.get("id")), result,
                   f"{blocker.get('title')}: {state}", when, severity="critical", category="sign-off",
                   properties={"state": state, "gate": "true" if view.signoff_gate else "false",
                               "requirements": requirements})


def _finding(view: View, f: dict[str, Any], when: dict[str, int]) -> dict[str, Any]:
    status = effective(f)
    evidence = json.dumps(f.get("evidence"), sort_keys=True, ensure_ascii=False)
    if len(evidence) > MAX_PROPERTY:
        evidence = evidence[:MAX_PROPERTY - 1] + "…"
    return _result(str(f.get("checkId")), _slug(str(f.get("title") or f.get("checkId"))), RESULT.get(status, "error"),
                   f"{f.get('message')} ({f.get('resource')})", when, severity=str(f.get("severity")),
                   category=str(f.get("category")),
                   properties={"resource": str(f.get("resource")), "status": str(f.get("status")),
                               "effectiveStatus": status, "findingId": str(f.get("findingId")),
                               "waiver": f.get("waiver"), "blocker": "true" if view.is_blocker(f) else "false",
                               "title": str(f.get("title")), "remediation": str(f.get("remediation")),
                               "evidence": evidence})
