"""The readiness report: a versioned JSON document that the signed report wraps unchanged."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from redis_audit import __version__
from redis_audit.jsonvalue import JsonObject, ensure_canonical
from redis_audit.judge import CheckResult, statuses
from redis_audit.model import Severity, Status
from redis_audit.profile import Profile
from redis_audit.registry import LoadedPack
from redis_audit.snapshot import Snapshot
from redis_audit.verdict import VERDICT_LOGIC_VERSION, JudgedFinding, Policy, Verdict, decide
from redis_audit.waivers import FindingRef, WaiverFile, WaiverOutcome, apply_waivers, rfc3339

REPORT_SCHEMA = "redis-audit/report/v1"


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


def pack_digest(pack: LoadedPack) -> str:
    """sha256 over the source of every module that defines one of the pack's checks or extensions:
    the signed report says which code judged the deployment."""
    modules = sorted({c.function.__module__ for c in pack.pack.checks} |
                     {e.function.__module__ for e in pack.pack.extensions})
    files = []
    for name in modules:
        path = getattr(sys.modules.get(name), "__file__", None)
        content = Path(path).read_bytes() if path and Path(path).is_file() else b""
        files.append({"module": name, "sha256": hashlib.sha256(content).hexdigest()})
    return sha256_of({"modules": files})


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
    mode: str = "local"
    waiver_file: WaiverFile | None = None
    waivers: WaiverOutcome = field(default_factory=lambda: WaiverOutcome({}, ()))
    # keyids of signing keys loaded under --insecure-key-permissions (readable by group or others)
    insecure_keys: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, snapshot: Snapshot, profile: Profile, packs: Sequence[LoadedPack],
              results: Sequence[CheckResult], started_at: dt.datetime, finished_at: dt.datetime,
              mode: str | None = None, waiver_file: WaiverFile | None = None) -> Report:
        ordered = sorted(results, key=sort_key)
        refs = finding_refs(ordered, target_name(snapshot))
        outcome = apply_waivers(waiver_file.waivers if waiver_file else (), refs, target_name(snapshot),
                                finished_at, profile.report.waiver_warning_days)
        verdict = decide(judged(ordered, [outcome.status(r) for r in refs]), policy_of(profile))
        return cls(str(uuid.uuid4()), started_at, finished_at, snapshot, profile, packs, ordered, verdict,
                   mode or profile.report.mode, waiver_file, outcome)

    @property
    def valid_until(self) -> dt.datetime:
        return self.finished_at + dt.timedelta(hours=self.profile.validity_hours(self.mode))

    def blockers_by_attention(self) -> list[CheckResult]:
        return [r for r in self.results if r.finding.status in (Status.FAIL, Status.ERROR)]

    def to_json(self) -> JsonObject:
        name = target_name(self.snapshot)
        fp = fingerprint(self.snapshot)
        data: JsonObject = {
            "schema": REPORT_SCHEMA,
            "tool": {
                "name": "redis-audit",
                "version": __version__,
                "verdictLogic": VERDICT_LOGIC_VERSION,
                "packs": [
                    {"name": p.pack.name, "distribution": p.distribution, "version": p.version,
                     "entryPoint": p.entry_point, "checks": len(p.pack.checks), "digest": pack_digest(p)}
                    for p in self.packs
                ],
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
            "topology": self.snapshot.topology.to_json(),
            "profile": {"name": self.profile.name, "digest": self.profile.digest(),
                        "values": self.profile.to_json()},
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


def judged_from_json(report: JsonObject) -> list[JudgedFinding]:
    """The verdict inputs, read back from a report's JSON (for verify)."""
    out = []
    for item in report.get("findings") or []:  # type: ignore[union-attr]
        if isinstance(item, dict):
            status = item.get("effectiveStatus", item.get("status"))
            out.append(JudgedFinding(str(item["checkId"]), str(status), Severity(str(item["severity"])),
                                     str(item["resource"]), str(item["message"])))
    return out


def effective_counts(effective: Iterable[str]) -> dict[str, int]:
    counts = {**{str(s): 0 for s in Status}, "WAIVED": 0}
    for status in effective:
        counts[status] += 1
    return counts

