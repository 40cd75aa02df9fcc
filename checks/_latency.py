"""Readers for the latency facts: probe results (from the app pods and the audit host) as histograms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis_audit.check import CheckContext
from redis_audit.facts.histogram import Histogram, merged
from redis_audit.facts.latency import origin_label
from redis_audit.snapshot import NodeSnapshot

OWN_CLIENT_PREFIX = "redis-audit"  # the auditor's own connections, left out of client counts
LOCAL_LABEL = "the audit host"


def probe_sources(ctx: CheckContext) -> tuple[list[tuple[str, Mapping[str, Any]]], bool]:
    """The probe results to judge, labelled, and whether they come from the app pods.

    The pods' results (`run --probe-results`) when there are any; else the audit host's short probe
    (`latency.local`), whose unavailability raises FactUnavailable, so the check SKIPs with why.
    """
    pods = ctx.snapshot.deployment_facts.get("latency.pods")
    if pods is not None and pods.ok and isinstance(pods.value, list) and pods.value:
        docs = [d for d in pods.value if isinstance(d, Mapping)]
        return [(f"pod:{origin_label(d)}", d) for d in docs], True
    local = ctx.snapshot.deployment_fact("latency.local")
    return ([(LOCAL_LABEL, local)] if isinstance(local, Mapping) else []), False


def response_histogram(doc: Mapping[str, Any]) -> Histogram:
    """Every probed command's response times (from the scheduled send) in one histogram."""
    commands = doc.get("commands")
    histograms = [
        Histogram.from_json(stats["response"])
        for stats in (commands.values() if isinstance(commands, Mapping) else [])
        if isinstance(stats, Mapping) and isinstance(stats.get("response"), Mapping)
    ]
    return merged(histograms)


def counter(doc: Mapping[str, Any], name: str) -> int:
    """A per-command counter (timeouts, errors) summed over the commands."""
    commands = doc.get("commands")
    return sum(int(s.get(name, 0)) for s in (commands.values() if isinstance(commands, Mapping) else [])
               if isinstance(s, Mapping))


def setup_p99_us(doc: Mapping[str, Any]) -> int | None:
    """P99 of TCP connect plus TLS handshake, in µs (what a client's connect timeout covers)."""
    setup = doc.get("setup")
    if not isinstance(setup, Mapping):
        return None
    total = 0
    for key in ("tcpConnectUs", "tlsHandshakeUs"):
        part = setup.get(key)
        if isinstance(part, Mapping) and isinstance(part.get("p99"), int):
            total += part["p99"]
        elif key == "tcpConnectUs":
            return None
    return total


def latency_percentiles_us(node: NodeSnapshot, command: str) -> dict[str, int]:
    """INFO latencystats for one command: {"p50": µs, "p99": µs, "p99.9": µs} (7.0+), else {}."""
    text = node.info("latencystats", f"latency_percentiles_usec_{command}")
    out: dict[str, int] = {}
    for part in (text or "").split(","):
        key, _, value = part.partition("=")
        try:
            out[key] = round(float(value))
        except ValueError:
            continue
    return out


def app_client_groups(node: NodeSnapshot) -> dict[str, Mapping[str, Any]]:
    """CLIENT LIST groups by client name, without the auditor's own connections."""
    clients = node.fact("clients")
    groups = clients.get("byName") if isinstance(clients, Mapping) else None
    return {str(name): g for name, g in (groups.items() if isinstance(groups, Mapping) else [])
            if isinstance(g, Mapping) and not str(name).startswith(OWN_CLIENT_PREFIX)}
