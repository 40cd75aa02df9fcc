"""The terminal table: the verdict, the blockers and the sign-off blockers first, then every finding."""

from __future__ import annotations

from tabulate import tabulate

from redis_audit.jsonvalue import JsonObject, as_object
from redis_audit.output import RenderOptions
from redis_audit.output.sanitize import visible, visible_json
from redis_audit.output.view import UNSIGNED_NOTE, View, effective, not_applicable

COLORS = {"READY": "32", "NOT_READY": "31", "INCONCLUSIVE": "33", "FAIL": "31", "ERROR": "35",
          "WARN": "33", "PASS": "32", "WAIVED": "36", "met": "32", "not met": "31", "not verified": "33"}


def _paint(text: str, options: RenderOptions) -> str:
    code = COLORS.get(text)
    return f"\033[{code}m{text}\033[0m" if options.color and code else text


def render(report: JsonObject, options: RenderOptions) -> str:
    report = visible_json(report)  # server-supplied text shows its control characters, never runs them
    view = View(report)
    topology = as_object(report.get("topology"))
    lines = [
        f"Target:  {view.target}  ({topology.get('kind')}, {len(topology.get('nodes') or [])} data nodes, "
        f"{len(topology.get('sentinels') or [])} sentinels)",
        f"Profile: {view.profile_name}  {view.profile_digest}",
        *[f"         {line}" for line in view.limit_lines],
        f"Mode: {view.mode}   Valid until: {view.valid_until}",
        f"Evidence: {view.evidence_line}",
        f"Verdict: {_paint(view.decision, options)}",
    ]
    if view.reasons:  # first: an audit that could not reach the target must say so before anything else
        lines += ["", "Incomplete because:"] + [f"  - {r}" for r in view.reasons]
    if view.blockers:
        lines += ["", "Blockers:"]
        lines += [f"  - {b['checkId']} [{b['severity']}] {b['resource']}: {b['message']}" for b in view.blockers]
    if view.signoff:
        gate = "gating" if view.signoff_gate else "not gating in this profile"
        lines += ["", f"Sign-off blockers ({gate}):"]
        for blocker in view.signoff:
            lines.append(f"  {_paint(str(blocker['state']), options):<14} {blocker['title']}")
            for req in blocker.get("requirements") or []:
                lines.append(f"      {req['state']:<13} {req['name']}: {View.requirement_checks(req)}")
    lines += _waiver_lines(view)
    rows = []
    folded: dict[str, list[str]] = {}
    for f in view.findings(options.only_attention):
        status = effective(f)
        fold = _fold_reason(f) if status == "SKIP" else None
        if fold is not None:
            folded.setdefault(fold, []).append(str(f["checkId"]))
            continue
        mark = "BLOCKER" if view.is_blocker(f) else ""
        rows.append([_paint(status, options), f["severity"], f["checkId"], f["resource"], mark, _short(f["message"])])
    lines += ["", tabulate(rows, headers=["Status", "Severity", "Check", "Resource", "", "Message"],
                           tablefmt="simple")]
    for why, ids in folded.items():
        unique = sorted(set(ids))
        lines.append(f"SKIP  {len(ids)} more, {why}: {', '.join(unique[:12])}{' ...' if len(unique) > 12 else ''}")
    lines += ["", view.counts()]
    if options.signed:
        lines += [f"Envelope sha256: {options.signed.envelope_sha256}",
                  f"Signed by: {visible(', '.join(options.signed.signers))}"]
    else:
        lines.append(UNSIGNED_NOTE)
    return "\n".join(lines) + "\n"


def _fold_reason(finding: dict[str, object]) -> str | None:
    """Why a SKIP row is folded into one line: it does not apply here, or there was nothing to judge."""
    if not_applicable(finding):
        return "not applicable to this deployment (folded)"
    if str(finding.get("message", "")).startswith("no reachable "):
        return "not judged: no node of their role was reached (folded)"
    return None


def _waiver_lines(view: View) -> list[str]:
    entries = view.waiver_entries()
    if not entries:
        return []
    lines = ["", "Waivers:"]
    for w in entries:
        soon = ", expires soon" if w.get("expiringSoon") else ""
        lines.append(f"  {w['state']:<8} {w['id']} {w['check']} until {w['expires']} by {w['approver']} "
                     f"({w['ticket']}{soon}): {w['reason']}")
    return lines


def _short(text: object, width: int = 100) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"
