"""Recompute everything a report derives from its findings, so `verify` can refuse a report that lies.

From the signed payload alone: the raw findings, the profile values and the waivers it carries, and the
time the run finished. Re-applying the waivers gives each finding's effective status; the verdict
function gives the decision, the blockers and the sign-off states. Any difference from what the report
states is an InvalidReport (a verdict that differs is left to `verify_envelope`'s own message).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from redis_audit.jsonvalue import JsonObject
from redis_audit.model import Severity
from redis_audit.report import effective_counts, finding_id
from redis_audit.signing.errors import InvalidReport, short_repr
from redis_audit.verdict import VERDICT_LOGIC_VERSION, JudgedFinding, decide, policy_from_profile_json
from redis_audit.waivers import FindingRef, Waiver, apply_waivers, parse_rfc3339, rfc3339

DEFAULT_WARNING_DAYS = 14


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
    profile = _obj(_obj(predicate, "profile"), "values")
    report_section = _obj(profile, "report")
    deployment = str(target["name"])
    finished = parse_rfc3339(str(run["finishedAt"]))
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
    warning_days = int(report_section.get("waiver_warning_days", DEFAULT_WARNING_DAYS))  # type: ignore[arg-type]
    outcome = apply_waivers(waivers, refs, deployment, finished, warning_days)
    for f, ref in zip(findings, refs, strict=True):
        effective, waiver = outcome.status(ref), outcome.waiver_id(ref.finding_id)
        if f.get("effectiveStatus") != effective or f.get("waiver") != waiver:
            raise InvalidReport(f"finding {ref.check_id} on {short_repr(ref.resource)} states effectiveStatus "
                                f"{short_repr(f.get('effectiveStatus'))}, its waivers give {effective}")
    if outcome.to_json(waivers_section.get("source")) != waivers_section:  # type: ignore[arg-type]
        raise InvalidReport("waivers section does not match the waivers applied to the findings")
    if predicate.get("effectiveCounts") != effective_counts(outcome.status(r) for r in refs):
        raise InvalidReport("effectiveCounts do not match the findings")

    judged = [JudgedFinding(ref.check_id, outcome.status(ref), Severity(str(f["severity"])), ref.resource,
                            str(f["message"])) for f, ref in zip(findings, refs, strict=True)]
    verdict = decide(judged, policy_from_profile_json(profile))
    stated = dict(_obj(predicate, "verdict"))
    valid_until = stated.pop("validUntil", None)
    recomputed = verdict.to_json()
    if stated.get("decision") == recomputed["decision"] and stated != recomputed:
        raise InvalidReport("verdict mismatch: blockers or sign-off states differ from the findings")
    _check_validity(run, report_section, finished, valid_until)
    return str(recomputed["decision"])


def _check_validity(run: JsonObject, report_section: JsonObject, finished: dt.datetime, stated: Any) -> None:
    hours = _obj(report_section, "validity_hours")
    mode = str(run.get("mode", "local"))
    allowed = hours.get(mode, hours.get("local"))
    if not isinstance(allowed, int):
        raise InvalidReport(f"profile has no validity for mode {short_repr(mode)}")
    expected = rfc3339(finished + dt.timedelta(hours=allowed))
    if stated != expected:
        raise InvalidReport(f"verdict.validUntil {short_repr(stated)} is not the profile's validity for "
                            f"{mode} ({allowed} h after the run, {expected})")


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
