"""`redis-audit run`: audit a deployment (or a saved snapshot) and report the verdict."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from redis_audit.audit import AuditOptions, collect_snapshot, judge_snapshot
from redis_audit.cli.aws_options import aws_options, pop_aws_options, resolve_target, upload_if_asked
from redis_audit.cli.options import pop_target_options, target_options
from redis_audit.cli.probe_failover import FACT as FAILOVER_FACT
from redis_audit.cli.probe_failover import execute as run_failover
from redis_audit.cli.probe_failover import failover_options, pop_failover_options
from redis_audit.client import Timeouts
from redis_audit.exitcodes import UsageError
from redis_audit.output import RenderOptions, renderers
from redis_audit.probes.results import fold_into, load_results
from redis_audit.profile import load_profile
from redis_audit.report import Report
from redis_audit.snapshot import Fact, Snapshot
from redis_audit.verdict import exit_code

FC = TypeVar("FC", bound=Callable[..., Any])


def format_option(default: str = "table") -> Callable[[FC], FC]:
    return click.option("--format", "output_format", default=default, show_default=True,
                        type=click.Choice(sorted(renderers())), help="Report format.")


def render_report(report: Report, output_format: str, *, only_attention: bool = False, tty: bool = False) -> str:
    """The report in one format; colour only on a terminal, and never with NO_COLOR."""
    color = tty and "NO_COLOR" not in os.environ
    return renderers()[output_format](report.to_json(), RenderOptions(only_attention=only_attention, color=color))


def write_text(path: Path, text: str, option: str = "--output") -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{option}: cannot write {path}: {exc.strerror}") from None


def write_report(report: Report, output_format: str, output: Path | None, only_attention: bool) -> None:
    """Render the report to the file, or to stdout; with a file, print a short verdict on stdout."""
    if output is None:
        click.echo(render_report(report, output_format, only_attention=only_attention, tty=sys.stdout.isatty()),
                   nl=False)
        return
    write_text(output, render_report(report, output_format, only_attention=only_attention))
    click.echo(summary_line(report))
    click.echo(f"Report written to {output}")


def summary_line(report: Report) -> str:
    verdict = report.verdict
    blockers = ", ".join(sorted({b.check_id for b in verdict.blockers}))
    suffix = f" (blockers: {blockers})" if blockers else ""
    return f"Verdict: {verdict.decision}{suffix}"


@click.command()
@click.argument("target", required=False)
@target_options
@click.option("--profile", type=click.Path(path_type=Path), help="Profile TOML (default: the rollout's numbers).")
@format_option()
@click.option("--output", type=click.Path(path_type=Path), help="Write the report here instead of stdout.")
@click.option("--deadline", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds the whole run may take.")
@click.option("--connect-timeout", type=click.FloatRange(min=0.05), default=2.0, show_default=True)
@click.option("--command-timeout", type=click.FloatRange(min=0.05), default=3.0, show_default=True)
@click.option("--save-snapshot", type=click.Path(path_type=Path), help="Also write the collected facts here.")
@click.option("--from-snapshot", type=click.Path(path_type=Path), help="Judge a saved snapshot; no network.")
@click.option("--only-attention", is_flag=True, help="Hide PASS rows in the table.")
@aws_options
@click.option("--probe-results", type=click.Path(path_type=Path), multiple=True, metavar="FILE",
              help="A `probe latency --emit` result from an app pod (repeat for several pods).")
@click.option("--allow-failover", is_flag=True, help="Also run the failover probe (changes the deployment!).")
@failover_options
def run(target: str | None, profile: Path | None, output_format: str, output: Path | None, deadline: float,
        connect_timeout: float, command_timeout: float, save_snapshot: Path | None, from_snapshot: Path | None,
        only_attention: bool, probe_results: tuple[Path, ...], allow_failover: bool, **kwargs: Any) -> int:
    """Audit TARGET (redis://, rediss://, redis+sentinel://HOST:PORT,.../MASTER), or an AWS-managed
    deployment (--aws-replication-group, --aws-serverless-cache, --memorydb-cluster), and print the verdict."""
    failover_opts = pop_failover_options(kwargs)
    target_opts = pop_target_options(kwargs)
    aws_opts = pop_aws_options(kwargs, output)
    loaded_profile = load_profile(profile)
    pods = load_results(probe_results)  # before connecting: a bad file is a usage error
    if from_snapshot is not None:
        if target:
            raise UsageError("give either TARGET or --from-snapshot, not both")
        snapshot = _load_snapshot(from_snapshot)
    else:
        options = AuditOptions(loaded_profile, deadline, Timeouts(connect_timeout, command_timeout))
        built = resolve_target(target, target_opts, aws_opts)
        snapshot = collect_snapshot(built, options)
        if allow_failover:  # opt-in, after the read-only collection: its result is one more fact
            snapshot.deployment_facts[FAILOVER_FACT] = Fact(value=run_failover(built, failover_opts, loaded_profile))
    fold_into(snapshot, pods)
    if save_snapshot is not None:
        snapshot.save(save_snapshot)
    report = judge_snapshot(snapshot, loaded_profile)
    write_report(report, output_format, output, only_attention)
    upload_if_asked(aws_opts, output, report)
    if report.verdict.incomplete:
        for reason in report.verdict.reasons:
            click.echo(f"redis-audit: incomplete: {reason}", err=True)
    return int(exit_code(report.verdict.decision))


def _load_snapshot(path: Path) -> Snapshot:
    try:
        return Snapshot.load(path)
    except FileNotFoundError:
        raise UsageError(f"--from-snapshot: no such file: {path}") from None
    except (ValueError, KeyError) as exc:
        raise UsageError(f"--from-snapshot: {path} is not a redis-audit snapshot: {exc}") from None
