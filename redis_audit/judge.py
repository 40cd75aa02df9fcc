"""Judging: run every check over the snapshot. Pure: no I/O, no clock beyond what the snapshot holds."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from redis_audit.check import Check, CheckContext, CheckMeta, Scope
from redis_audit.jsonvalue import NotCanonical, ensure_canonical
from redis_audit.model import DEPLOYMENT, Finding, Severity, Status
from redis_audit.profile import Profile
from redis_audit.secret import scrub
from redis_audit.snapshot import FactUnavailable, NodeSnapshot, Snapshot


@dataclass(frozen=True)
class CheckResult:
    """A finding together with the metadata of the check that made it (severity after overrides)."""

    finding: Finding
    meta: CheckMeta
    source: str

    @property
    def severity(self) -> Severity:
        return self.meta.severity


def judge(snapshot: Snapshot, profile: Profile, checks: Sequence[Check]) -> list[CheckResult]:
    results: list[CheckResult] = []
    for check in checks:
        if check.id in profile.general.disabled_checks:
            continue
        meta = _effective_meta(check.meta, profile)
        ctx = CheckContext(snapshot, profile, meta)
        results.extend(CheckResult(f, meta, check.source) for f in run_check(check, ctx))
    return results


def _effective_meta(meta: CheckMeta, profile: Profile) -> CheckMeta:
    override = profile.general.severity_overrides.get(meta.id)
    return dataclasses.replace(meta, severity=Severity(override)) if override else meta


def run_check(check: Check, ctx: CheckContext) -> list[Finding]:
    meta = ctx.meta
    kind = ctx.snapshot.topology.kind
    if kind not in meta.topologies:
        applies = ", ".join(sorted(str(k) for k in meta.topologies))
        return [ctx.skipped(DEPLOYMENT, f"applies to {applies} deployments; this one is {kind}")]
    if meta.scope is Scope.DEPLOYMENT:
        return _guarded(check, ctx, DEPLOYMENT, lambda: check.function(ctx))
    nodes = [n for n in ctx.snapshot.nodes.values() if n.role in meta.roles]
    if not nodes:
        roles = "/".join(sorted(str(r) for r in meta.roles))
        return [ctx.skipped(DEPLOYMENT, f"no reachable {roles} node to judge")]
    findings: list[Finding] = []
    for node in sorted(nodes, key=lambda n: n.address):
        findings.extend(_guarded(check, ctx, str(node.address), _bind(check, ctx, node)))
    return findings


def _bind(check: Check, ctx: CheckContext, node: NodeSnapshot) -> Callable[[], Iterable[Finding]]:
    return lambda: check.function(ctx, node)


def _guarded(check: Check, ctx: CheckContext, resource: str, call: Callable[[], Iterable[Finding]]) -> list[Finding]:
    """Run a check; a missing fact becomes SKIP with its reason, an exception becomes ERROR."""
    try:
        findings = list(call())
        for finding in findings:
            ensure_canonical(finding.evidence)
        return findings
    except FactUnavailable as exc:
        return [ctx.skipped(resource, f"cannot verify: {exc}", fact=exc.fact, reason=exc.error.to_json())]
    except NotCanonical as exc:
        return [ctx.errored(resource, f"check produced evidence outside the report format: {exc}")]
    except Exception as exc:
        return [ctx.errored(resource, f"check raised {type(exc).__name__}: {scrub(exc)}",
                            exception=type(exc).__name__)]


def statuses(results: Iterable[CheckResult]) -> dict[str, int]:
    counts = {str(s): 0 for s in Status}
    for result in results:
        counts[str(result.finding.status)] += 1
    return counts
