"""Recompute everything a report derives from its findings, so `verify` can refuse a report that lies.

From the signed payload alone: the raw findings, the profile values (a valid profile of this release,
whose digest is theirs), the mode's limits over them (the sign-off floor), the evidence's provenance,
the waivers it carries and the time the run finished. Re-applying the waivers gives each finding's
effective status; the verdict function gives the decision, the blockers and the sign-off states; the
collection time, the mode's validity and the applied waivers give validUntil. Any difference from what
the report states is an InvalidReport (a verdict that differs is left to `verify_envelope`'s own message).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from redis_audit import __version__
from redis_audit.jsonvalue import JsonObject
from redis_audit.limits import SNAPSHOT_AGE_MODES, apply_limits
from redis_audit.model import Severity
from redis_audit.profile import BUILTIN_PROFILES, MODES, Profile, ProfileError, builtin_profile, profile_from_mapping
from redis_audit.provenance import Evidence
from redis_audit.report import effective_counts, finding_id, policy_of, valid_until
from redis_audit.signing.errors import InvalidReport, short_repr
from redis_audit.verdict import VERDICT_LOGIC_VERSION, JudgedFinding, decide
from redis_audit.waivers import APPLIED, FindingRef, Waiver, WaiverOutcome, apply_waivers, parse_rfc3339, rfc3339


def recompute_decision(predicate: JsonObject) -> str:
    """The `recompute_verdict` hook of `verify_envelope`: raises on any inconsistency but the decision,
    and returns the recomputed decision for verify_envelope to compare."""
    try:
        return _recompute(predicate)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:  # a shape no report has
        raise InvalidReport(f"report is malformed: {type(exc).__name__}: {short_repr(str(exc))}") from None


def _recompute(predicate: JsonObject) -> str:
    logic = _obj(predicate, "tool").get("verdictLogic")
    if logic != VERDICT_LOGIC_VERSION:
        raise InvalidReport(f"the report was judged by verdict logic v{logic}; this redis-audit recomputes v"
                            f"{VERDICT_LOGIC_VERSION}: verify it with the redis-audit release that made it")
    target = _obj(predicate, "target")
    run = _obj(predicate, "run")
    mode = str(run["mode"])
    if mode not in MODES:
        raise InvalidReport(f"run.mode {short_repr(mode)} is not one of {', '.join(MODES)}")
    profile_section = _obj(predicate, "profile")
    limited = apply_limits(_profile(profile_section), mode)
    if profile_section.get("limits") != limited.to_json():
        raise InvalidReport(f"profile.limits do not match the profile values under the {mode} mode's limits")
    profile = limited.profile
    deployment = str(target["name"])
    started, finished = parse_rfc3339(str(run["startedAt"])), parse_rfc3339(str(run["finishedAt"]))
    evidence = _evidence(predicate, started, finished)
    findings = [f for f in _list(predicate, "findings") if isinstance(f, dict)]

    refs = []
    for f in findings:
        ref = FindingRef(str(f["findingId"]), str(f["checkId"]), str(f["resource"]), str(f["status"]))
        if ref.finding_id != finding_id(ref.check_id, deployment, ref.resource):
            raise InvalidReport(f"finding {short_repr(ref.finding_id)} has an id that does not match its check, "
                                "target and resource")
        refs.append(ref)

    waivers_section = _obj(predicate, "waivers")
    waivers = [Waiver.from_json(e) for e in _list(waivers_section, "entries") if isinstance(e, dict)]
    _check_waiver_horizon(waivers, finished, profile.report.max_waiver_days, mode)
    outcome = apply_waivers(waivers, refs, deployment, finished, profile.report.waiver_warning_days)
    for f, ref in zip(findings, refs, strict=True):
        effective, waiver = outcome.status(ref), outcome.waiver_id(ref.finding_id)
        if f.get("effectiveStatus") != effective or f.get("waiver") != waiver:
            raise InvalidReport(f"finding {ref.check_id} on {short_repr(ref.resource)} states effectiveStatus "
                                f"{short_repr(f.get('effectiveStatus'))}, its waivers give {effective}")
    if outcome.to_json(waivers_section.get("source")) != waivers_section:  # type: ignore[arg-type]
        raise InvalidReport("waivers section does not match the waivers applied to the findings")
    if predicate.get("effectiveCounts") != effective_counts(outcome.status(r) for r in refs):
        raise InvalidReport("effectiveCounts do not match the findings")
    _check_overrides(findings, profile)

    judged = [JudgedFinding(ref.check_id, outcome.status(ref), Severity(str(f["severity"])), ref.resource,
                            str(f["message"])) for f, ref in zip(findings, refs, strict=True)]
    verdict = decide(judged, policy_of(profile))
    stated = dict(_obj(predicate, "verdict"))
    stated_until = stated.pop("validUntil", None)
    recomputed = verdict.to_json()
    if stated.get("decision") == recomputed["decision"] and stated != recomputed:
        raise InvalidReport("verdict mismatch: blockers or sign-off states differ from the findings")
    _check_snapshot_age(evidence, mode, profile, finished)
    _check_validity(mode, profile, evidence, outcome, stated_until)
    return str(recomputed["decision"])


def _profile(section: JsonObject) -> Profile:
    """The profile values as a profile of this release, their digest, and an origin they can claim."""
    values = _obj(section, "values")
    try:
        profile = profile_from_mapping(dict(values), source="the report's profile")
    except ProfileError as exc:
        raise InvalidReport(f"profile.values are not a valid profile: {exc}") from None
    if profile.to_json() != values:
        raise InvalidReport("profile.values are not a complete profile of this release")
    if section.get("digest") != profile.digest():
        raise InvalidReport("profile.digest is not the digest of profile.values")
    if section.get("declaredName") != profile.name:
        raise InvalidReport("profile.declaredName is not the name in profile.values")
    origin = _obj(section, "origin")
    kind = origin.get("kind")
    if kind == "builtin":
        name = origin.get("name")
        if name not in BUILTIN_PROFILES:
            raise InvalidReport(f"profile.origin names no built-in profile: {short_repr(name)}")
        if origin.get("toolVersion") == __version__ and builtin_profile(str(name)).digest() != profile.digest():
            raise InvalidReport(f"profile claims to be builtin:{name} of redis-audit {__version__}, "
                                "but its values are not that profile's")
    elif kind == "file":
        if not isinstance(origin.get("path"), str) or not isinstance(origin.get("sha256"), str):
            raise InvalidReport("profile.origin of a file needs its path and sha256")
    elif kind != "inline":
        raise InvalidReport(f"profile.origin.kind is {short_repr(kind)}, expected builtin, file or inline")
    return profile


def _evidence(predicate: JsonObject, started: dt.datetime, finished: dt.datetime) -> Evidence:
    try:
        evidence = Evidence.from_json(_obj(predicate, "evidence"))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidReport(f"evidence is malformed: {short_repr(str(exc))}") from None
    if evidence.collection_finished > finished:
        raise InvalidReport("evidence: the facts were collected after the run finished")
    if evidence.offline and evidence.collection_finished > started:
        raise InvalidReport("evidence: a snapshot judged offline was collected after the judging started")
    if not evidence.offline and evidence.collection_started < started:
        raise InvalidReport("evidence: a live collection started before the run")
    return evidence


def _check_waiver_horizon(waivers: list[Waiver], finished: dt.datetime, max_days: int, mode: str) -> None:
    horizon = finished + dt.timedelta(days=max_days)
    for waiver in waivers:
        if waiver.expires > horizon:
            raise InvalidReport(f"waiver {short_repr(waiver.id)} expires {rfc3339(waiver.expires)}, beyond the "
                                f"{max_days}-day waiver limit of this {mode} report")


def _check_overrides(findings: list[dict[str, Any]], profile: Profile) -> None:
    """A finding's severity is its check's, or the profile's override of it (which a signoff floor may drop)."""
    overrides = profile.general.severity_overrides
    for f in findings:
        override = overrides.get(str(f["checkId"]))
        if override is not None and f["severity"] != override:
            raise InvalidReport(f"finding {f['checkId']} has severity {short_repr(f['severity'])}, the profile "
                                f"overrides it to {override}")


