"""Prometheus text exposition (and OpenMetrics) of one report, for node_exporter's textfile collector or a
Pushgateway. The metric set lives in metrics.py, shared with the fleet report."""

from __future__ import annotations

from redis_audit.jsonvalue import JsonObject
from redis_audit.output import RenderOptions
from redis_audit.output.metrics import exposition, report_metrics


def render(report: JsonObject, options: RenderOptions) -> str:
    return exposition(report_metrics(report, signed=options.signed is not None))


def render_openmetrics(report: JsonObject, options: RenderOptions) -> str:
    return exposition(report_metrics(report, signed=options.signed is not None), openmetrics=True)
