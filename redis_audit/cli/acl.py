"""`redis-audit acl suggest`: the least-privilege ACL rule for the auditor user.

The rule is derived from what the registered checks need: each check names the facts it reads,
each collector the facts it provides and the commands it sends; the union of those commands
(for data nodes and for Sentinels, as this server version knows them) is the grant.
"""

from __future__ import annotations

import click

from redis_audit.acl import Suggestion, suggest_rule
from redis_audit.collect import declared_collectors
from redis_audit.registry import all_checks, discover_packs


@click.group()
def acl() -> None:
    """ACL helpers."""


def _line(user: str, suggestion: Suggestion) -> str:
    return f"ACL SETUSER {user} reset on >CHANGE-ME {' '.join(suggestion.tokens)}"


@acl.command("suggest")
@click.option("--user", default="redis-audit", show_default=True, help="Name of the auditor user.")
@click.option("--server-version", default="7.2", show_default=True, help="Server major.minor, e.g. 6.2, 7.0.")
def suggest(user: str, server_version: str) -> None:
    """Print ACL SETUSER lines for a read-only auditor on data nodes and on Sentinels."""
    major, _, minor = server_version.partition(".")
    if not major.isdigit() or not (minor or "0").isdigit():
        raise click.BadParameter("expected MAJOR.MINOR, e.g. 7.0", param_hint="--server-version")
    version = (int(major), int(minor or 0))
    checks = all_checks(discover_packs())
    needs = {fact for check in checks for fact in check.meta.needs}
    collectors = declared_collectors()
    data = suggest_rule(needs, collectors, version)
    sentinel = suggest_rule(needs, collectors, version, sentinel=True)
    click.echo(f"# Derived from the facts {len(checks)} registered checks need ({len(needs)} facts).")
    if data.unprovided:
        click.echo(f"# Not from data nodes or Sentinels (control plane or run-wide facts, no ACL needed): "
                   f"{', '.join(data.unprovided)}")
    click.echo("# Data nodes (primaries and replicas):")
    click.echo(_line(user, data))
    click.echo("# Sentinels:")
    click.echo(_line(user, sentinel))
