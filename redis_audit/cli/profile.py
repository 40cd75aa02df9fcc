"""`redis-audit profile digest PROFILE`: the digest and origin a report will name a profile by."""

from __future__ import annotations

import click

from redis_audit.profile import resolve_profile


@click.group()
def profile() -> None:
    """Inspect profiles."""


@profile.command("digest")
@click.argument("spec", metavar="builtin:NAME|FILE")
def digest(spec: str) -> None:
    """Print `sha256:HEX  ORIGIN`: the line for `verify --trusted-profiles FILE` (or the value of
    --require-profile-digest). The digest is of the profile's values, whatever the file calls itself."""
    loaded = resolve_profile(spec)
    click.echo(f"{loaded.profile.digest()}  {loaded.origin.label}")
