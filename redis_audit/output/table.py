"""The terminal table: the verdict and the blockers first, then every finding, worst first."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from redis_audit.jsonvalue import JsonObject
from redis_audit.output import RenderOptions

COLORS = {"READY": "32", "NOT_READY": "31", "INCONCLUSIVE": "33", "FAIL": "31", "ERROR": "35",
          "WARN": "33", "PASS": "32"}
STATUS_ORDER = ["ERROR", "FAIL", "WARN", "WAIVED", "INFO", "SKIP", "PASS"]
SEVERITY_ORDER = ["critical", "high", "medium", "low", "info"]


def _paint(text: str, options: RenderOptions) -> str:
    code = COLORS.get(text)
    return f"\033[{code}m{text}\033[0m" if options.color and code else text


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def render(report: JsonObject, options: RenderOptions) -> str:
    verdict = _dict(report.get("verdict"))
    target = _dict(report.get("target"))
    topology = _dict(report.get("topology"))
    lines = [
        f"Target:  {target.get('name')}  ({topology.get('kind')}, {len(topology.get('nodes') or [])} data nodes, "
        f"{len(topology.get('sentinels') or [])} sentinels)",
        f"Profile: {_dict(report.get('profile')).get('name')}",
        f"Verdict: {_paint(str(verdict.get('decision')), options)}",
    ]
    blockers = verdict.get("blockers") or []
    if isinstance(blockers, list) and blockers:
        lines.append("")
        lines.append("Blockers:")
        lines.extend(f"  - {b['checkId']} [{b['severity']}] {b['resource']}: {b['message']}" for b in blockers)
    reasons = verdict.get("reasons") or []
    if isinstance(reasons, list) and reasons:
        lines.append("")
        lines.append("Incomplete because:")
        lines.extend(f"  - {r}" for r in reasons)
    rows = []
    findings = [f for f in report.get("findings") or [] if isinstance(f, dict)]  # type: ignore[union-attr]
    findings.sort(key=lambda f: (_rank(STATUS_ORDER, f.get("effectiveStatus", f["status"])),
                                 _rank(SEVERITY_ORDER, f["severity"]), f["checkId"], f["resource"]))
    for f in findings:
        status = str(f.get("effectiveStatus", f["status"]))
        if options.only_attention and status == "PASS":
            continue
        rows.append([_paint(status, options), f["severity"], f["checkId"], f["resource"], _short(f["message"])])
    lines.append("")
    lines.append(tabulate(rows, headers=["Status", "Severity", "Check", "Resource", "Message"], tablefmt="simple"))
    counts = _dict(report.get("counts"))
    lines.append("")
    lines.append("  ".join(f"{k}={v}" for k, v in counts.items() if v))
    return "\n".join(lines) + "\n"


def _rank(order: list[str], value: object) -> int:
    return order.index(str(value)) if str(value) in order else len(order)


def _short(text: object, width: int = 100) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"
