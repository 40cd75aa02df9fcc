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
from redis_audit.topology import Role


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
    """The check's own evaluation, then each extension whose facts are present."""
    meta = ctx.meta
    kind = ctx.snapshot.topology.kind
    if kind not in meta.topologies:
        applies = ", ".join(sorted(str(k) for k in meta.topologies))
        findings = [ctx.not_applicable(DEPLOYMENT, f"applies to {applies} deployments; this one is {kind}")]
    else:
        findings = _evaluate(check.function, meta.scope, meta.roles, ctx)
    for extension in check.extensions:
        if extension.applies(ctx.snapshot):
            findings.extend(_evaluate(extension.function, extension.scope, extension.roles, ctx))
    return findings


def _evaluate(function: Callable[..., Iterable[Finding]], scope: Scope, roles: frozenset[Role],
              ctx: CheckContext) -> list[Finding]:
    if scope is Scope.DEPLOYMENT:
        return _guarded(ctx, DEPLOYMENT, lambda: function(ctx))
    nodes = [n for n in ctx.snapshot.nodes.values() if n.role in roles]
    if not nodes:
        names = "/".join(sorted(str(r) for r in roles))
        return [ctx.skipped(DEPLOYMENT, f"no reachable {names} node to judge")]
    findings: list[Finding] = []
    for node in sorted(nodes, key=lambda n: n.address):
        findings.extend(_guarded(ctx, str(node.address), _bind(function, ctx, node)))
    return findings


def _bind(function: Callable[..., Iterable[Finding]], ctx: CheckContext,
          node: NodeSnapshot) -> Callable[[], Iterable[Finding]]:
    return lambda: function(ctx, node)


def _guarded(ctx: CheckContext, resource: str, call: Callable[[], Iterable[Finding]]) -> list[Finding]:
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
