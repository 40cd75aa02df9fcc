"""Reports built offline, without a server: findings chosen by the test, the real report and verdict code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from redis_audit.check import CheckMeta
from redis_audit.judge import CheckResult
from redis_audit.model import Finding, Severity, Status
from redis_audit.profile import Profile, ProfileOrigin, default_profile
from redis_audit.provenance import Evidence
from redis_audit.report import Report
from redis_audit.snapshot import Snapshot, TargetInfo
from redis_audit.topology import DeploymentKind, Topology
from redis_audit.waivers import WaiverFile, rfc3339

DEPLOYMENT = "payments-cache"
FINISHED = dt.datetime(2026, 5, 4, 10, 0, 7, tzinfo=dt.UTC)
Spec = tuple[str, str, str, str, str]  # check id, status, severity, resource, message


def result(check_id: str, status: str, severity: str = "high", resource: str = "10.0.0.1:6379",
           message: str = "") -> CheckResult:
    meta = CheckMeta(id=check_id, title=f"{check_id} holds", severity=Severity(severity), category="audit",
                     verifies="it holds", risk="it does not", remediation=f"fix {check_id}")
    return CheckResult(Finding(check_id, Status(status), resource, message or f"{check_id} is {status}",
                               {"observed": status}), meta, "builtin")


def make_report(findings: Sequence[Spec | tuple[str, str]], profile: Profile | None = None,
                waiver_file: WaiverFile | None = None, mode: str | None = None,
                finished: dt.datetime = FINISHED, extra: Sequence[CheckResult] = (),
                evidence: Evidence | None = None, origin: ProfileOrigin | None = None) -> Report:
    target = TargetInfo(url="rediss://10.0.0.1:6379", kind="redis", seeds=("10.0.0.1:6379",), tls=True,
                        tls_verify=True, user="auditor", name=DEPLOYMENT)
    started = finished - dt.timedelta(seconds=7)  # collected live from 10:00:00 to 10:00:06 for FINISHED
    snapshot = Snapshot(target, Topology(DeploymentKind.SENTINEL), {}, rfc3339(started),
                        rfc3339(finished - dt.timedelta(seconds=1)), "0.1.0")
    results = [*(result(*spec) for spec in findings), *extra]
    return Report.build(snapshot, profile or default_profile(), [], results, started, finished, mode, waiver_file,
                        evidence, origin)


ALL_PASS: list[tuple[str, str]] = [(c, "PASS") for c in (
    "AUDIT-001", "AUTH-001", "TLS-001", "NET-002", "MEM-001", "MEM-004", "HA-001", "SEN-001")]
