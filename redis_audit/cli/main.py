"""Entry point: the `redis-audit` command group, and the one place errors become exit codes."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable

import click

from redis_audit import __version__, files
from redis_audit.exitcodes import AuditError, ExitCode
from redis_audit.secret import scrub


def _probe() -> click.Command:
    from redis_audit.cli import probe, probe_failover, probe_latency

    probe.probe.add_command(probe_latency.latency)
    probe.probe.add_command(probe_failover.failover)
    return probe.probe


def _command(module: str, name: str) -> Callable[[], click.Command]:
    def load() -> click.Command:
        command = getattr(importlib.import_module(f"redis_audit.cli.{module}"), name)
        assert isinstance(command, click.Command)
        return command

    return load


# Each command module is imported only when its command runs (or --help lists them all): a census
# or a probe does not pay for boto3, the sandbox and the signing code at start-up.
_LOADERS: dict[str, Callable[[], click.Command]] = {
    "run": _command("run", "run"),
    "demo": _command("demo", "demo"),
    "checks": _command("checks", "checks"),
    "profile": _command("profile", "profile"),
    "acl": _command("acl", "acl"),
    "sandbox": _command("sandbox", "sandbox"),
    "probe": _probe,
    "keys": _command("keys", "keys"),
    "census": _command("census", "census"),
    "verify": _command("verify", "verify"),
    "render": _command("verify", "render_command"),
    "diff": _command("diff", "diff"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *_LOADERS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _LOADERS:
            self.add_command(_LOADERS[cmd_name](), cmd_name)
        return self.commands.get(cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="redis-audit")
def cli() -> None:
    """Audit a Redis or Valkey deployment for production readiness."""


def _register_commands() -> None:
    """Load every command now (the group otherwise loads each on first use)."""
    for name in _LOADERS:
        cli.get_command(click.Context(cli), name)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every known error becomes a one-line message and an exit code."""
    files.reset()  # the inputs noted by an earlier in-process invocation are not this run's
    try:
        result = cli.main(args=argv, prog_name="redis-audit", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            click.echo("Interrupted.", err=True)
            return int(ExitCode.INTERRUPTED)
        click.echo("Aborted.", err=True)  # a confirmation answered no
        return int(ExitCode.USAGE)
    except click.ClickException as exc:
        exc.show()
        return int(ExitCode.USAGE)
    except AuditError as exc:
        click.echo(f"redis-audit: error: {_shown(exc)}", err=True)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:  # a bug: one scrubbed line, no traceback that could carry a secret
        if os.environ.get("REDIS_AUDIT_DEBUG"):
            raise
        click.echo(f"redis-audit: internal error: {type(exc).__name__}: {_shown(exc)} "
                   "(set REDIS_AUDIT_DEBUG=1 for a traceback)", err=True)
        return int(ExitCode.INCONCLUSIVE)
    if isinstance(result, int):
        return result
    return int(ExitCode.READY)


def _shown(exc: BaseException) -> str:
    """An error on one line: secrets scrubbed, control characters (from a server's reply) made visible."""
    from redis_audit.output.sanitize import visible

    return visible(scrub(exc))


if __name__ == "__main__":
    sys.exit(main())
