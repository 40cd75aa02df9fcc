"""The readiness report: a versioned JSON document that the signed report wraps unchanged."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from redis_audit import __version__
from redis_audit.jsonvalue import JsonObject, ensure_canonical
from redis_audit.judge import CheckResult, statuses
from redis_audit.model import Severity, Status
from redis_audit.profile import Profile
from redis_audit.registry import LoadedPack
from redis_audit.snapshot import Snapshot
from redis_audit.verdict import JudgedFinding, Policy, Verdict, decide

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
                  profile.general.fail_on_error)


def judged(results: Sequence[CheckResult]) -> list[JudgedFinding]:
    return [JudgedFinding(r.finding.check_id, str(r.finding.status), r.severity, r.finding.resource,
                          r.finding.message) for r in results]


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

    @classmethod
    def build(cls, snapshot: Snapshot, profile: Profile, packs: Sequence[LoadedPack],
              results: Sequence[CheckResult], started_at: dt.datetime, finished_at: dt.datetime) -> Report:
        ordered = sorted(results, key=sort_key)
        verdict = decide(judged(ordered), policy_of(profile))
        return cls(str(uuid.uuid4()), started_at, finished_at, snapshot, profile, packs, ordered, verdict)

    @property
    def valid_until(self) -> dt.datetime:
        return self.finished_at + dt.timedelta(days=self.profile.general.validity_days)

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
                "packs": [
                    {"name": p.pack.name, "distribution": p.distribution, "version": p.version,
                     "entryPoint": p.entry_point, "checks": len(p.pack.checks)}
                    for p in self.packs
                ],
            },
            "run": {
                "id": self.run_id,
                "startedAt": _rfc3339(self.started_at),
                "finishedAt": _rfc3339(self.finished_at),
                "durationMs": int((self.finished_at - self.started_at).total_seconds() * 1000),
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
            "findings": [self._finding_json(r, name) for r in self.results],
            "counts": statuses(self.results),
            "verdict": {**self.verdict.to_json(), "validUntil": _rfc3339(self.valid_until)},
        }
        ensure_canonical(data)
        return data

    @staticmethod
    def _finding_json(result: CheckResult, deployment: str) -> JsonObject:
        f, meta = result.finding, result.meta
        return {
            "findingId": finding_id(f.check_id, deployment, f.resource),
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


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
