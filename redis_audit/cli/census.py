"""`redis-audit census TARGET`: the keyspace census on its own, as a table or JSON.

The census reads keys from a source (today the live deployment, `live_census`) and writes one document
(`--format table|json`, `--output FILE`) whatever the source was.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import redis

from redis_audit.cli.document import check_output, format_option, output_option, write_document
from redis_audit.cli.options import build_target, pop_target_options, target_options
from redis_audit.client import Timeouts
from redis_audit.collect.keyspace import census_options
from redis_audit.deadline import Deadline, DeadlineExceeded
from redis_audit.discovery import DiscoveryFailed, discover
from redis_audit.exitcodes import ExitCode, InconclusiveError, UsageError
from redis_audit.node_trust import with_allowed_hosts
from redis_audit.output.sanitize import visible, visible_json
from redis_audit.profile import load_profile
from redis_audit.secret import scrub
from redis_audit.target import Target

if TYPE_CHECKING:
    from redis_audit.keyspace import CensusOptions

DEFAULT_DEADLINE_S = 3600.0


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.last < 0.2:
            return
        self.last = now
        share = min(done / total, 1.0) if total else 0.0
        bar = "#" * int(30 * share)
        sys.stderr.write(f"\rcensus [{bar:<30}] {done:,}/{total:,} keys {now - self.started:5.1f}s")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 78 + "\r")


def _estimate(group: dict[str, Any], ci: dict[str, Any], name: str, sampled: bool) -> str:
    """A count, with its 95% interval (the JSON's ci95) when it was estimated from a sample."""
    return f"{group[name]:,}" + (f" ±{ci.get(name, 0):,}" if sampled else "")


def render_table(result: dict[str, Any]) -> str:
    from tabulate import tabulate  # only for the table output: its import costs ~60 ms of every run

    result = visible_json(result)  # key names and patterns show their control characters, never run them
    rows = []
    groups = result.get("groups")
    for g in groups if isinstance(groups, list) else []:
        if not isinstance(g, dict):
            continue
        ci: dict[str, Any] = g.get("ci95") or {}
        sampled = result.get("mode") == "sampled"
        hist: dict[str, Any] = g.get("ttlHistogram") or {}
        rows.append([
            g["pattern"],
            _estimate(g, ci, "keys", sampled),
            ",".join(f"{k}:{v}" for k, v in (g.get("types") or {}).items()),
            _estimate(g, ci, "correctedBytes", sampled),
            g.get("correctedBytesPerKey"),
            g.get("bytesPerKey"),
            _estimate(g, ci, "noTtl", sampled),
            " ".join(f"{k}:{v}" for k, v in hist.items() if v),
        ])
    table = tabulate(rows, headers=["group", "keys", "types", "bytes (corrected)", "B/key", "B/key (MEMORY USAGE)",
                                    "no TTL", "TTL histogram"])
    totals: dict[str, Any] = result.get("totals") or {}
    mode = str(result.get("mode"))
    if result.get("modeRequested"):
        mode += f" ({result.get('modeRequested')} was asked; the budget covered every key)"
    footer = (f"\nmode {mode}, {result.get('commands'):,} commands, {result.get('durationMs')} ms; "
              f"total {totals.get('correctedBytes', 0):,} B corrected vs used_memory {totals.get('usedMemory', 0):,} B")
    examples = [e for g in (groups if isinstance(groups, list) else []) if isinstance(g, dict)
                for e in g.get("noTtlExamples", [])[:3] if g.get("noTtl")]
    if result.get("typesSampled"):
        footer += (f"\ntypes from a uniform sample of {result.get('typeSampleSize', 0):,} keys "
                   f"(1 in {result.get('typeSampleEvery')}); keys, bytes and TTLs "
                   + ("of every key" if result.get("mode") == "exact" else "of the whole sample"))
    if examples:
        footer += "\nkeys without TTL, e.g.: " + ", ".join(examples[:6])
    return table + footer + "\n"


@click.command()
@click.argument("target", required=False)
@target_options
@click.option("--profile", type=click.Path(path_type=Path), metavar="builtin:NAME|FILE",
              help="Profile ([keyspace], [[limiters]]): a TOML file or a built-in (default: builtin:default).")
@click.option("--mode", type=click.Choice(["exact", "sampled"]), help="Every key, or a sample (default: profile).")
@click.option("--budget", type=click.IntRange(min=1000), help="Sampled mode: commands to spend.")
@click.option("--types", "types", type=click.Choice(["per-key", "sampled"]),
              help="TYPE for every key, or for a uniform sample of them (counts, bytes and TTLs stay per key; "
                   "the output says typesSampled). Default: profile ([keyspace] types, per-key).")
@click.option("--prefix", "prefixes", multiple=True, help="Group keys by this prefix (repeatable).")
@format_option(["table", "json"])
@output_option("the census")
@click.option("--time-budget", type=click.FloatRange(min=0), default=0.0,
              help="Seconds of scanning: no new slice starts after them; 0: no limit.")
@click.option("--deadline", type=click.FloatRange(min=1), default=DEFAULT_DEADLINE_S, show_default=True,
              help="Seconds the whole census may take, whatever the servers do (then exit 3).")
@click.option("--replicas", is_flag=True, help="Scan a replica of each primary where one exists.")
def census(target: str | None, profile: Path | None, mode: str | None, budget: int | None, types: str | None,
           prefixes: tuple[str, ...], output_format: str, output: Path | None, time_budget: float, deadline: float,
           replicas: bool, **kwargs: Any) -> int:
    """Group TARGET's keys by pattern: counts, types, corrected bytes, TTL histogram, keys without TTL."""
    wall = Deadline.after(deadline, "census")  # from here on, nothing of this census outlives it
    click.get_current_context().call_on_close(wall.close)
    loaded = load_profile(profile)
    options = census_options(loaded, time_budget)
    options = dataclasses.replace(
        options,
        mode=mode or options.mode,
        budget=budget or options.budget,
        prefixes=tuple(dict.fromkeys((*prefixes, *options.prefixes))),
        read_from_replicas=replicas or options.read_from_replicas,
        scan=dataclasses.replace(options.scan, types=types or options.scan.types),
    )
    # Where the keys are read from: the live deployment (the only source so far).
    if target is None:
        raise UsageError("missing TARGET: the deployment to count (redis://, rediss:// or redis+sentinel://)")
    built = with_allowed_hosts(build_target(target, pop_target_options(kwargs)), loaded.target.allowed_hosts)
    check_output(output)  # before the census: its result must have somewhere to go
    source = built.url()
    result = live_census(built, options, wall)
    text = json.dumps(result, indent=2, sort_keys=True) + "\n" if output_format == "json" else render_table(result)
    write_document(text, output, summary(source, result))
    if result.get("complete"):
        return int(ExitCode.READY)
    stopped = [f"{n.get('address')}: {n.get('error')}" for n in _nodes(result) if n.get("error")]
    click.echo(f"redis-audit: incomplete: the census of {source} is partial: {'; '.join(stopped)}", err=True)
    return int(ExitCode.INCONCLUSIVE)


def live_census(built: Target, options: CensusOptions, wall: Deadline) -> dict[str, Any]:
    """The census of a running deployment: discovery, then the gentle scan of every primary (or replica)."""
    from redis_audit.keyspace import CensusError, run_census

    try:
        topology = discover(built, Timeouts(), wall)
    except DiscoveryFailed as exc:
        raise InconclusiveError(f"cannot reach {built.url()}: {exc}") from None
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise InconclusiveError(f"cannot discover {built.url()}: a reply made no sense ({type(exc).__name__})") \
            from None
    progress = Progress()
    try:
        return run_census(built, topology, options, progress, deadline=wall)
    except redis.ResponseError as exc:  # a command refused, e.g. NOPERM: the census cannot be taken
        hint = " (the auditor needs what `redis-audit acl suggest` grants)" if "NOPERM" in str(exc) else ""
        raise InconclusiveError(f"the census of {built.url()} was refused: {scrub(exc)}{hint}") from None
    except (CensusError, DeadlineExceeded) as exc:
        raise InconclusiveError(f"the census of {built.url()} could not be taken: {scrub(exc)}") from None
    finally:
        progress.finish()


def summary(source: str, result: dict[str, Any]) -> str:
    totals: dict[str, Any] = result.get("totals") or {}
    groups = result.get("groups")
    count = len(groups) if isinstance(groups, list) else 0
    return (f"Census of {visible(source)}: {totals.get('keys', 0):,} keys in {count} group{'s' if count != 1 else ''}"
            f" ({result.get('mode')})")


def _nodes(result: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = result.get("nodes")
    return [n for n in nodes if isinstance(n, dict)] if isinstance(nodes, list) else []
