"""Where the judged facts came from, and when: collected live by this run, or read from a snapshot file.

A live run knows its own collection window. A snapshot proves only its bytes (their sha256) and what it
states about itself: its collection time and tool version are claims of whoever wrote the file, which
may have been edited by hand. So the report says which it was, offline judging is visible in every
rendering, validity counts from the collection, and the relying party decides (`verify --require-live`,
`--max-age`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from redis_audit.exitcodes import UsageError
from redis_audit.jsonvalue import JsonObject
from redis_audit.limits import SNAPSHOT_AGE_MODES
from redis_audit.snapshot import Snapshot, parse_snapshot
from redis_audit.waivers import parse_rfc3339, rfc3339

LIVE, SNAPSHOT = "live", "snapshot"
CLOCK_SKEW = dt.timedelta(minutes=5)  # a snapshot "collected" further in the future than this is refused
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class SnapshotFile:
    name: str  # the file's name, not its path
    sha256: str  # hex, of the bytes that were judged
    tool_version: str  # as the snapshot states it

    def to_json(self) -> JsonObject:
        return {"name": self.name, "sha256": self.sha256, "statedToolVersion": self.tool_version}


@dataclass(frozen=True)
class Evidence:
    source: str  # live | snapshot
    collection_started: dt.datetime
    collection_finished: dt.datetime
    snapshot: SnapshotFile | None = None  # the file judged offline
    saved_snapshot_sha256: str | None = None  # a live run's --save-snapshot file, to link it to this report

    @property
    def offline(self) -> bool:
        return self.source == SNAPSHOT

    def to_json(self) -> JsonObject:
        return {"source": self.source, "collectionStartedAt": rfc3339(self.collection_started),
                "collectionFinishedAt": rfc3339(self.collection_finished),
                "snapshot": self.snapshot.to_json() if self.snapshot else None,
                "savedSnapshotSha256": self.saved_snapshot_sha256}

    @classmethod
    def from_json(cls, data: JsonObject) -> Evidence:
        """Read back from a report; ValueError (or KeyError/TypeError) when malformed or inconsistent."""
        source = data["source"]
        if source not in (LIVE, SNAPSHOT):
            raise ValueError(f"evidence.source is {source!r}, expected live or snapshot")
        started = parse_rfc3339(str(data["collectionStartedAt"]))
        finished = parse_rfc3339(str(data["collectionFinishedAt"]))
        if finished < started:
            raise ValueError("evidence: the collection finished before it started")
        file = data["snapshot"]
        snapshot = None
        if source == SNAPSHOT:
            if not isinstance(file, dict) or not _SHA256.fullmatch(str(file["sha256"])):
                raise ValueError("evidence.snapshot needs the sha256 of the judged file")
            snapshot = SnapshotFile(str(file["name"]), str(file["sha256"]), str(file["statedToolVersion"]))
        elif file is not None:
            raise ValueError("evidence.snapshot is set for live evidence")
        saved = data["savedSnapshotSha256"]
        if saved is not None and (source != LIVE or not _SHA256.fullmatch(str(saved))):
            raise ValueError("evidence.savedSnapshotSha256 is not the sha256 of a live run's snapshot")
        return cls(str(source), started, finished, snapshot, None if saved is None else str(saved))


def live_evidence(snapshot: Snapshot, saved_sha256: str | None = None) -> Evidence:
    """The collection window of a snapshot this process just collected."""
    started, finished = _collection_window(snapshot, "the collected snapshot")
    return Evidence(LIVE, started, finished, saved_snapshot_sha256=saved_sha256)


def read_snapshot(path: Path, now: dt.datetime) -> tuple[Snapshot, Evidence]:
    """`--from-snapshot`: the snapshot, and the evidence of judging it offline (its bytes' sha256)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"--from-snapshot: no such file: {path}") from None
    except OSError as exc:
        raise UsageError(f"--from-snapshot: cannot read {path}: {exc.strerror}") from None
    try:
        snapshot = Snapshot.from_json(parse_snapshot(raw.decode("utf-8")))  # checked against its schema
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"--from-snapshot: {path} is not a redis-audit snapshot: {exc}") from None
    started, finished = _collection_window(snapshot, f"--from-snapshot: {path}")
    if finished > now + CLOCK_SKEW:
        raise UsageError(f"--from-snapshot: {path} states it was collected at {rfc3339(finished)}, in the future")
    file = SnapshotFile(path.name, hashlib.sha256(raw).hexdigest(), snapshot.tool_version)
    return snapshot, Evidence(SNAPSHOT, started, finished, file)


def check_snapshot_age(evidence: Evidence, mode: str, max_age_hours: int, validity_hours: int,
                       now: dt.datetime, signing: bool) -> None:
    """Before judging: pre-promotion and signoff refuse a snapshot older than the profile's limit, and no
    signed report is judged from one so old that it would be born expired (validity counts from collection)."""
    if not evidence.offline:
        return
    age = now - evidence.collection_started
    collected = rfc3339(evidence.collection_started)
    if mode in SNAPSHOT_AGE_MODES and age > dt.timedelta(hours=max_age_hours):
        raise UsageError(f"--from-snapshot: collected at {collected}, {_hours(age)} ago; a {mode} run judges "
                         f"snapshots up to {max_age_hours} h old (report.max_snapshot_age_hours)")
    if (signing or mode != "local") and age >= dt.timedelta(hours=validity_hours):
        raise UsageError(f"--from-snapshot: collected at {collected}, {_hours(age)} ago: a {mode} report from it "
                         f"would already be expired ({validity_hours} h validity from collection)")


def _hours(age: dt.timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h {int(age.total_seconds() // 60) % 60} min"


def _collection_window(snapshot: Snapshot, where: str) -> tuple[dt.datetime, dt.datetime]:
    try:
        started, finished = parse_rfc3339(snapshot.started_at), parse_rfc3339(snapshot.finished_at)
    except ValueError:
        raise UsageError(f"{where}: startedAt/finishedAt are not RFC 3339 UTC times "
                         f"({snapshot.started_at!r}, {snapshot.finished_at!r})") from None
    if finished < started:
        raise UsageError(f"{where}: finishedAt {snapshot.finished_at} is before startedAt {snapshot.started_at}")
    return started, finished
