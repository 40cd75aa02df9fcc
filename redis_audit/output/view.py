"""What every rendering shows, read once from the report JSON: findings in attention order, blockers,
the sign-off blockers, waivers. Renderers format; they do not decide."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis_audit.jsonvalue import JsonObject, as_object, as_objects

# Rows: what needs action first, what passed last; then by severity.
STATUS_ORDER = ("FAIL", "ERROR", "WAIVED", "WARN", "SKIP", "INFO", "PASS")
SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")
ATTENTION = frozenset({"FAIL", "ERROR", "WAIVED", "WARN", "SKIP"})
# View.gate: how the verdict treats a finding.
BLOCKING, INCONCLUSIVE, NEEDS_ATTENTION, PASSED, NOT_APPLICABLE = (
    "blocking", "inconclusive", "needs-attention", "passed", "not-applicable")
UNSIGNED_NOTE = "UNSIGNED: for local exploration only; a promotion gate needs the signed envelope (run --sign-with)."


def effective(finding: dict[str, Any]) -> str:
    return str(finding.get("effectiveStatus", finding.get("status")))


def not_applicable(finding: dict[str, Any]) -> bool:
    """A SKIP that needs no action (an AWS check on a self-hosted deployment, a cluster check on Sentinel).

    Reports carry `evidence.notApplicable`; older ones are recognised by the judge's own wording."""
    if effective(finding) != "SKIP":
        return False
    return as_object(finding.get("evidence")).get("notApplicable") is True or \
        str(finding.get("message", "")).startswith("applies to ")


def _value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _rank(order: tuple[str, ...], value: object) -> int:
    return order.index(str(value)) if str(value) in order else len(order)


