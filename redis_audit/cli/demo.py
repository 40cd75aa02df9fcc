"""`redis-audit demo`: sandbox up, audit, sandbox down — one command for a newcomer's first run."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from redis_audit import files
from redis_audit.audit import AuditOptions, run_audit
from redis_audit.cli.run import format_option
from redis_audit.cli.signed import render, sign_throwaway
from redis_audit.exitcodes import UsageError
from redis_audit.profile import Profile, default_profile, load_profile, profile_from_mapping
from redis_audit.sandbox import Sandbox, SandboxError, SandboxSpec, sandbox_target
from redis_audit.sandbox.config import SANDBOX_LIMITER_PREFIXES
from redis_audit.verdict import exit_code

DEFAULT_REPORT = Path("redis-audit-report.dsse.json")


@click.command()
@click.option("--topology", type=click.Choice(["standalone", "replicated", "sentinel", "cluster"]),
              default="sentinel", show_default=True)
@click.option("--preset", type=click.Choice(["good", "bad"]), default="good", show_default=True,
              help="good: production-like; bad: looks like a default install.")
@click.option("--engine", type=click.Choice(["redis", "valkey"]), default="redis", show_default=True)
@click.option("--tls/--no-tls", default=None, help="Default: TLS for redis, none for valkey (its wheel lacks TLS).")
@click.option("--profile", type=click.Path(path_type=Path), help="Profile TOML (default: the rollout's numbers).")
@format_option()
@click.option("--output", type=click.Path(path_type=Path), default=DEFAULT_REPORT, show_default=True,
              help="Where to write the signed report (DSSE envelope); its public key goes next to it.")
def demo(topology: str, preset: str, engine: str, tls: bool | None, profile: Path | None, output_format: str,
         output: Path) -> int:
    """Start a local sandbox, audit it, stop it; sign the report with a throwaway key, verify it, print it."""
    loaded_profile = load_profile(profile)  # validated before anything starts
    files.check_destination(output, "--output")
    spec = SandboxSpec(topology=topology, tls=(engine == "redis") if tls is None else tls,  # type: ignore[arg-type]
                       preset=preset, engine=engine)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory(prefix="redis-audit-demo-") as state:
        click.echo(f"Starting a {preset} {topology} sandbox ({engine}{', TLS' if spec.tls else ''})...", err=True)
        try:
            sandbox = Sandbox.up(spec, Path(state))
        except SandboxError as exc:
            raise UsageError(str(exc)) from None
        try:
            click.echo(f"Auditing {sandbox.info.target_url} as {sandbox.info.auditor_user or 'default'}...",
                       err=True)
            audit_profile = loaded_profile if profile else sandbox_profile(sandbox)
            report = run_audit(sandbox_target(sandbox, name=f"sandbox-{topology}-{preset}"),
                               AuditOptions(audit_profile))
        finally:
            sandbox.down()
            click.echo("Sandbox stopped.", err=True)
    verified, lines = sign_throwaway(report, output)  # the rendering comes from the verified envelope
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    click.echo(render(verified.report, output_format, color=color, signed=verified.context), nl=False)
    for line in lines:
        click.echo(line)
    return int(exit_code(report.verdict.decision))


def sandbox_profile(sandbox: Sandbox) -> Profile:
    """The default profile, told which user is the sandbox's rate limiter (so ACL-001/002 can judge it)."""
    app_user = sandbox.info.app_user
    if app_user is None:
        return default_profile()
    return profile_from_mapping({"application": {"user": app_user, "key_prefixes": list(SANDBOX_LIMITER_PREFIXES)}})
