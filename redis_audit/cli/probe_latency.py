"""`redis-audit probe latency TARGET`: an open-loop latency probe of one node, from where it runs.

Run it where the application runs (deploy/kubernetes/latency-probe-job.yaml) with
`--format json --output FILE` (the result document), then fold the files into an audit with
`redis-audit run ... --probe-results FILE...`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from tabulate import tabulate

from redis_audit.cli import deprecated
from redis_audit.cli.document import check_output, format_option, output_option, write_document
from redis_audit.cli.options import build_target, pop_target_options, target_options
from redis_audit.deadline import Deadline, DeadlineExceeded
from redis_audit.exitcodes import ExitCode, InconclusiveError, UsageError
from redis_audit.files import check_destination
from redis_audit.jsonvalue import JsonObject, JsonValue
from redis_audit.output.sanitize import visible_json
from redis_audit.probes.latency import ALL_COMMANDS, ProbeConfigError, ProbeResult, run_latency_probe
from redis_audit.probes.resp import ProbeTimeout, RespError
from redis_audit.probes.results import origin_from_env, probe_config, result_document, write_result
from redis_audit.profile import load_profile
from redis_audit.replies import ReplyRefused
from redis_audit.secret import scrub

# The default deadline: the probe's duration, and this much for setup, the server's view and the result.
DEADLINE_MARGIN_S = 30.0


def _commands(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(n.strip().lower() for n in value.split(",") if n.strip())
    unknown = [n for n in names if n not in ALL_COMMANDS]
    if unknown:
        raise click.BadParameter(f"unknown {', '.join(unknown)} (known: {', '.join(ALL_COMMANDS)})",
                                 param_hint="--commands")
    return names


@click.command("latency")
@click.argument("target")
@target_options
@click.option("--profile", type=click.Path(path_type=Path),
              help="Profile TOML: [latency] rate, duration, commands, allow_writes; [client] timeouts.")
@click.option("--rate", type=click.IntRange(1, 20_000), help="Requests per second (default: [latency] rate_hz).")
@click.option("--duration", type=click.FloatRange(0.1, 3600), help="Seconds (default: [latency] duration_ms).")
@click.option("--connections", type=click.IntRange(1, 16), help="Parallel connections sharing the rate.")
@click.option("--commands", "commands_text", metavar="LIST",
              help="Comma-separated: ping,get (read-only), set,evalsha (writes; need [latency] allow_writes).")
@deprecated.old_option("--emit", lambda path: "--format json" + ("" if str(path) == "-" else " --output FILE"),
                       type=click.Path(path_type=Path))
@click.option("--az", help="Availability zone of this host (default: $REDIS_AUDIT_AZ, $AVAILABILITY_ZONE, "
              "$TOPOLOGY_ZONE).")
@format_option(["table", "json"], help="json: the result document that `run --probe-results` reads.")
@output_option("the result")
@click.option("--deadline", type=click.FloatRange(min=1), metavar="SECONDS",
              help="Seconds the whole probe may take, whatever the server does (then exit 3). "
                   f"Default: the duration + {DEADLINE_MARGIN_S:g} s.")
def latency(target: str, profile: Path | None, rate: int | None, duration: float | None, connections: int | None,
            commands_text: str | None, deprecated_emit: Path | None, az: str | None, output_format: str,
            output: Path | None, deadline: float | None, **kwargs: Any) -> int:
    """Measure TARGET's latency as a client sees it: open loop, P50..P99.9 with 95% bounds."""
    started = time.monotonic()
    built = build_target(target, pop_target_options(kwargs))
    emit = deprecated_emit  # the old spelling: the JSON result to FILE ('-': stdout), the rendering to stdout
    if emit is not None and output is not None:
        raise deprecated.both_given("--output", "--emit")
    check_output(output)  # before the probe: its result must have somewhere to go
    if emit is not None and str(emit) != "-":
        check_destination(emit, "--emit")
    if built.kind != "redis":
        raise UsageError("probe latency takes a redis:// or rediss:// node address (the primary)")
    try:
        duration_ms = int(duration * 1000) if duration else None
        config = probe_config(load_profile(profile), rate_hz=rate, duration_ms=duration_ms,
                              commands=_commands(commands_text), connections=connections)
        config.validate()
    except ProbeConfigError as exc:
        raise UsageError(str(exc)) from None
    seconds = deadline or config.duration_ms / 1000 + DEADLINE_MARGIN_S
    wall = Deadline(started + seconds, seconds, "probe")
    try:
        result = run_latency_probe(built.seeds[0], tls=built.tls, credentials=built.credentials, config=config,
                                   deadline=wall)
    except (OSError, ConnectionError, ReplyRefused, RespError, ProbeTimeout, DeadlineExceeded) as exc:
        raise InconclusiveError(f"cannot probe {built.seeds[0]}: {scrub(exc)}") from None
    finally:
        wall.close()
    doc = result_document(result, origin_from_env(az), built.url())
    text = json.dumps(doc, sort_keys=True, indent=1) + "\n" if output_format == "json" else render_table(doc) + "\n"
    if emit is None:
        write_document(text, output, summary(built.seeds[0], doc))
    else:
        write_result(emit, doc)
        if str(emit) != "-":
            click.echo(text, nl=False)
    if result.failure is not None:  # replies refused or connections lost: not a latency to report
        raise InconclusiveError(f"the probe of {built.seeds[0]} cannot be trusted: {result.failure}")
    if not any(s.sent - s.errors - s.timeouts for s in result.commands.values()):
        raise InconclusiveError(f"the probe of {built.seeds[0]} got no reply in time: {_first_error(result)}")
    return int(ExitCode.READY)