@dataclass(frozen=True)
class View:
    report: JsonObject

    @property
    def target(self) -> str:
        return str(as_object(self.report.get("target")).get("name"))

    @property
    def verdict(self) -> dict[str, Any]:
        return as_object(self.report.get("verdict"))

    @property
    def decision(self) -> str:
        return str(self.verdict.get("decision"))

    @property
    def valid_until(self) -> str:
        return str(self.verdict.get("validUntil"))

    @property
    def run(self) -> dict[str, Any]:
        return as_object(self.report.get("run"))

    @property
    def mode(self) -> str:
        return str(self.run.get("mode", "local"))

    @property
    def profile_name(self) -> str:
        """The profile by its origin (built-in of a release, or the file): never a name a file can claim."""
        profile = as_object(self.report.get("profile"))
        origin = as_object(profile.get("origin"))
        if origin.get("kind") == "builtin":
            return f"builtin:{origin.get('name')} (redis-audit {origin.get('toolVersion')})"
        if origin.get("kind") == "file":
            return f"file {origin.get('path')} (declares name {profile.get('declaredName')!r})"
        return f"inline (declares name {profile.get('declaredName')!r})"

    @property
    def evidence(self) -> dict[str, Any]:
        return as_object(self.report.get("evidence"))

    @property
    def offline(self) -> bool:
        return self.evidence.get("source") == "snapshot"

    @property
    def evidence_line(self) -> str:
        """Live, or judged offline from a snapshot: said in every rendering."""
        e = self.evidence
        if self.offline:
            file = as_object(e.get("snapshot"))
            return (f"judged offline from a snapshot collected at {e.get('collectionStartedAt')} (as the snapshot "
                    f"states; {file.get('name')}, sha256:{file.get('sha256')})")
        return f"collected live, {e.get('collectionStartedAt')} to {e.get('collectionFinishedAt')}"

    @property
    def limit_lines(self) -> list[str]:
        """The issuing limits the sign-off floor raised, and those this profile relaxes."""
        limits = as_object(as_object(self.report.get("profile")).get("limits"))
        lines = [f"{limits.get('floor')} floor: {r.get('key')} {_value(r.get('given'))} -> {_value(r.get('used'))}"
                 for r in as_objects(limits.get("raised"))]
        lines += [f"relaxed: {r.get('key')} = {_value(r.get('value'))} (built-in: {_value(r.get('builtin'))})"
                  for r in as_objects(limits.get("relaxed"))]
        return lines

    @property
    def profile_digest(self) -> str:
        return str(as_object(self.report.get("profile")).get("digest"))

    @property
    def tool(self) -> str:
        tool = as_object(self.report.get("tool"))
        return f"{tool.get('name')} {tool.get('version')}"

    def findings(self, only_attention: bool = False) -> list[dict[str, Any]]:
        found = as_objects(self.report.get("findings"))
        found.sort(key=lambda f: (_rank(STATUS_ORDER, effective(f)), _rank(SEVERITY_ORDER, f.get("severity")),
                                  str(f.get("checkId")), str(f.get("resource"))))
        return [f for f in found if not only_attention or effective(f) in ATTENTION]

    def attention(self) -> list[dict[str, Any]]:
        """What a reader must look at: not-applicable SKIPs are left out (see `not_applicable_findings`)."""
        return [f for f in self.findings(only_attention=True) if not not_applicable(f)]

    def not_applicable_findings(self) -> list[dict[str, Any]]:
        return [f for f in self.findings() if not_applicable(f)]

    @property
    def blockers(self) -> list[dict[str, Any]]:
        return as_objects(self.verdict.get("blockers"))

    def is_blocker(self, finding: dict[str, Any]) -> bool:
        return any(b.get("checkId") == finding.get("checkId") and b.get("resource") == finding.get("resource")
                   for b in self.blockers)

    def gate(self, finding: dict[str, Any]) -> str:
        """How the verdict treats this finding, for renderings that CI systems gate on (JUnit, SARIF):
        BLOCKING (a blocker: the verdict is NOT_READY because of it), INCONCLUSIVE (an error the verdict
        could not look past), NEEDS_ATTENTION (flagged, but the verdict does not depend on it: a WARN, a FAIL
        below the blocking severities, an error that does not gate, a waived finding), PASSED, NOT_APPLICABLE.
        Read from the verdict the report carries; nothing is decided here."""
        status = effective(finding)
        if self.is_blocker(finding) or (status == "SKIP" and self._required_skipped(finding)):
            return BLOCKING
        if status == "ERROR" and any(r.startswith(f"{finding.get('checkId')} on {finding.get('resource')}: ")
                                     for r in self.reasons):
            return INCONCLUSIVE
        if status in ("FAIL", "WARN", "ERROR", "WAIVED"):
            return NEEDS_ATTENTION
        return NOT_APPLICABLE if status == "SKIP" else PASSED

    def _required_skipped(self, finding: dict[str, Any]) -> bool:
        return any(b.get("reason") == "required-not-verified" and b.get("checkId") == finding.get("checkId")
                   for b in self.blockers)

    @property
    def run_seconds(self) -> float:
        duration = self.run.get("durationMs")
        return duration / 1000 if isinstance(duration, int) else 0.0

    @property
    def reasons(self) -> list[str]:
        reasons = self.verdict.get("reasons")
        return [str(r) for r in reasons] if isinstance(reasons, list) else []

    @property
    def signoff_gate(self) -> bool:
        return as_object(self.verdict.get("signoff")).get("gate") is True

    @property
    def signoff(self) -> list[dict[str, Any]]:
        return as_objects(as_object(self.verdict.get("signoff")).get("blockers"))

    @property
    def signoff_note(self) -> str:
        if self.signoff_gate:
            return "These gate the verdict: each must be met for READY."
        return "Shown for progress; this profile does not gate on them (the signoff profile does)."

    @staticmethod
    def requirement_checks(requirement: dict[str, Any]) -> str:
        """"TLS-001 passed, AUTH-001 failed" — the checks behind one requirement."""
        return ", ".join(f"{c.get('check')} {c.get('state')}" for c in as_objects(requirement.get("checks")))

    @property
    def waivers(self) -> dict[str, Any]:
        return as_object(self.report.get("waivers"))

    def waiver_entries(self, state: str | None = None) -> list[dict[str, Any]]:
        return [w for w in as_objects(self.waivers.get("entries")) if state is None or w.get("state") == state]

    def waiver(self, waiver_id: object) -> dict[str, Any]:
        return next((w for w in self.waiver_entries() if w.get("id") == waiver_id), {})

    def counts(self) -> str:
        counts = as_object(self.report.get("effectiveCounts") or self.report.get("counts"))
        return "  ".join(f"{k}={v}" for k, v in counts.items() if v)
