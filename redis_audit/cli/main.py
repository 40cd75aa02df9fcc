"""Entry point: the `redis-audit` command group, and the one place errors become exit codes."""

from __future__ import annotations

import os
import sys

import click

from redis_audit import __version__
from redis_audit.exitcodes import AuditError, ExitCode
from redis_audit.secret import scrub


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="redis-audit")
def cli() -> None:
    """Audit a Redis or Valkey deployment for production readiness."""


def _register_commands() -> None:
    # Imported here so that each command module stays independent of the others.
    from redis_audit.cli import (
        acl,
        checks,
        demo,
        diff,
        keys,
        keys_census,
        probe,
        probe_failover,
        probe_latency,
        run,
        sandbox,
        verify,
    )

    cli.add_command(run.run)
    cli.add_command(demo.demo)
    cli.add_command(checks.checks)
    cli.add_command(acl.acl)
    cli.add_command(sandbox.sandbox)
    cli.add_command(probe.probe)
    cli.add_command(keys.keys)
    probe.probe.add_command(probe_latency.latency)
    probe.probe.add_command(probe_failover.failover)
    cli.add_command(keys_census.census)
    keys.keys.add_command(keys_census.census)
    cli.add_command(verify.verify)
    cli.add_command(verify.render_command)
    cli.add_command(diff.diff)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every known error becomes a one-line message and an exit code."""
    _register_commands()
    try:
        result = cli.main(args=argv, prog_name="redis-audit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return int(ExitCode.USAGE)
    except click.ClickException as exc:
        exc.show()
        return int(ExitCode.USAGE)
    except AuditError as exc:
        click.echo(f"redis-audit: error: {scrub(exc)}", err=True)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except Exception as exc:  # a bug: one scrubbed line, no traceback that could carry a secret
        if os.environ.get("REDIS_AUDIT_DEBUG"):
            raise
        click.echo(f"redis-audit: internal error: {type(exc).__name__}: {scrub(exc)} "
                   "(set REDIS_AUDIT_DEBUG=1 for a traceback)", err=True)
        return int(ExitCode.INCONCLUSIVE)
    if isinstance(result, int):
        return result
    return int(ExitCode.READY)


if __name__ == "__main__":
    sys.exit(main())
