"""The readiness report: a versioned JSON document that the signed report wraps unchanged."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from redis_audit import __version__
from redis_audit.jsonvalue import JsonObject, ensure_canonical
from redis_audit.judge import CheckResult, statuses
from redis_audit.limits import Limited, apply_limits
from redis_audit.model import Status
from redis_audit.profile import BUILTIN_PROFILES, Profile, ProfileOrigin, builtin_profile
from redis_audit.provenance import Evidence, live_evidence
from redis_audit.registry import LoadedPack, package_digest
from redis_audit.snapshot import Snapshot
from redis_audit.verdict import VERDICT_LOGIC_VERSION, JudgedFinding, Policy, Verdict, decide
from redis_audit.waivers import APPLIED, FindingRef, WaiverFile, WaiverOutcome, apply_waivers, rfc3339

# v2: evidence provenance, validity from collection, profile origin and limits, pack digests of their files.
REPORT_SCHEMA = "redis-audit/report/v2"


def sha256_of(data: JsonObject) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def target_name(snapshot: Snapshot) -> str:
    return snapshot.target.name or snapshot.target.url


def fingerprint(snapshot: Snapshot) -> JsonObject:
    """The observed identity of the deployment: what the report's subject digest binds."""
    topo = snapshot.topology
    return {
        "deployment": target_name(snapshot),
        "kind": str(topo.kind),
        "seeds": sorted(snapshot.target.seeds),
        "masterName": topo.master_name,
        "nodes": sorted(str(n.address) for n in topo.nodes),
        "sentinels": sorted(str(n.address) for n in topo.sentinels),
    }


def finding_id(check_id: str, deployment: str, resource: str) -> str:
    """Stable across runs, for diffs, waivers and SARIF fingerprints."""
    return hashlib.sha256(f"{check_id}|{deployment}|{resource}".encode()).hexdigest()[:24]


def policy_of(profile: Profile) -> Policy:
    return Policy(frozenset(profile.general.blocking_severities), profile.general.required_checks,
                  profile.general.fail_on_error, profile.signoff.blockers, profile.signoff.gate)


def finding_refs(results: Sequence[CheckResult], deployment: str) -> list[FindingRef]:
    return [FindingRef(finding_id(r.finding.check_id, deployment, r.finding.resource), r.finding.check_id,
                       r.finding.resource, str(r.finding.status)) for r in results]


def judged(results: Sequence[CheckResult], effective: Sequence[str] | None = None) -> list[JudgedFinding]:
    """The verdict's inputs; `effective` are the statuses after waivers (default: the raw ones)."""
    statuses_ = effective if effective is not None else [str(r.finding.status) for r in results]
    return [JudgedFinding(r.finding.check_id, status, r.severity, r.finding.resource, r.finding.message)
            for r, status in zip(results, statuses_, strict=True)]


def pack_json(pack: LoadedPack) -> JsonObject:
    """Which code judged: the pack's distribution, version and the digest of its package's files."""
    package, digest = pack.package, pack.digest
    if not digest:  # a pack built in-process (tests): its defining module's package
        functions = [c.function for c in pack.pack.checks] + [e.function for e in pack.pack.extensions]
        package, digest = package_digest(functions[0].__module__) if functions else ("", "")
    return {"name": pack.pack.name, "distribution": pack.distribution, "version": pack.version,
            "entryPoint": pack.entry_point, "package": package, "checks": len(pack.pack.checks), "digest": digest}


def origin_of(profile: Profile) -> ProfileOrigin:
    """A profile built in-process (the demo's, a test's): the built-in it equals, or `inline`."""
    for name in BUILTIN_PROFILES:
        if builtin_profile(name).digest() == profile.digest():
            return ProfileOrigin.builtin(name)
    return ProfileOrigin("inline")


def sort_key(result: CheckResult) -> tuple[int, int, str, str]:
    return (result.finding.status.rank, result.severity.rank, result.finding.check_id, result.finding.resource)


