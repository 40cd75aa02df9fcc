"""`--format prometheus` / `openmetrics`, read back by the Prometheus client library's own parsers."""

from __future__ import annotations

import math

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus

from redis_audit.cli.signed import render
from redis_audit.output.metrics import exposition, merge, report_metrics
from redis_audit.output.sanitize import visible
from tests.output.verdicts import EXPECTED, HOSTILE, VERDICTS, build
from tests.reportkit import DEPLOYMENT, FINISHED


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory):
    return build(tmp_path_factory.mktemp("metrics"))


def samples(text: str, parser=parse_prometheus) -> dict[str, list]:
    out: dict[str, list] = {}
    for family in parser(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def value(found: dict[str, list], name: str, **labels: str) -> float:
    matches = [s.value for s in found[name] if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matches) == 1, (name, labels, matches)
    return matches[0]


@pytest.mark.parametrize("kind", VERDICTS)
def test_every_verdict_parses_and_says_what_the_verdict_says(reports, kind: str) -> None:
    verified = reports[kind]
    text = render(verified.report, "prometheus", signed=verified.context)
    found = samples(text)
    decision = EXPECTED[kind]
    assert value(found, "redis_audit_deployment_ready", deployment=DEPLOYMENT) == (decision == "READY")
    for verdict in ("READY", "NOT_READY", "INCONCLUSIVE"):
        assert value(found, "redis_audit_verdict", verdict=verdict) == (verdict == decision)
    counts = verified.report["effectiveCounts"]
    for status, count in counts.items():
        assert value(found, "redis_audit_findings", status=status) == count
    assert value(found, "redis_audit_report_timestamp_seconds") == FINISHED.timestamp()
    assert value(found, "redis_audit_report_valid_until_seconds") > FINISHED.timestamp()
    assert value(found, "redis_audit_report_signed") == 1
    assert value(found, "redis_audit_blockers") == len(verified.report["verdict"]["blockers"])
    states = {s.labels["blocker"]: s.labels["state"] for s in found["redis_audit_signoff_blocker"] if s.value == 1}
    assert states == {b["id"]: b["state"] for b in verified.report["verdict"]["signoff"]["blockers"]}
    failed = {s.labels["check"] for s in found["redis_audit_check_failed"] if s.value == 1}
    assert failed == {f["checkId"] for f in verified.report["findings"] if f["effectiveStatus"] == "FAIL"}
    # The same text is valid OpenMetrics once it has UNIT lines and the # EOF terminator.
    om = samples(render(verified.report, "openmetrics", signed=verified.context), parse_openmetrics)
    assert value(om, "redis_audit_verdict", verdict=decision) == 1


def test_failing_and_waived_checks_are_told_apart(reports) -> None:
    found = samples(render(reports["not-ready"].report, "prometheus"))
    assert value(found, "redis_audit_check_failed", check="MEM-004", severity="high") == 1
    assert value(found, "redis_audit_report_signed") == 0  # rendered without the signed context
    waived = samples(render(reports["waived"].report, "prometheus"))
    assert value(waived, "redis_audit_check_failed", check="MEM-004") == 0
    assert value(waived, "redis_audit_findings", status="WAIVED") == 1
    assert value(waived, "redis_audit_waivers", state="applied") == 1
    assert value(waived, "redis_audit_waiver_expiry_timestamp_seconds", waiver="W-1", check="MEM-004") > 0


def test_label_values_are_escaped_so_a_hostile_name_stays_one_label(reports) -> None:
    report = {**reports["ready"].report, "target": {"name": HOSTILE}}
    for parser, openmetrics in ((parse_prometheus, False), (parse_openmetrics, True)):
        text = exposition(report_metrics(report), openmetrics=openmetrics)
        assert text.count("\n# EOF") == (1 if openmetrics else 0)  # the hostile "# EOF" never starts a line
        found = samples(text, parser)
        # The value as every text rendering shows it: the newline spelled out, quotes and braces kept.
        assert value(found, "redis_audit_deployment_ready", deployment=visible(HOSTILE)) == 1


def test_the_fleet_merges_reports_into_one_family_per_metric(reports) -> None:
    """What issue 15's fleet report does: the same families for every deployment, extra labels per deployment."""
    a = report_metrics(reports["ready"].report, {"team": "payments", "env": "prod"})
    b = report_metrics({**reports["not-ready"].report, "target": {"name": "sessions"}}, {"team": "web", "env": "prod"})
    families = list(parse_prometheus(exposition(merge([a, b]))))
    names = [f.name for f in families]
    assert len(names) == len(set(names))  # one HELP/TYPE per metric
    ready = {s.labels["deployment"]: (s.labels["team"], s.value) for f in families
             if f.name == "redis_audit_deployment_ready" for s in f.samples}
    assert ready == {DEPLOYMENT: ("payments", 1), "sessions": ("web", 0)}
    with pytest.raises(ValueError, match="not usable"):
        report_metrics(reports["ready"].report, {"deployment": "x"})


def test_an_unparseable_time_is_nan_not_a_crash(reports) -> None:
    report = {**reports["ready"].report, "run": {"finishedAt": "yesterday"}}
    found = samples(exposition(report_metrics(report)))
    assert math.isnan(value(found, "redis_audit_report_timestamp_seconds"))
