"""Latency result documents, schema ``redis-audit/latency-result/v1``: what makes one valid, and whom
it speaks for.

A document is one JSON object: where it was measured (host, pod, node, AZ), the target (address,
URL without credentials) and the probe's result with its histograms, so that several pods'
distributions can be merged exactly. `probe latency --emit` writes them (probes/results.py), `run
--probe-results` folds them into a snapshot, and the checks read them.
"""

from __future__ import annotations

from collections.abc import Mapping

from redis_audit.exitcodes import UsageError
from redis_audit.facts.histogram import Histogram
from redis_audit.jsonvalue import JsonObject, JsonValue, NotCanonical, ensure_canonical

RESULT_SCHEMA = "redis-audit/latency-result/v1"


def origin_label(doc: Mapping[str, JsonValue]) -> str:
    """'pod-name (az)' or the host name: the resource a per-pod finding is about."""
    origin = doc.get("origin")
    if not isinstance(origin, Mapping):
        return "unknown"
    name = origin.get("pod") or origin.get("host") or "unknown"
    return f"{name} ({origin['az']})" if origin.get("az") else str(name)


def validate_result(doc: object, source: str) -> JsonObject:
    """A result document as read from a file, or UsageError naming the file and the problem."""
    if not isinstance(doc, dict) or doc.get("schema") != RESULT_SCHEMA:
        raise UsageError(f"--probe-results: {source} is not a {RESULT_SCHEMA} file")
    try:
        ensure_canonical(doc)
        commands = doc.get("commands")
        if not isinstance(commands, dict):
            raise ValueError("no commands")
        for name, stats in commands.items():
            if not isinstance(stats, dict) or not isinstance(stats.get("response"), dict):
                raise ValueError(f"command {name} has no response histogram")
            Histogram.from_json(stats["response"])
    except (NotCanonical, ValueError) as exc:
        raise UsageError(f"--probe-results: {source}: {exc}") from None
    return doc