@dataclass
class Report:
    run_id: str
    started_at: dt.datetime
    finished_at: dt.datetime
    snapshot: Snapshot
    profile: Profile
    packs: Sequence[LoadedPack]
    results: list[CheckResult]
    verdict: Verdict
    evidence: Evidence
    origin: ProfileOrigin
    limited: Limited  # the profile with the mode's limits applied: what judged and issued this report
    mode: str = "local"
    waiver_file: WaiverFile | None = None
    waivers: WaiverOutcome = field(default_factory=lambda: WaiverOutcome({}, ()))
    # keyids of signing keys loaded under --insecure-key-permissions (readable by group or others)
    insecure_keys: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, snapshot: Snapshot, profile: Profile, packs: Sequence[LoadedPack],
              results: Sequence[CheckResult], started_at: dt.datetime, finished_at: dt.datetime,
              mode: str | None = None, waiver_file: WaiverFile | None = None, evidence: Evidence | None = None,
              origin: ProfileOrigin | None = None) -> Report:
        mode = mode or profile.report.mode
        limited = apply_limits(profile, mode)
        ordered = sorted(results, key=sort_key)
        refs = finding_refs(ordered, target_name(snapshot))
        outcome = apply_waivers(waiver_file.waivers if waiver_file else (), refs, target_name(snapshot),
                                finished_at, limited.profile.report.waiver_warning_days)
        verdict = decide(judged(ordered, [outcome.status(r) for r in refs]), policy_of(limited.profile))
        return cls(str(uuid.uuid4()), started_at, finished_at, snapshot, profile, packs, ordered, verdict,
                   evidence or live_evidence(snapshot), origin or origin_of(profile), limited, mode, waiver_file,
                   outcome)

    @property
    def valid_until(self) -> dt.datetime:
        return valid_until(self.evidence.collection_started, self.limited.profile.validity_hours(self.mode),
                           [u.waiver.expires for u in self.waivers.uses if u.state == APPLIED])

    def to_json(self) -> JsonObject:
        name = target_name(self.snapshot)
        fp = fingerprint(self.snapshot)
        data: JsonObject = {
            "schema": REPORT_SCHEMA,
            "tool": {
                "name": "redis-audit",
                "version": __version__,
                "verdictLogic": VERDICT_LOGIC_VERSION,
                "packs": [pack_json(p) for p in self.packs],
            },
            "run": {
                "id": self.run_id,
                "mode": self.mode,
                "startedAt": rfc3339(self.started_at),
                "finishedAt": rfc3339(self.finished_at),
                "durationMs": int((self.finished_at - self.started_at).total_seconds() * 1000),
                "insecureKeyPermissions": list(self.insecure_keys),
            },
            "target": {
                "name": name,
                "url": self.snapshot.target.url,
                "tls": self.snapshot.target.tls,
                "tlsVerify": self.snapshot.target.tls_verify,
                "user": self.snapshot.target.user,
                "fingerprint": fp,
                "fingerprintDigest": sha256_of(fp),
            },
            "evidence": self.evidence.to_json(),
            "topology": self.snapshot.topology.to_json(),
            # Identified by origin and digest; declaredName is only what the profile calls itself.
            "profile": {"digest": self.profile.digest(), "origin": self.origin.to_json(),
                        "declaredName": self.profile.name, "values": self.profile.to_json(),
                        "limits": self.limited.to_json()},
            "waivers": self.waivers.to_json(self.waiver_file.source_json() if self.waiver_file else None),
            "findings": [self._finding_json(r, name) for r in self.results],
            "counts": statuses(self.results),
            "effectiveCounts": effective_counts(self.waivers.status(r) for r in finding_refs(self.results, name)),
            "verdict": {**self.verdict.to_json(), "validUntil": rfc3339(self.valid_until)},
        }
        ensure_canonical(data)
        return data

    def _finding_json(self, result: CheckResult, deployment: str) -> JsonObject:
        f, meta = result.finding, result.meta
        fid = finding_id(f.check_id, deployment, f.resource)
        waiver = self.waivers.waiver_id(fid)
        return {
            "findingId": fid,
            "effectiveStatus": "WAIVED" if waiver else str(f.status),
            "waiver": waiver,
            "checkId": f.check_id,
            "checkVersion": meta.version,
            "title": meta.title,
            "severity": str(meta.severity),
            "category": meta.category,
            "status": str(f.status),
            "resource": f.resource,
            "message": f.message,
            "evidence": f.evidence,
            "remediation": meta.remediation,
            "source": result.source,
        }


def valid_until(collection_started: dt.datetime, validity_hours: int,
                applied_waiver_expiries: Iterable[dt.datetime]) -> dt.datetime:
    """Validity counts from when the facts were collected, and ends no later than a waiver it relies on."""
    return min([collection_started + dt.timedelta(hours=validity_hours), *applied_waiver_expiries])


def effective_counts(effective: Iterable[str]) -> dict[str, int]:
    counts = {**{str(s): 0 for s in Status}, "WAIVED": 0}
    for status in effective:
        counts[status] += 1
    return counts

