"""Latency probe result files: written where the application runs (`probe latency --format json`), folded into
an audit (`run --probe-results`), and the profile-to-probe configuration both share.

The document itself (its schema, validation and origin label) is pure data: facts/latency.py.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable
from pathlib import Path

from redis_audit import __version__
from redis_audit.exitcodes import UsageError
from redis_audit.facts.latency import RESULT_SCHEMA, validate_result
from redis_audit.files import write_file
from redis_audit.jsonvalue import JsonObject, ensure_canonical
from redis_audit.probes.latency import WRITE_COMMANDS, ProbeConfig, ProbeResult
from redis_audit.profile import Profile

AZ_VARIABLES = ("REDIS_AUDIT_AZ", "AVAILABILITY_ZONE", "TOPOLOGY_ZONE")


def probe_config(profile: Profile, *, local: bool = False, rate_hz: int | None = None,
                 duration_ms: int | None = None, commands: Iterable[str] | None = None,
                 connections: int | None = None) -> ProbeConfig:
    """The probe the profile describes. Write commands are dropped unless the profile allows writes;
    named explicitly without that permission, they fail validation (ProbeConfigError)."""
    latency, client = profile.latency, profile.client
    if commands is None:
        chosen = tuple(c for c in latency.commands if latency.allow_writes or c not in WRITE_COMMANDS)
    else:
        chosen = tuple(commands)
    # The app's own timeouts when declared, so a probe request fails exactly when the app's would.
    connect_ms = client.connect_timeout_ms or 1_000
    read_ms = client.read_timeout_ms or 1_000
    return ProbeConfig(
        rate_hz=rate_hz or (latency.local_rate_hz if local else latency.rate_hz),
        duration_ms=duration_ms or (latency.local_duration_ms if local else latency.duration_ms),
        commands=chosen,
        allow_writes=latency.allow_writes,
        connections=connections or latency.connections,
        setup_samples=5 if local else 30,
        connect_timeout_ms=connect_ms,
        read_timeout_ms=read_ms,
    )


def origin_from_env(az: str | None = None) -> JsonObject:
    """Where the probe ran: host and pod from HOSTNAME/POD_NAME (the Job sets them), AZ from a flag
    or REDIS_AUDIT_AZ / AVAILABILITY_ZONE / TOPOLOGY_ZONE."""
    env = os.environ
    zone = az or next((env[v] for v in AZ_VARIABLES if env.get(v)), None)
    return {
        "host": env.get("HOSTNAME") or socket.gethostname(),
        "pod": env.get("POD_NAME"),
        "namespace": env.get("POD_NAMESPACE"),
        "node": env.get("NODE_NAME"),
        "az": zone,
    }


def result_document(result: ProbeResult, origin: JsonObject, target_url: str) -> JsonObject:
    doc: JsonObject = {"schema": RESULT_SCHEMA, "tool": __version__, "origin": origin, "targetUrl": target_url}
    doc.update(result.to_json())
    ensure_canonical(doc)
    return doc


def write_result(path: Path, doc: JsonObject) -> None:
    text = json.dumps(doc, sort_keys=True, indent=1) + "\n"
    if str(path) == "-":
        print(text, end="")
        return
    write_file(path, text, what="--emit")


def load_results(paths: Iterable[Path]) -> list[JsonObject]:
    docs: list[JsonObject] = []
    for path in paths:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"--probe-results: no such file: {path}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"--probe-results: cannot read {path}: {exc}") from None
        docs.append(validate_result(raw, str(path)))
    return docs
