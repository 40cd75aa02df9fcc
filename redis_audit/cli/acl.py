"""`redis-audit acl suggest`: the least-privilege ACL rule for the auditor user."""

from __future__ import annotations

import click

from redis_audit.acl import auditor_acl_line


@click.group()
def acl() -> None:
    """ACL helpers."""


@acl.command("suggest")
@click.option("--user", default="redis-audit", show_default=True, help="Name of the auditor user.")
@click.option("--server-version", default="7.2", show_default=True, help="Server major.minor, e.g. 6.2, 7.0.")
def suggest(user: str, server_version: str) -> None:
    """Print ACL SETUSER lines for a read-only auditor on data nodes and on Sentinels."""
    major, _, minor = server_version.partition(".")
    if not major.isdigit() or not (minor or "0").isdigit():
        raise click.BadParameter("expected MAJOR.MINOR, e.g. 7.0", param_hint="--server-version")
    version = (int(major), int(minor or 0))
    click.echo("# Data nodes (primaries and replicas):")
    click.echo(auditor_acl_line(user, version))
    click.echo("# Sentinels:")
    click.echo(auditor_acl_line(user, version, sentinel=True))
