"""One self-contained HTML file: inline CSS, no script, every value escaped, the envelope embedded.

The page carries its own proof: the exact envelope bytes are in `<pre id="dsse-envelope">` (escaped
text, so the DOM's textContent is the envelope). Verification stays with the CLI.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from redis_audit.jsonvalue import JsonObject, as_object, as_objects
from redis_audit.output import RenderOptions, charts
from redis_audit.output.sanitize import visible
from redis_audit.output.view import UNSIGNED_NOTE, View, effective

CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d2327;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccd0d4}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #dcdcde;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f6f7f7}
.verdict{display:inline-block;padding:.2rem .7rem;border-radius:.3rem;color:#fff;font-weight:700}
.READY{background:#00794a}.NOT_READY{background:#b32d2e}.INCONCLUSIVE{background:#996800}
.s-FAIL,.s-not-met{color:#b32d2e;font-weight:700}.s-ERROR{color:#8a2b8f;font-weight:700}
.s-WARN,.s-not-verified{color:#996800;font-weight:700}.s-WAIVED{color:#0a6b8a}.s-PASS,.s-met{color:#00794a}
.unsigned{background:#fcf0f1;border:1px solid #b32d2e;padding:.5rem}
pre{white-space:pre-wrap;word-break:break-all;background:#f6f7f7;padding:.5rem;font-size:12px}
code{font-size:13px}
.validity{border:3px solid #996800;background:#fcf9e8;padding:.4rem 1rem;margin:1rem 0}
.valid-until{font-size:1.6rem;font-weight:700;margin:.2rem 0}
.counts .chip{display:inline-block;border:1px solid #dcdcde;border-radius:1rem;padding:.1rem .7rem;margin:.1rem}
figure.chart{margin:.5rem 0}figure.chart svg{max-width:100%;height:auto;border:1px solid #dcdcde}
figcaption{font-size:13px;color:#50575e}
"""


def e(value: object) -> str:
    """HTML-escaped, with control and bidi characters spelled out (sanitize.visible)."""
    return escape(visible(value), quote=True)


def _cls(value: object) -> str:
    return "s-" + "".join(c if c.isalnum() else "-" for c in str(value))


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _status(value: object) -> str:
    return f'<span class="{_cls(value)}">{e(value)}</span>'


def render(report: JsonObject, options: RenderOptions) -> str:
    view = View(report)
    signed = options.signed
    parts = [f"<h1>Redis readiness: {e(view.target)} "
             f'<span class="verdict {e(view.decision)}" id="verdict">{e(view.decision)}</span></h1>']
    if not signed:
        parts.append(f'<p class="unsigned">{e(UNSIGNED_NOTE)}</p>')
    parts.append(_validity(view))
    parts.append(_counts(view))
    parts.append('<h2>What was audited</h2><div id="audited">' + _table(["Field", "Value"], _audited(view)) + "</div>")
    fields = [["Mode", e(view.mode)], ["Profile", f"{e(view.profile_name)} <code>{e(view.profile_digest)}</code>"],
              *[["Profile limit", e(line)] for line in view.limit_lines],
              ["Run", f"{e(view.run.get('id'))}, finished {e(view.run.get('finishedAt'))}"], ["Tool", e(view.tool)]]
    if signed:
        fields += [["Signers", e(", ".join(signed.signers))],
                   ["Envelope sha256", f"<code>{e(signed.envelope_sha256)}</code>"]]
        fields += [[f"Subject {e(s.get('name'))}",
                    f'<code class="subject">sha256:{e(as_object(s.get("digest")).get("sha256"))}</code>']
                   for s in as_objects(signed.statement.get("subject"))]
    parts.append('<h2>Report</h2><div id="report-fields">' + _table(["Field", "Value"], fields) + "</div>")
    parts.append(_signoff(view))
    parts.append("<h2>Blockers</h2>")
    parts.append(_table(["Check", "Severity", "Resource", "Why"],
                        [[e(b["checkId"]), e(b["severity"]), e(b["resource"]), e(b["message"])] for b in view.blockers])
                 if view.blockers else "<p>None.</p>")
    if view.reasons:
        parts.append("<p>Incomplete because:</p><ul>" + "".join(f"<li>{e(r)}</li>" for r in view.reasons) + "</ul>")
    parts.append("<h2>Waivers</h2>")
    entries = view.waiver_entries()
    parts.append(_table(["Waiver", "State", "Check", "Node", "Expires", "Approver", "Ticket", "Reason"],
                        [[e(w["id"]), e(w["state"] + (", expires soon" if w.get("expiringSoon") else "")),
                          e(w["check"]), e(w.get("node") or "all"), e(w["expires"]), e(w["approver"]),
                          e(w["ticket"]), e(w["reason"])] for w in entries]) if entries else "<p>None.</p>")
    parts.append("<h2>Needs attention</h2>")
    attention = view.attention()
    parts.append('<div id="attention">' + (_findings_table(view, attention) if attention else "<p>Nothing.</p>")
                 + "</div>")
    folded = view.not_applicable_findings()
    if folded:
        parts.append(f'<details id="not-applicable"><summary>Not applicable to this deployment ({len(folded)}): '
                     "AWS checks on a self-hosted deployment, checks of another topology</summary>"
                     + _findings_table(view, folded) + "</details>")
    pictures = charts.all_charts(view, e)
    if pictures:
        parts.append('<h2>Pictures</h2><div id="charts">' + "".join(f"<h3>{e(heading)}</h3>{svg}"
                                                                    for heading, svg in pictures) + "</div>")
    parts.append(f"<h2>All findings ({len(view.findings())})</h2>")
    parts.append("".join(_finding(f) for f in view.findings(options.only_attention)))
    if signed:
        parts.append("<h2>Verify</h2><p>This page is a rendering. The signed envelope below is the record; "
                     f"verify it with:</p><pre>{e(signed.verify_command)}</pre>"
                     f'<details><summary>Signed envelope (DSSE)</summary><pre id="dsse-envelope">'
                     f"{escape(signed.envelope.decode('utf-8'))}</pre></details>")  # byte for byte: no visible()
    title = f"Redis readiness: {view.target} {view.decision}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def _findings_table(view: View, found: list[dict[str, Any]]) -> str:
    return _table(["Status", "Severity", "Check", "Resource", "Message"],
                  [[_status(effective(f)) + (" <b>BLOCKER</b>" if view.is_blocker(f) else ""),
                    e(f["severity"]), e(f["checkId"]), e(f["resource"]), e(f["message"])] for f in found])