def summary(seed: object, doc: JsonObject) -> str:
    all_ = doc.get("all") if isinstance(doc.get("all"), dict) else {}
    response = all_.get("responseUs") if isinstance(all_, dict) else None
    stats = response if isinstance(response, dict) else {}
    return f"Latency probe of {seed}: {stats.get('count', 0)} requests, P95 {stats.get('p95', '-')} µs"


def _first_error(result: ProbeResult) -> str:
    for stats in result.commands.values():
        if stats.messages:
            return stats.messages[0]
    return f"every request timed out (read timeout {result.config.read_timeout_ms} ms)"


def _summary_row(label: str, stats: JsonValue) -> list[Any]:
    s = stats if isinstance(stats, dict) else {}
    ci = s.get("ci95") if isinstance(s.get("ci95"), dict) else {}
    assert isinstance(ci, dict)

    def bound(name: str) -> str:
        pair = ci.get(name)
        if not isinstance(pair, list):
            return "-"
        return f"[{'-' if pair[0] is None else pair[0]}, {'∞' if pair[1] is None else pair[1]}]"

    return [label, s.get("count", 0), s.get("p50", "-"), s.get("p95", "-"), bound("p95"), s.get("p99", "-"),
            s.get("p999", "-"), s.get("max", "-")]


def render_table(doc: JsonObject) -> str:
    doc = visible_json(doc)  # skip reasons and command names may carry server text
    headers = ["series (µs)", "n", "P50", "P95", "P95 95% CI", "P99", "P99.9", "max"]
    rows: list[list[Any]] = []
    commands = doc.get("commands")
    for name, stats in (commands.items() if isinstance(commands, dict) else []):
        if isinstance(stats, dict):
            rows.append(_summary_row(f"{name} response", stats.get("responseUs")))
            rows.append(_summary_row(f"{name} service", stats.get("serviceUs")))
    all_ = doc.get("all")
    if isinstance(all_, dict):
        rows.append(_summary_row("all response", all_.get("responseUs")))
    setup = doc.get("setup")
    if isinstance(setup, dict):
        rows.append(_summary_row("TCP connect", setup.get("tcpConnectUs")))
        if setup.get("tlsHandshakeUs") is not None:
            rows.append(_summary_row("TLS handshake", setup.get("tlsHandshakeUs")))
        rows.append(_summary_row("first command", setup.get("firstCommandUs")))
    scheduler = doc.get("scheduler")
    if isinstance(scheduler, dict):
        rows.append(_summary_row("probe oversleep", scheduler.get("oversleepUs")))
    lines = [tabulate(rows, headers=headers, tablefmt="simple")]
    if isinstance(scheduler, dict) and scheduler.get("hostJitter"):
        lines.append("warning: this host's scheduler oversleeps more than 1 ms at P99: the tail includes host jitter")
    skipped = doc.get("skipped")
    for name, reason in (skipped.items() if isinstance(skipped, dict) else []):
        lines.append(f"skipped {name}: {reason}")
    server = doc.get("server")
    if isinstance(server, dict):
        for name, one in server.items():
            if isinstance(one, dict) and one.get("meanNs") is not None:
                lines.append(f"server {name}: mean {one['meanNs']} ns per call during the probe "
                             f"({one.get('calls')} calls, all clients)")
    return "\n".join(lines)
