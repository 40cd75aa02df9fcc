"""Graded comparisons: a Limit compares exactly at its bound, and ctx.graded states one expectation for
every status, with the declared value beside the observed one when a check has both."""

from __future__ import annotations

import pytest

from redis_audit.check import CheckContext, CheckMeta, Limit
from redis_audit.grading import grade
from redis_audit.model import Severity, Status
from redis_audit.profile import Profile
from tests.judging import snapshot


@pytest.mark.parametrize(("limit", "measured", "holds"), [
    (Limit("<", 80), 79, True), (Limit("<", 80), 80, False),
    (Limit("<=", 80), 80, True), (Limit("<=", 80), 81, False),
    (Limit(">", 7), 8, True), (Limit(">", 7), 7, False),
    (Limit(">=", 7), 7, True), (Limit(">=", 7), 6, False),
    (Limit("<", 80, "%", scale=100), 7_999, True), (Limit("<", 80, "%", scale=100), 8_000, False),
])
def test_a_limit_compares_exactly_at_its_bound(limit: Limit, measured: int, holds: bool) -> None:
    assert limit.holds(measured) is holds


def test_a_limit_reads_as_the_profile_words_it() -> None:
    assert str(Limit("<", 80, "%", scale=100)) == "< 80%"
    assert str(Limit(">=", 30, " days")) == ">= 30 days"
    with pytest.raises(ValueError, match="not '=<'"):
        Limit("=<", 1)  # type: ignore[arg-type]


@pytest.mark.parametrize(("measured", "status"), [(69, Status.PASS), (70, Status.WARN), (90, Status.WARN),
                                                  (91, Status.FAIL)])
def test_fail_outranks_warn(measured: int, status: Status) -> None:
    assert grade(measured, warn=Limit("<", 70), fail=Limit("<=", 90)) is status


def test_lower_is_worse_reads_the_same_way() -> None:
    days = {"warn": Limit(">=", 30, " days"), "fail": Limit(">=", 7, " days")}
    assert [grade(d, **days) for d in (30, 29, 7, 6)] == [Status.PASS, Status.WARN, Status.WARN, Status.FAIL]


def ctx() -> CheckContext:
    meta = CheckMeta(id="X-TEST-001", title="t", severity=Severity.LOW, category="audit", verifies="v", risk="r",
                     remediation="m")
    return CheckContext(snapshot(), Profile(), meta)


def test_graded_states_what_passes_for_every_status_and_one_message_per_status() -> None:
    limits = {"warn": Limit("<", 70, "%", scale=100), "fail": Limit("<=", 90, "%", scale=100)}
    messages = {Status.PASS: "fine", Status.WARN: "close", Status.FAIL: "over"}
    found = [ctx().graded("r", m, message=messages, **limits) for m in (6_999, 7_000, 9_001)]
    assert [(str(f.status), f.message) for f in found] == [("PASS", "fine"), ("WARN", "close"), ("FAIL", "over")]
    assert [f.evidence for f in found] == [{"observed": 6_999, "expected": "< 70%"},
                                           {"observed": 7_000, "expected": "< 70%"},
                                           {"observed": 9_001, "expected": "< 70%"}]


def test_graded_carries_the_declared_value_beside_the_observed_one() -> None:
    finding = ctx().graded("r", 95, fail=Limit("<", 80, " connections"), message="pool nearly full",
                           observed={"connections": 95}, declared={"poolSize": 100}, node="10.0.0.1:6379")
    assert finding.evidence == {"observed": {"connections": 95}, "expected": "< 80 connections",
                                "declared": {"poolSize": 100}, "node": "10.0.0.1:6379"}


def test_graded_needs_a_limit() -> None:
    with pytest.raises(ValueError, match="needs a warn or a fail limit"):
        ctx().graded("r", 1, message="?")
