"""Helpers shared by tests that audit real sandboxes."""

from __future__ import annotations

from typing import Any

from redis_audit.audit import AuditOptions, collect_snapshot, judge_snapshot
from redis_audit.profile import Profile, default_profile, profile_from_mapping
from redis_audit.report import Report
from redis_audit.sandbox import Sandbox, sandbox_target


def audit(sandbox: Sandbox, profile: Profile | dict[str, Any] | None = None, user: str | None = "auditor",
          deadline_s: float = 60.0) -> Report:
    """Audit a sandbox the way `redis-audit run` would, as `user`."""
    if isinstance(profile, dict):
        profile = profile_from_mapping(profile)
    options = AuditOptions(profile or default_profile(), deadline_s)
    snapshot = collect_snapshot(sandbox_target(sandbox, user), options)
    return judge_snapshot(snapshot, options.profile)


def statuses(report: Report, check_id: str) -> set[str]:
    """The statuses a check produced, across its resources."""
    return {str(r.finding.status) for r in report.results if r.finding.check_id == check_id}


def findings(report: Report, check_id: str) -> list[Any]:
    return [r.finding for r in report.results if r.finding.check_id == check_id]
