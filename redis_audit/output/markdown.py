"""Markdown for the sign-off ticket: who signed what, the sign-off blockers, waivers, what needs
attention, every finding (folded), and the exact command that verifies the attached envelope."""

from __future__ import annotations

import html
import re

from redis_audit.jsonvalue import JsonObject
from redis_audit.output import RenderOptions
from redis_audit.output.sanitize import visible, visible_json
from redis_audit.output.view import UNSIGNED_NOTE, View, effective

STATE_ICON = {"met": "✅ met", "not met": "❌ not met", "not verified": "⚠️ not verified"}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def md(text: object) -> str:
    """A table-safe, markup-free cell: control characters visible, HTML escaped, markdown characters
    backslash-escaped (pipes included), one line."""
    escaped = html.escape(" ".join(visible(text).split()), quote=False)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", escaped)


def render(report: JsonObject, options: RenderOptions) -> str:
    report = visible_json(report)  # also what is not a table cell (statuses, the decision)
    view = View(report)
    signed = options.signed
    out = [f"# Redis readiness: {md(view.target)} — **{view.decision}**", ""]
    if not signed:
        out += [f"> {md(UNSIGNED_NOTE)}", ""]
    out += ["| Field | Value |", "|---|---|",
            f"| Deployment | {md(view.target)} |",
            f"| Verdict | **{view.decision}** |",
            f"| Valid until | {md(view.valid_until)} |",
            f"| Mode | {md(view.mode)} |",
            f"| Profile | {md(view.profile_name)} (`{md(view.profile_digest)}`) |",
            *[f"| Profile limit | {md(line)} |" for line in view.limit_lines],
            f"| Evidence | {'**' if view.offline else ''}{md(view.evidence_line)}{'**' if view.offline else ''} |",
            f"| Run | {md(view.run.get('id'))}, finished {md(view.run.get('finishedAt'))} |",
            f"| Tool | {md(view.tool)} |"]
    if signed:
        out += [f"| Signers | {md(', '.join(signed.signers))} |",
                f"| Envelope sha256 | `{signed.envelope_sha256}` |"]
    out += ["", "## Sign-off blockers", ""]
    if view.signoff:
        gate = view.signoff_note
        out += [gate, "", "| Blocker | State | Requirement | Requirement state | Checks |", "|---|---|---|---|---|"]
        for blocker in view.signoff:
            for index, req in enumerate(blocker.get("requirements") or []):
                first = index == 0
                out.append(f"| {md(blocker['title']) if first else ''} "
                           f"| {STATE_ICON.get(str(blocker['state']), md(blocker['state'])) if first else ''} "
                           f"| {md(req['name'])} | {md(req['state'])} | {md(View.requirement_checks(req))} |")
    else:
        out.append("This profile defines no sign-off blockers.")
    out += ["", "## Blockers", ""]
    if view.blockers:
        out += ["| Check | Severity | Resource | Why |", "|---|---|---|---|"]
        out += [f"| {md(b['checkId'])} | {md(b['severity'])} | {md(b['resource'])} | {md(b['message'])} |"
                for b in view.blockers]
    else:
        out.append("None.")
    if view.reasons:
        out += ["", "Incomplete because:", ""] + [f"- {md(r)}" for r in view.reasons]
    out += ["", "## Waivers", ""]
    entries = view.waiver_entries()
    if entries:
        out += ["| Waiver | State | Check | Node | Expires | Approver | Ticket | Reason |",
                "|---|---|---|---|---|---|---|---|"]
        for w in entries:
            state = f"{w['state']}, expires soon" if w.get("expiringSoon") else w["state"]
            out.append(f"| {md(w['id'])} | {md(state)} | {md(w['check'])} | {md(w.get('node') or 'all')} "
                       f"| {md(w['expires'])} | {md(w['approver'])} | {md(w['ticket'])} | {md(w['reason'])} |")
    else:
        out.append("None.")
    out += ["", "## Needs attention", ""]
    attention = view.attention()
    if attention:
        out += ["| Status | Severity | Check | Resource | Message |", "|---|---|---|---|---|"]
        out += [f"| {effective(f)}{' (blocker)' if view.is_blocker(f) else ''} | {md(f['severity'])} "
                f"| {md(f['checkId'])} | {md(f['resource'])} | {md(f['message'])} |" for f in attention]
    else:
        out.append("Nothing.")
    out += ["", f"<details><summary>All findings ({len(view.findings())})</summary>", "",
            "| Status | Raw | Severity | Check | Resource | Message | Remediation |", "|---|---|---|---|---|---|---|"]
    out += [f"| {effective(f)} | {md(f['status'])} | {md(f['severity'])} | {md(f['checkId'])} "
            f"| {md(f['resource'])} | {md(f['message'])} | {md(f.get('remediation', ''))} |" for f in view.findings()]
    out += ["", "</details>", "", "## Verify", ""]
    if signed:
        out += _fenced(visible(signed.verify_command), "sh")
    else:
        out.append("This report is not signed and cannot be verified.")
    return "\n".join(out) + "\n"


def _fenced(text: str, language: str) -> list[str]:
    """A code block whose fence is longer than any run of backticks in `text` (a path may hold some)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + language, text, fence]
