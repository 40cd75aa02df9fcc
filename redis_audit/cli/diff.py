"""`redis-audit diff OLD NEW`: what changed between two signed reports of one deployment.

Both are verified first. NEW must be valid now (or at --at); OLD is checked as of its own run, since a
baseline is usually past its validUntil. Findings are matched by their stable finding id. Exit 1 when
NEW has a blocker OLD did not have, else 0.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from redis_audit.cli.deprecated import RenamedChoice
from redis_audit.cli.document import check_output, format_option, output_option, write_document
from redis_audit.cli.signed import acceptance_options, load_keys, parse_at, pop_acceptance, verify_file, verify_options
from redis_audit.exitcodes import ExitCode, UsageError
from redis_audit.jsonvalue import JsonObject
from redis_audit.output.sanitize import visible_json
from redis_audit.output.view import View, effective


def compare(old: JsonObject, new: JsonObject) -> dict[str, Any]:
    before = {str(f["findingId"]): f for f in View(old).findings()}
    after = {str(f["findingId"]): f for f in View(new).findings()}
    changed = []
    for fid in sorted(before.keys() & after.keys()):
        a, b = before[fid], after[fid]
        fields = [k for k in ("status", "effectiveStatus", "severity") if a.get(k) != b.get(k)]
        if fields:
            changed.append({"findingId": fid, "checkId": b["checkId"], "resource": b["resource"],
                            "before": {k: a.get(k) for k in fields}, "after": {k: b.get(k) for k in fields}})

    def brief(f: dict[str, Any]) -> dict[str, Any]:
        return {"findingId": f["findingId"], "checkId": f["checkId"], "resource": f["resource"],
                "status": effective(f), "severity": f["severity"], "message": f["message"]}

    def key(b: dict[str, Any]) -> tuple[str, str, str]:
        return (str(b.get("checkId")), str(b.get("resource")), str(b.get("reason")))

    old_blockers = {key(b) for b in View(old).blockers}
    return {
        "verdict": {"before": View(old).decision, "after": View(new).decision,
                    "changed": View(old).decision != View(new).decision},
        "new": [brief(after[f]) for f in sorted(after.keys() - before.keys())],
        "resolved": [brief(before[f]) for f in sorted(before.keys() - after.keys())],
        "changed": changed,
        "newBlockers": [b for b in View(new).blockers if key(b) not in old_blockers],
    }


def text(result: dict[str, Any]) -> str:
    result = visible_json(result)  # resources and messages come from servers: control characters shown
    v = result["verdict"]
    lines = [f"Verdict: {v['before']} -> {v['after']}" + (" (changed)" if v["changed"] else " (unchanged)")]
    for title, rows in (("New findings", result["new"]), ("Resolved findings", result["resolved"])):
        lines.append(f"{title}: {len(rows)}")
        lines += [f"  {r['status']:<7} {r['severity']:<8} {r['checkId']} {r['resource']}: {r['message']}"
                  for r in rows]
    lines.append(f"Changed findings: {len(result['changed'])}")
    for c in result["changed"]:
        moves = ", ".join(f"{k} {c['before'][k]} -> {c['after'][k]}" for k in c["before"])
        lines.append(f"  {c['checkId']} {c['resource']}: {moves}")
    lines.append(f"New blockers: {len(result['newBlockers'])}")
    lines += [f"  {b['checkId']} {b['resource']}: {b['message']}" for b in result["newBlockers"]]
    return "\n".join(lines) + "\n"


def summary(old: Path, new: Path, result: dict[str, Any]) -> str:
    verdict = result["verdict"]
    return (f"{old} -> {new}: verdict {verdict['before']} -> {verdict['after']}, {len(result['new'])} new, "
            f"{len(result['resolved'])} resolved, {len(result['changed'])} changed, "
            f"{len(result['newBlockers'])} new blockers")


@click.command()
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@verify_options
@format_option(["table", "json"], type=RenamedChoice(["table", "json"], {"text": "table"}, "--format"))
@output_option("the comparison")
@acceptance_options
def diff(old: Path, new: Path, keys: tuple[Path, ...], threshold: int, expect_target: str | None, at: str | None,
         output_format: str, output: Path | None, **policy: Any) -> int:
    """Compare two signed reports: new, resolved and changed findings, and the verdict. The policy options
    apply to NEW (OLD is a baseline, verified as of its own run)."""
    check_output(output)
    pinned = load_keys(keys)
    before = verify_file(old, pinned, threshold, expect_target, enforce_expiry=False)
    after = verify_file(new, pinned, threshold, expect_target, parse_at(at), acceptance=pop_acceptance(policy))
    if View(before.report).target != View(after.report).target:
        raise UsageError(f"{old} is about {View(before.report).target}, {new} about {View(after.report).target}")
    result = compare(before.report, after.report)
    write_document(json.dumps(result, indent=2, sort_keys=True) + "\n" if output_format == "json" else text(result),
                   output, summary(old, new, result))
    return int(ExitCode.NOT_READY) if result["newBlockers"] else int(ExitCode.READY)
