"""Waivers: a signed-off exception for one check on one target (optionally one node), with an expiry.

A waiver turns a FAIL or WARN into WAIVED (the effective status); the finding and its raw status stay in
the report. An ERROR is never waived. An expired waiver is not applied, and is listed; a waiver that
matched nothing is listed as unused. Applying waivers is pure, so `verify` re-applies the waivers the
signed report carries and refuses one whose effective statuses disagree.

    [[waiver]]
    id = "WVR-2026-014"           # optional; default waiver-N
    check = "MEM-004"
    target = "payments-cache-prod"  # the deployment name (--name)
    node = "10.0.4.12:6380"       # optional
    reason = "volatile-ttl accepted until the limiter moves"
    approver = "jdoe"
    ticket = "CHG-48211"
    expires = 2026-06-01T00:00:00Z  # required: a TOML date or an offset date-time
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis_audit.exitcodes import UsageError
from redis_audit.jsonvalue import JsonObject

WAIVABLE = ("FAIL", "WARN")
WAIVED = "WAIVED"
APPLIED, EXPIRED, UNUSED = "applied", "expired", "unused"
_REQUIRED = ("check", "target", "reason", "approver", "ticket", "expires")
_KNOWN = {*_REQUIRED, "id", "node"}


class WaiverError(UsageError):
    """A waiver file that cannot be used: one line naming the file, the waiver and the reason (exit 2)."""


@dataclass(frozen=True)
class Waiver:
    id: str
    check: str
    target: str
    node: str | None
    reason: str
    approver: str
    ticket: str
    expires: dt.datetime  # timezone-aware

    def to_json(self) -> JsonObject:
        return {"id": self.id, "check": self.check, "target": self.target, "node": self.node,
                "reason": self.reason, "approver": self.approver, "ticket": self.ticket,
                "expires": rfc3339(self.expires)}

    @classmethod
    def from_json(cls, data: JsonObject) -> Waiver:
        """Read back a waiver from a report (KeyError/ValueError on a malformed one)."""
        node = data.get("node")
        return cls(str(data["id"]), str(data["check"]), str(data["target"]), None if node is None else str(node),
                   str(data["reason"]), str(data["approver"]), str(data["ticket"]),
                   parse_rfc3339(str(data["expires"])))


@dataclass(frozen=True)
class WaiverFile:
    name: str  # the file's name, not its path
    digest: str  # sha256 of the file's bytes, as given
    waivers: tuple[Waiver, ...]

    def source_json(self) -> JsonObject:
        return {"name": self.name, "digest": self.digest}


def load_waivers(path: Path, now: dt.datetime, max_days: int, limit_name: str = "report.max_waiver_days") -> WaiverFile:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise WaiverError(f"--waivers: cannot read {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise WaiverError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(data) - {"waiver"}
    if unknown:
        raise WaiverError(f"{path}: unknown key {sorted(unknown)[0]!r} (expected [[waiver]] tables)")
    items = data.get("waiver", [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise WaiverError(f"{path}: waiver: expected [[waiver]] tables")
    waivers = tuple(_parse(item, index, path, now, max_days, limit_name) for index, item in enumerate(items))
    ids = [w.id for w in waivers]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise WaiverError(f"{path}: waiver id {duplicates[0]!r} is used twice")
    return WaiverFile(path.name, "sha256:" + hashlib.sha256(raw).hexdigest(), waivers)


def _parse(item: dict[str, Any], index: int, path: Path, now: dt.datetime, max_days: int, limit_name: str) -> Waiver:
    where = f"{path}: waiver {index + 1}"
    unknown = sorted(set(item) - _KNOWN)
    if unknown:
        raise WaiverError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KNOWN))})")
    for key in _REQUIRED:
        if key not in item:
            raise WaiverError(f"{where}: {key} is required")
    for key in sorted(_KNOWN - {"expires"}):
        if key in item and (not isinstance(item[key], str) or not item[key].strip()):
            raise WaiverError(f"{where}: {key} must be a non-empty string")
    expires = _expiry(item["expires"], where)
    if item["check"].endswith("*") or item["target"] in ("*", ""):
        raise WaiverError(f"{where}: a waiver names one check and one target exactly, not a pattern")
    horizon = now + dt.timedelta(days=max_days)
    if expires > horizon:
        raise WaiverError(f"{where}: expires {rfc3339(expires)}, beyond the maximum of {max_days} days "
                          f"({limit_name})")
    return Waiver(item.get("id", f"waiver-{index + 1}"), item["check"], item["target"], item.get("node"),
                  item["reason"], item["approver"], item["ticket"], expires)


def _expiry(value: object, where: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise WaiverError(f"{where}: expires needs a time zone, e.g. 2026-06-01T00:00:00Z")
        return value.astimezone(dt.UTC).replace(microsecond=0)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    raise WaiverError(f"{where}: expires must be a TOML date or date-time, e.g. 2026-06-01")


@dataclass(frozen=True)
class FindingRef:
    finding_id: str
    check_id: str
    resource: str
    status: str  # the raw status


@dataclass(frozen=True)
class WaiverUse:
    waiver: Waiver
    state: str  # applied | expired | unused
    findings: tuple[str, ...]  # the finding ids it waived
    expiring_soon: bool

    def to_json(self) -> JsonObject:
        return {**self.waiver.to_json(), "state": self.state, "findings": list(self.findings),
                "expiringSoon": self.expiring_soon}


@dataclass(frozen=True)
class WaiverOutcome:
    effective: dict[str, tuple[str, str]]  # finding id -> (WAIVED, waiver id), for the waived ones only
    uses: tuple[WaiverUse, ...]

    def status(self, ref: FindingRef) -> str:
        return self.effective[ref.finding_id][0] if ref.finding_id in self.effective else ref.status

    def waiver_id(self, finding_id: str) -> str | None:
        return self.effective[finding_id][1] if finding_id in self.effective else None

    def ids(self, state: str) -> list[str]:
        return [u.waiver.id for u in self.uses if u.state == state]

    def to_json(self, source: JsonObject | None) -> JsonObject:
        return {
            "source": source,
            "entries": [u.to_json() for u in self.uses],
            "applied": self.ids(APPLIED),
            "expired": self.ids(EXPIRED),
            "unused": self.ids(UNUSED),
            "expiringSoon": [u.waiver.id for u in self.uses if u.expiring_soon],
        }


def apply_waivers(waivers: Sequence[Waiver], findings: Sequence[FindingRef], target: str, at: dt.datetime,
                  warning_days: int) -> WaiverOutcome:
    """Which findings each waiver waives at time `at` (the end of the run)."""
    effective: dict[str, tuple[str, str]] = {}
    uses = []
    for waiver in waivers:
        if waiver.expires <= at:
            uses.append(WaiverUse(waiver, EXPIRED, (), False))
            continue
        waived = []
        if waiver.target == target:
            for ref in findings:
                if (ref.check_id == waiver.check and (waiver.node is None or ref.resource == waiver.node)
                        and ref.status in WAIVABLE and ref.finding_id not in effective):
                    effective[ref.finding_id] = (WAIVED, waiver.id)
                    waived.append(ref.finding_id)
        soon = waiver.expires - at <= dt.timedelta(days=warning_days)
        uses.append(WaiverUse(waiver, APPLIED if waived else UNUSED, tuple(waived), soon))
    return WaiverOutcome(effective, tuple(uses))


def warnings(outcome: WaiverOutcome) -> list[str]:
    """What the person running the audit should hear about."""
    out = []
    for use in outcome.uses:
        w = use.waiver
        if use.state == EXPIRED:
            out.append(f"waiver {w.id} ({w.check}) expired at {rfc3339(w.expires)} and was not applied")
        elif use.state == UNUSED:
            out.append(f"waiver {w.id} ({w.check} on {w.target}) matched no FAIL or WARN finding")
        if use.expiring_soon:
            out.append(f"waiver {w.id} ({w.check}) expires soon, at {rfc3339(w.expires)} (ticket {w.ticket})")
    return out


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> dt.datetime:
    moment = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    return moment.replace(tzinfo=dt.UTC)