def _validity(view: View) -> str:
    """The page has no script, so it cannot tell whether it has expired: it says when, loudly."""
    seconds = int(view.run.get("durationMs") or 0) / 1000
    return (f'<div class="validity" id="validity"><p class="valid-until">Valid until <time datetime="'
            f'{e(view.valid_until)}">{e(view.valid_until)}</time></p><p>Audited {e(view.run.get("startedAt"))} to '
            f'<time datetime="{e(view.run.get("finishedAt"))}">{e(view.run.get("finishedAt"))}</time> '
            f"({seconds:g} s, mode {e(view.mode)}). After the time above this report must not gate a "
            "promotion: if that time has passed, run the audit again.</p>"
            f'<p id="evidence">Evidence: {_evidence(view)}</p></div>')


def _evidence(view: View) -> str:
    return f"<strong>{e(view.evidence_line)}</strong>" if view.offline else e(view.evidence_line)


def _counts(view: View) -> str:
    counts = as_object(view.report.get("effectiveCounts") or view.report.get("counts"))
    chips = "".join(f'<span class="chip {_cls(k)}" data-status="{e(k)}">{e(k)} <b>{e(v)}</b></span>'
                    for k, v in counts.items())
    return f'<p class="counts" id="counts">{chips}</p>'


def _audited(view: View) -> list[list[str]]:
    topology = as_object(view.report.get("topology"))
    target = as_object(view.report.get("target"))
    nodes = as_objects(topology.get("nodes"))
    roles: dict[str, int] = {}
    for node in nodes:
        roles[str(node.get("role"))] = roles.get(str(node.get("role")), 0) + 1
    sentinels = len(as_objects(topology.get("sentinels")))
    engines = sorted({f"{o.get('engine')} {o.get('version')}" for f in view.findings() if f.get("checkId") == "SEC-002"
                      and (o := as_object(as_object(f.get("evidence")).get("observed"))).get("version")})
    unreachable = as_objects(topology.get("unreachable"))
    kind = str(topology.get("kind"))
    if topology.get("masterName"):
        kind += f" (master {topology.get('masterName')})"
    node_text = f"{len(nodes)} data node{'s' if len(nodes) != 1 else ''}"
    if roles:
        node_text += " (" + ", ".join(f"{n} {r}" for r, n in sorted(roles.items())) + ")"
    if sentinels:
        node_text += f", {sentinels} Sentinels"
    if unreachable:
        node_text += f", {len(unreachable)} unreachable"
    return [["Deployment", e(view.target)], ["Endpoint", f"<code>{e(target.get('url'))}</code>"],
            ["Topology", e(kind)], ["Engine", e(", ".join(engines) or "not reported")], ["Nodes", e(node_text)],
            ["TLS", e("on" if target.get("tls") else "off")]]


def _signoff(view: View) -> str:
    if not view.signoff:
        return "<h2>Sign-off blockers</h2><p>This profile defines no sign-off blockers.</p>"
    note = view.signoff_note
    rows = []
    for blocker in view.signoff:
        for index, req in enumerate(blocker.get("requirements") or []):
            first = index == 0
            rows.append([e(blocker["title"]) if first else "", _status(blocker["state"]) if first else "",
                         e(req["name"]), _status(req["state"]), e(View.requirement_checks(req))])
    return f'<h2>Sign-off blockers</h2><p>{e(note)}</p><div id="signoff">' + _table(
        ["Blocker", "State", "Requirement", "Requirement state", "Checks"], rows) + "</div>"


def _finding(f: dict[str, Any]) -> str:
    status = effective(f)
    raw = "" if status == f["status"] else f" (raw {e(f['status'])}, waiver {e(f.get('waiver'))})"
    evidence = json.dumps(f.get("evidence"), indent=2, sort_keys=True, ensure_ascii=False)
    return (f"<details><summary>{_status(status)}{raw} · {e(f['severity'])} · {e(f['checkId'])} · "
            f"{e(f['resource'])}: {e(f['message'])}</summary>"
            f"<p>{e(f.get('title', ''))}</p><p>Remediation: {e(f.get('remediation', ''))}</p>"
            f"<pre>{e(evidence)}</pre></details>")
