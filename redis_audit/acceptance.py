"""The relying party's policy: a report can verify (signed, consistent) and still not be acceptable here.

`verify`, `render` and `diff` take it as options: how old the evidence may be, whether it must have been
collected live, which profiles (by digest) and check packs (by digest) are trusted, the longest validity
accepted, the mode required. A report that does not meet it is refused with one line (exit 5).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from redis_audit.exitcodes import UsageError
from redis_audit.jsonvalue import JsonObject, as_object, as_objects
from redis_audit.signing.errors import InvalidReport, short_repr
from redis_audit.waivers import parse_rfc3339

_DURATION = re.compile(r"(\d+)([wdhms])")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


class NotAccepted(InvalidReport):
    """A valid report that the relying party's policy refuses."""


def parse_duration(text: str, option: str) -> dt.timedelta:
    """`90m`, `24h`, `7d`, `1d12h`, `2w`: UsageError otherwise."""
    compact = text.strip().lower()
    parts = _DURATION.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise UsageError(f"{option}: {text!r} is not a duration such as 90m, 24h, 7d or 1d12h")
    return sum((dt.timedelta(**{_UNITS[unit]: int(number)}) for number, unit in parts), dt.timedelta())


@dataclass(frozen=True)
class Acceptance:
    max_age: dt.timedelta | None = None  # evidence collected no longer ago than this
    require_live: bool = False
    profile_digests: frozenset[str] | None = None  # None: any profile
    max_validity: dt.timedelta | None = None  # validUntil no later than this after the collection
    require_mode: str | None = None
    pack_digests: frozenset[str] | None = None  # None: any pack

    def check(self, report: JsonObject, now: dt.datetime) -> None:
        """NotAccepted with the first unmet requirement. Runs on a verified report only."""
        evidence = as_object(report.get("evidence"))
        collected = parse_rfc3339(str(evidence.get("collectionStartedAt")))
        if self.require_live and evidence.get("source") != "live":
            file = as_object(evidence.get("snapshot"))
            raise NotAccepted(f"judged offline from a snapshot (sha256:{file.get('sha256')}, collected at "
                              f"{evidence.get('collectionStartedAt')} as it states); --require-live")
        if self.max_age is not None and now - collected > self.max_age:
            raise NotAccepted(f"its evidence was collected at {evidence.get('collectionStartedAt')}, more than "
                              f"--max-age {_text(self.max_age)} ago")
        until = parse_rfc3339(str(as_object(report.get("verdict")).get("validUntil")))
        if self.max_validity is not None and until - collected > self.max_validity:
            raise NotAccepted(f"it is valid for {_text(until - collected)} after the collection, more than "
                              f"--max-validity {_text(self.max_validity)}")
        mode = as_object(report.get("run")).get("mode")
        if self.require_mode is not None and mode != self.require_mode:
            raise NotAccepted(f"it is a {short_repr(mode)} report; --require-mode {self.require_mode}")
        profile = as_object(report.get("profile"))
        if self.profile_digests is not None and profile.get("digest") not in self.profile_digests:
            raise NotAccepted(f"its profile ({_origin(profile)}, {short_repr(profile.get('digest'))}) is not a "
                              "trusted profile digest")
        if self.pack_digests is not None:
            tool = as_object(report.get("tool"))
            for pack in as_objects(tool.get("packs")):
                if pack.get("digest") not in self.pack_digests:
                    raise NotAccepted(f"check pack {short_repr(pack.get('name'))} ({pack.get('distribution')} "
                                      f"{pack.get('version')}, {pack.get('digest')}) is not a trusted pack digest")


def _origin(profile: JsonObject) -> str:
    origin = as_object(profile.get("origin"))
    return f"builtin:{origin.get('name')}" if origin.get("kind") == "builtin" else f"{origin.get('kind')} " + str(
        origin.get("path") or "")


def _text(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{rest // 60}m" if rest >= 60 else ""]
    return "".join(parts) or f"{seconds}s"
