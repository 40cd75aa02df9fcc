"""The readiness metric set: one report as Prometheus/OpenMetrics samples.

This is THE metric vocabulary of redis-audit: `--format prometheus`/`openmetrics` renders one report
with it, and the fleet report emits the same families for every deployment (`report_metrics` with the
deployment's labels, then `merge`), adding only what depends on the time it is read
(`redis_audit_report_age_seconds`, `redis_audit_report_valid`), which a single report cannot know.

Every family is a gauge; state-like families (verdict, sign-off blocker state) emit one sample per
possible state, 1 for the current one and 0 for the others, so `== 1` alerts and `sum by` work.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis_audit.jsonvalue import JsonObject, as_object
from redis_audit.output.sanitize import visible
from redis_audit.output.view import View, effective
from redis_audit.waivers import parse_rfc3339

PREFIX = "redis_audit_"
VERDICTS = ("READY", "NOT_READY", "INCONCLUSIVE")
STATUSES = ("PASS", "FAIL", "WARN", "ERROR", "SKIP", "INFO", "WAIVED")
SIGNOFF_STATES = ("met", "not met", "not verified")
WAIVER_STATES = ("applied", "expired", "unused")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_LABELS = frozenset({"deployment", "verdict", "check", "severity", "status", "blocker", "state", "waiver",
                             "mode", "profile", "version"})


@dataclass(frozen=True)
class Sample:
    labels: tuple[tuple[str, str], ...]
    value: float


@dataclass(frozen=True)
class Family:
    name: str  # without the PREFIX
    help: str
    samples: tuple[Sample, ...]
    unit: str = ""  # OpenMetrics UNIT; the name then ends in _<unit>

    @property
    def full_name(self) -> str:
        return PREFIX + self.name


class MetricBuilder:
    """Samples of one report, each carrying the deployment label and the caller's extra labels."""

    def __init__(self, deployment: str, extra: Mapping[str, str]) -> None:
        for name in extra:
            if not LABEL_NAME.match(name) or name.startswith("__") or name in RESERVED_LABELS:
                raise ValueError(f"label name {name!r} is not usable (Prometheus names, not one of ours)")
        self.base = (("deployment", deployment), *sorted(extra.items()))
        self.families: list[Family] = []

    def add(self, name: str, help_text: str, samples: Iterable[tuple[Mapping[str, str], float]],
            unit: str = "") -> None:
        built = tuple(Sample((*self.base, *labels.items()), value) for labels, value in samples)
        self.families.append(Family(name, help_text, built, unit))

    def one(self, name: str, help_text: str, value: float, unit: str = "") -> None:
        self.add(name, help_text, [({}, value)], unit)


def report_metrics(report: JsonObject, extra_labels: Mapping[str, str] | None = None,
                   signed: bool | None = None) -> list[Family]:
    """The metric families of one report; `extra_labels` (team, env...) go on every sample."""
    view = View(report)
    m = MetricBuilder(view.target, extra_labels or {})
    m.one("deployment_ready", "1 when the verdict is READY, else 0.", 1 if view.decision == "READY" else 0)
    m.add("verdict", "The verdict: 1 for the report's decision, 0 for the others.",
          [({"verdict": v}, 1 if view.decision == v else 0) for v in VERDICTS])
    counts = {s: 0 for s in STATUSES}
    for finding in view.findings():
        counts[effective(finding)] = counts.get(effective(finding), 0) + 1
    m.add("findings", "Findings by effective status (WAIVED: a FAIL or WARN under an applied waiver).",
          [({"status": s}, n) for s, n in counts.items()])
    m.add("check_failed", "1 when at least one finding of the check FAILed (not waived), else 0.",
          [({"check": check, "severity": severity}, failed) for (check, severity), failed in _checks(view)])
    m.one("blockers", "Findings that block promotion in this verdict.", len(view.blockers))
    m.add("signoff_blocker", "Sign-off blockers: 1 for the blocker's state, 0 for the other states.",
          [({"blocker": str(b.get("id") or b.get("title")), "state": s}, 1 if b.get("state") == s else 0)
           for b in view.signoff for s in SIGNOFF_STATES])
    m.one("signoff_gate", "1 when the profile gates the verdict on the sign-off blockers.",
          1 if view.signoff_gate else 0)
    m.add("waivers", "Waiver entries by state.",
          [({"state": s}, len(view.waiver_entries(s))) for s in WAIVER_STATES])
    m.add("waiver_expiry_timestamp_seconds", "When each waiver expires (Unix time).",
          [({"waiver": str(w.get("id")), "check": str(w.get("check"))}, _epoch(w.get("expires")))
           for w in view.waiver_entries()], unit="seconds")
    m.one("report_timestamp_seconds", "When the audit finished (Unix time).",
          _epoch(view.run.get("finishedAt")), unit="seconds")
    m.one("report_valid_until_seconds", "Until when the report may gate a promotion (Unix time).",
          _epoch(view.valid_until), unit="seconds")
    m.one("report_duration_seconds", "How long the audit took.",
          float(view.run.get("durationMs") or 0) / 1000, unit="seconds")
    if signed is not None:
        m.one("report_signed", "1 when rendered from a verified signed envelope, 0 for an unsigned report.",
              1 if signed else 0)
    tool = as_object(report.get("tool"))
    m.add("report_info", "The report's mode, profile and tool version (value always 1).",
          [({"mode": view.mode, "profile": view.profile_name, "version": str(tool.get("version"))}, 1)])
    return m.families


def _checks(view: View) -> list[tuple[tuple[str, str], int]]:
    failed: dict[tuple[str, str], int] = {}
    for finding in view.findings():
        key = (str(finding.get("checkId")), str(finding.get("severity")))
        failed[key] = max(failed.get(key, 0), 1 if effective(finding) == "FAIL" else 0)
    return sorted(failed.items())


def _epoch(value: Any) -> float:
    try:
        return parse_rfc3339(str(value)).timestamp()
    except (TypeError, ValueError):
        return math.nan


def merge(reports: Iterable[Sequence[Family]]) -> list[Family]:
    """The families of several reports as one exposition: samples of one name in one family."""
    merged: dict[str, Family] = {}
    for families in reports:
        for family in families:
            known = merged.get(family.name)
            merged[family.name] = family if known is None else Family(
                known.name, known.help, known.samples + family.samples, known.unit)
    return list(merged.values())


def escape_label(value: str) -> str:
    """Control and bidi characters spelled out (sanitize.visible), then the exposition's own escapes."""
    return visible(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))


def exposition(families: Sequence[Family], openmetrics: bool = False) -> str:
    """The text exposition format (Prometheus 0.0.4), or OpenMetrics 1.0 with UNIT lines and `# EOF`."""
    lines: list[str] = []
    for family in families:
        name = family.full_name
        lines.append(f"# HELP {name} {escape_help(family.help)}")
        lines.append(f"# TYPE {name} gauge")
        if openmetrics and family.unit:
            lines.append(f"# UNIT {name} {family.unit}")
        for sample in family.samples:
            labels = ",".join(f'{k}="{escape_label(v)}"' for k, v in sample.labels)
            lines.append(f"{name}{{{labels}}} {_value(sample.value)}")
    if openmetrics:
        lines.append("# EOF")
    return "\n".join(lines) + "\n"
