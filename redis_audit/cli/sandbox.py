"""`redis-audit sandbox up|status|down`: a local deployment to try the auditor on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import click
from tabulate import tabulate

from redis_audit.exitcodes import UsageError
from redis_audit.sandbox import Sandbox, SandboxError, SandboxSpec
from redis_audit.sandbox.crash import SandboxCrashSim
from redis_audit.sandbox.model import ENGINES, PRESETS, TOPOLOGIES, Engine, Preset, Topology

DEFAULT_STATE_DIR = Path(".redis-audit") / "sandbox"

state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_STATE_DIR,
    show_default=True,
    help="Directory holding the sandbox's state, data, logs, certificates and credentials.",
)


def crash_sim(state_dir: Path) -> SandboxCrashSim:
    """The sandbox's processes, for `probe failover --mode crash-sim --sandbox-state DIR`."""
    return SandboxCrashSim(state_dir)


@click.group()
def sandbox() -> None:
    """Start, inspect and stop a local Redis/Valkey deployment (loopback only)."""


@sandbox.command()
@click.option("--topology", type=click.Choice(TOPOLOGIES), default="standalone", show_default=True)
@click.option("--tls", is_flag=True, help="TLS with a throwaway CA (the good preset is TLS-only).")
@click.option(
    "--preset",
    type=click.Choice(PRESETS),
    default="good",
    show_default=True,
    help="good: production-like; bad: looks like a default install (no AUTH, no limits).",
)
@click.option("--engine", type=click.Choice(ENGINES), default="redis", show_default=True)
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Readiness timeout, seconds.")
@state_dir_option
def up(topology: str, tls: bool, preset: str, engine: str, timeout: float, state_dir: Path) -> None:
    """Start a sandbox and wait until it is ready."""
    try:
        spec = SandboxSpec(
            topology=cast(Topology, topology),
            tls=tls,
            preset=cast(Preset, preset),
            engine=cast(Engine, engine),
        )
        started = Sandbox.up(spec, state_dir, timeout=timeout)
    except SandboxError as exc:
        raise UsageError(_one_line(exc)) from None
    _print_table(started.status())
    click.echo(f"Stop it with: redis-audit sandbox down --state-dir {started.state_dir}")


@sandbox.command()
@click.option(
    "--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@state_dir_option
def status(output_format: str, state_dir: Path) -> None:
    """Show the target URL, credentials file, CA and nodes (never a password)."""
    current = _load(state_dir)
    if output_format == "json":
        click.echo(json.dumps(current.status(), indent=2))
    else:
        _print_table(current.status())


@sandbox.command()
@state_dir_option
def down(state_dir: Path) -> None:
    """Stop every process of the sandbox (by PID)."""
    current = _load(state_dir)
    current.down()
    click.echo(f"sandbox in {current.state_dir} stopped")


def _load(state_dir: Path) -> Sandbox:
    try:
        return Sandbox.load(state_dir)
    except SandboxError as exc:
        raise UsageError(_one_line(exc)) from None


def _one_line(exc: SandboxError) -> str:
    """Errors are one line; a readiness failure's log tail stays in the node's log file."""
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _print_table(status: dict[str, Any]) -> None:
    rows = [
        ("target", status["target_url"]),
        ("engine", f"{status['engine']} {status['version']}"),
        (
            "topology",
            f"{status['topology']} (preset {status['preset']}, tls {'on' if status['tls'] else 'off'})",
        ),
        ("credentials file", status["credentials_file"]),
        ("CA file", status["ca_file"] or "-"),
        ("client cert", status["client_cert_file"] or "-"),
        ("client key", status["client_key_file"] or "-"),
        ("data users", ", ".join(status["users"]["data"])),
        ("sentinel users", ", ".join(status["users"]["sentinel"]) or "-"),
        ("running", "yes" if status["running"] else "no"),
    ]
    click.echo(tabulate(rows, tablefmt="plain"))
    click.echo()
    node_rows = [
        (n["name"], n["role"], f"{n['host']}:{n['port']}", n["pid"], "up" if n["alive"] else "down")
        for n in status["nodes"]
    ]
    click.echo(tabulate(node_rows, headers=["node", "role", "address", "pid", "process"]))
