"""The limits a report is issued under, and the sign-off floor no profile can relax.

A profile holds thresholds (what a check calls good: identified by the profile's digest) and issuing
limits: how long a waiver may run, how long the report stays valid, how old a judged snapshot may be,
which severities block, which checks are required, whether errors and the sign-off blockers gate. In a
`signoff` run the built-in signoff profile's limits are a floor enforced here, whatever the profile
says: a looser value is replaced by the floor's and listed as `raised`. In the other modes a limit
looser than the built-in default profile's is listed as `relaxed`, so every rendering shows it.

Pure functions of (profile, mode): `verify` re-derives them from the signed profile values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from redis_audit.jsonvalue import JsonObject, JsonValue
from redis_audit.model import Severity
from redis_audit.profile import BUILTIN_PREFIX, Profile, builtin_profile, default_profile

SIGNOFF = "signoff"
SNAPSHOT_AGE_MODES = ("pre-promotion", "signoff")  # modes that refuse a snapshot older than the limit


@dataclass(frozen=True)
class Raised:
    """A limit the sign-off floor tightened: the profile gave `given`, the run used `used`."""

    key: str
    given: JsonValue
    used: JsonValue

    def to_json(self) -> JsonObject:
        return {"key": self.key, "given": self.given, "used": self.used}


@dataclass(frozen=True)
class Relaxed:
    """A limit looser than the built-in profile of the mode: visible, not refused."""

    key: str
    value: JsonValue
    builtin: JsonValue

    def to_json(self) -> JsonObject:
        return {"key": self.key, "value": self.value, "builtin": self.builtin}


@dataclass(frozen=True)
class Limited:
    profile: Profile  # the profile the run judges and issues with (the floor applied)
    floor: str | None  # "builtin:signoff" when the sign-off floor applies
    raised: tuple[Raised, ...]
    relaxed: tuple[Relaxed, ...]

    def to_json(self) -> JsonObject:
        return {"floor": self.floor, "raised": [r.to_json() for r in self.raised],
                "relaxed": [r.to_json() for r in self.relaxed]}


def signoff_floor() -> Profile:
    return builtin_profile(SIGNOFF)


def apply_limits(profile: Profile, mode: str) -> Limited:
    if mode != SIGNOFF:
        return Limited(profile, None, (), _relaxed(profile, default_profile(), mode))
    floor = signoff_floor()
    effective, raised = _floored(profile, floor)
    return Limited(effective, BUILTIN_PREFIX + SIGNOFF, raised, _relaxed(effective, floor, mode))


def _severities(names: set[str]) -> tuple[str, ...]:
    return tuple(str(s) for s in Severity if str(s) in names)


def _floored(profile: Profile, floor: Profile) -> tuple[Profile, tuple[Raised, ...]]:
    raised: list[Raised] = []

    def at_most(key: str, given: int, limit: int) -> int:
        if given > limit:
            raised.append(Raised(key, given, limit))
            return limit
        return given

    g, fg = profile.general, floor.general
    blocking = _severities(set(g.blocking_severities) | set(fg.blocking_severities))
    if set(blocking) != set(g.blocking_severities):
        raised.append(Raised("general.blocking_severities", list(g.blocking_severities), list(blocking)))
    required = g.required_checks + tuple(c for c in fg.required_checks if c not in g.required_checks)
    if required != g.required_checks:
        raised.append(Raised("general.required_checks", list(g.required_checks), list(required)))
    if not g.fail_on_error:
        raised.append(Raised("general.fail_on_error", False, True))
    # An override to a severity that does not block could lower a check out of the gate: ignored here.
    overrides = {k: v for k, v in g.severity_overrides.items() if v in blocking}
    raised += [Raised(f"general.severity_overrides.{k}", v, None) for k, v in sorted(g.severity_overrides.items())
               if k not in overrides]
    general = dataclasses.replace(g, blocking_severities=blocking, required_checks=required, fail_on_error=True,
                                  severity_overrides=overrides)

    r = profile.report
    validity = at_most(f"report.validity_hours.{SIGNOFF}", profile.validity_hours(SIGNOFF),
                       floor.validity_hours(SIGNOFF))
    report = dataclasses.replace(
        r, validity_hours={**r.validity_hours, SIGNOFF: validity},
        max_waiver_days=at_most("report.max_waiver_days", r.max_waiver_days, floor.report.max_waiver_days),
        max_snapshot_age_hours=at_most("report.max_snapshot_age_hours", r.max_snapshot_age_hours,
                                       floor.report.max_snapshot_age_hours))

    s = profile.signoff
    if not s.gate:
        raised.append(Raised("signoff.gate", False, True))
    floor_ids = {b.id for b in floor.signoff.blockers}
    blockers = floor.signoff.blockers + tuple(b for b in s.blockers if b.id not in floor_ids)
    for blocker in floor.signoff.blockers:
        if blocker not in s.blockers:
            raised.append(Raised(f"signoff.blockers.{blocker.id}", "changed or missing", "built-in"))
    signoff = dataclasses.replace(s, gate=True, blockers=blockers)
    return dataclasses.replace(profile, general=general, report=report, signoff=signoff), tuple(raised)


def _relaxed(profile: Profile, builtin: Profile, mode: str) -> tuple[Relaxed, ...]:
    out: list[Relaxed] = []
    g, bg = profile.general, builtin.general
    for key, value, limit in (
        (f"report.validity_hours.{mode}", profile.validity_hours(mode), builtin.validity_hours(mode)),
        ("report.max_waiver_days", profile.report.max_waiver_days, builtin.report.max_waiver_days),
        ("report.max_snapshot_age_hours", profile.report.max_snapshot_age_hours,
         builtin.report.max_snapshot_age_hours),
    ):
        if value > limit:
            out.append(Relaxed(key, value, limit))
    if not set(bg.blocking_severities) <= set(g.blocking_severities):
        out.append(Relaxed("general.blocking_severities", list(g.blocking_severities), list(bg.blocking_severities)))
    if not set(bg.required_checks) <= set(g.required_checks):
        out.append(Relaxed("general.required_checks", list(g.required_checks), list(bg.required_checks)))
    if bg.fail_on_error and not g.fail_on_error:
        out.append(Relaxed("general.fail_on_error", False, True))
    if g.disabled_checks:
        out.append(Relaxed("general.disabled_checks", list(g.disabled_checks), list(bg.disabled_checks)))
    out += [Relaxed(f"general.severity_overrides.{k}", v, None) for k, v in sorted(g.severity_overrides.items())
            if v not in g.blocking_severities]
    if builtin.signoff.gate and not profile.signoff.gate:
        out.append(Relaxed("signoff.gate", False, True))
    return tuple(out)
