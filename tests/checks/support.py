"""Running the pack against a sandbox, as a given user, with a given profile (shared by the pack's tests)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from redis_audit.audit import AuditOptions, collect_snapshot, judge_snapshot
from redis_audit.model import Finding, Status
from redis_audit.profile import Profile, profile_from_mapping
from redis_audit.report import Report
from redis_audit.sandbox import Sandbox
from redis_audit.secret import Secret
from redis_audit.snapshot import Snapshot
from redis_audit.target import Credentials, Target, TlsOptions, parse_url
from redis_audit.topology import Address

# The sandbox's application user and its prefixes; a short write-rate window keeps the suite fast.
SANDBOX_PROFILE: dict[str, Any] = {
    "application": {"user": "app", "key_prefixes": ["rl:", "rlz:"]},
    "ha": {"write_rate_sample_ms": 200},
    # The sandbox CA issues 30-day certificates: warn only under 7 days here.
    "tls": {"cert_warn_days": 7, "cert_fail_days": 7},
}


def profile(**sections: dict[str, Any]) -> Profile:
    merged = {k: dict(v) for k, v in SANDBOX_PROFILE.items()}
    for name, values in sections.items():
        merged.setdefault(name, {}).update(values)
    return profile_from_mapping(merged)


def target(sb: Sandbox, user: str | None = "auditor", *, seed: Address | None = None) -> Target:
    parsed = parse_url(sb.info.target_url)
    tls = TlsOptions(enabled=parsed.tls, ca_file=sb.info.ca_file, cert_file=sb.info.client_cert_file,
                     key_file=sb.info.client_key_file)
    data = sentinel = Credentials()
    if sb.spec.with_acl and user is not None:
        data = Credentials(user, Secret(sb.password(user)))
        if sb.spec.topology == "sentinel":
            sentinel = Credentials("auditor", Secret(sb.sentinel_password("auditor")))
    seeds = (seed,) if seed is not None else parsed.seeds
    kind = "redis" if seed is not None else parsed.kind
    return Target(kind, seeds, tls, data, sentinel, parsed.master_name if kind == "sentinel" else None)


def snapshot(sb: Sandbox, prof: Profile | None = None, user: str | None = "auditor",
             seed: Address | None = None) -> Snapshot:
    return collect_snapshot(target(sb, user, seed=seed), AuditOptions(prof or profile(), deadline_s=60))


def audit(sb: Sandbox, prof: Profile | None = None, user: str | None = "auditor",
          seed: Address | None = None) -> Report:
    prof = prof or profile()
    return judge_snapshot(snapshot(sb, prof, user, seed), prof)


def findings(report: Report, check_id: str) -> list[Finding]:
    return [r.finding for r in report.results if r.finding.check_id == check_id]


def statuses(report: Report, check_id: str) -> Counter[str]:
    return Counter(str(f.status) for f in findings(report, check_id))


def only(report: Report, check_id: str, *allowed: Status) -> bool:
    found = findings(report, check_id)
    return bool(found) and all(f.status in allowed for f in found)
