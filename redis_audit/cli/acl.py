"""`redis-audit acl suggest`: the least-privilege ACL rule for the auditor user.

The rule is derived from what the registered checks need: each check names the facts it reads,
each collector the facts it provides and the commands it sends; the union of those commands
(for data nodes and for Sentinels, as this server version knows them) is the grant.
"""

from __future__ import annotations

from typing import Any

import click

from redis_audit.acl import Suggestion, suggest_rule
from redis_audit.cli.options import build_target, pop_target_options, target_options_except
from redis_audit.client import Timeouts, open_client
from redis_audit.collect import declared_collectors
from redis_audit.exitcodes import UsageError
from redis_audit.facts.parse import parse_info
from redis_audit.facts.versions import parse_version
from redis_audit.registry import all_checks, discover_packs
from redis_audit.secret import scrub
from redis_audit.target import Target


@click.group()
def acl() -> None:
    """ACL helpers."""


def _line(user: str, suggestion: Suggestion) -> str:
    return f"ACL SETUSER {user} reset on >CHANGE-ME {' '.join(suggestion.tokens)}"


# Every supported server (Redis and Valkey 6.0 and later) accepts this rule: without a TARGET or
# --server-version, the suggestion must never be one that ACL SETUSER refuses as a whole.
OLDEST_SUPPORTED = (6, 0)


@acl.command("suggest")
@click.argument("target", required=False)
@target_options_except("user", "deployment_name")  # --user names the auditor here
@click.option("--user", "acl_user", default="redis-audit", show_default=True, help="Name of the auditor user.")
@click.option("--server-version", help="Server major.minor, e.g. 6.2, 7.0. Default: read from TARGET, else 6.0 "
              "(a rule every supported server accepts).")
def suggest(target: str | None, acl_user: str, server_version: str | None, **kwargs: Any) -> None:
    """Print ACL SETUSER lines for a read-only auditor on data nodes and on Sentinels.

    With TARGET (redis://USER@HOST:PORT, the password from --password-env or --password-file) the server's own
    version decides which commands exist (ACL DRYRUN from 7.0, CLIENT SETINFO from 7.2); without it, the rule
    is the one every supported server accepts."""
    options = pop_target_options(kwargs)
    if server_version is not None:
        version, source = _parse_version(server_version), f"--server-version {server_version}"
    elif target is not None:
        version, source = _target_version(build_target(target, options)), f"read from {target.split('@')[-1]}"
    else:
        version = OLDEST_SUPPORTED
        source = "the oldest supported, so every server accepts it (pass TARGET to use its own version)"
    checks = all_checks(discover_packs())
    needs = {fact for check in checks for fact in check.meta.needs}
    collectors = declared_collectors()
    data = suggest_rule(needs, collectors, version)
    sentinel = suggest_rule(needs, collectors, version, sentinel=True)
    click.echo(f"# Derived from the facts {len(checks)} registered checks need ({len(needs)} facts).")
    click.echo(f"# For server version {version[0]}.{version[1]}: {source}.")
    if data.unprovided:
        click.echo(f"# Not from data nodes or Sentinels (control plane or run-wide facts, no ACL needed): "
                   f"{', '.join(data.unprovided)}")
    click.echo("# Data nodes (primaries and replicas):")
    click.echo(_line(acl_user, data))
    click.echo("# Sentinels:")
    click.echo(_line(acl_user, sentinel))


def _parse_version(text: str) -> tuple[int, int]:
    version = parse_version(text)
    if version is None:
        raise click.BadParameter("expected MAJOR.MINOR, e.g. 7.0", param_hint="--server-version")
    return version[0], version[1]


def _target_version(target: Target) -> tuple[int, int]:
    """The engine version of the target's first seed (Valkey's own version when it reports one)."""
    seed = target.seeds[0]
    credentials = target.sentinel_credentials if target.kind == "sentinel" else target.credentials
    client = open_client(seed, tls=target.tls, credentials=credentials, timeouts=Timeouts())
    try:
        server = parse_info(str(client.execute_command("INFO", "server"))).get("server", {})
    except Exception as exc:  # unreachable, refused: one line, exit 2
        raise UsageError(f"acl suggest: cannot read the version of {seed}: {scrub(exc)}; pass --server-version"
                         ) from None
    finally:
        client.close()
    version = parse_version(server.get("valkey_version") or server.get("redis_version"), strict=False)
    if version is None:
        raise UsageError(f"acl suggest: {seed} reports no version; pass --server-version")
    return version[0], version[1]