def _check_snapshot_age(evidence: Evidence, mode: str, profile: Profile, finished: dt.datetime) -> None:
    limit = profile.report.max_snapshot_age_hours
    if evidence.offline and mode in SNAPSHOT_AGE_MODES and finished - evidence.collection_started > dt.timedelta(
            hours=limit):
        raise InvalidReport(f"a {mode} report judged a snapshot collected {rfc3339(evidence.collection_started)}, "
                            f"more than the {limit} h allowed before the run")


def _check_validity(mode: str, profile: Profile, evidence: Evidence, outcome: WaiverOutcome, stated: Any) -> None:
    hours = profile.validity_hours(mode)
    expected = rfc3339(valid_until(evidence.collection_started, hours,
                                   [u.waiver.expires for u in outcome.uses if u.state == APPLIED]))
    if stated != expected:
        raise InvalidReport(f"verdict.validUntil {short_repr(stated)} is not the profile's validity for {mode} "
                            f"({hours} h after the collection, or an applied waiver's expiry: {expected})")


def _obj(document: JsonObject, key: str) -> JsonObject:
    value = document.get(key)
    if not isinstance(value, dict):
        raise InvalidReport(f"report has no {key} object")
    return value


def _list(document: JsonObject, key: str) -> list[Any]:
    value = document.get(key)
    if not isinstance(value, list):
        raise InvalidReport(f"report has no {key} list")
    return value
