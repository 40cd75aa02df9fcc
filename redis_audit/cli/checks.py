"""`redis-audit checks list`: every registered check with its metadata and source; `checks packs`: the packs."""

from __future__ import annotations

import json

import click
from tabulate import tabulate

from redis_audit.registry import all_checks, discover_packs, installed_packs

CHECKS_SCHEMA = "redis-audit/checks/v1"  # schemas/checks.schema.json


@click.group()
def checks() -> None:
    """Inspect the registered checks."""


@checks.command("list")
@click.option("--format", "output_format", type=click.Choice(["table", "json", "markdown"]), default="table",
              show_default=True)
def list_checks(output_format: str) -> None:
    """List every check: id, title, severity, category and the pack that provides it."""
    registered = all_checks(discover_packs())
    if output_format == "json":
        checks_json = [{**c.meta.to_json(), "source": c.source} for c in registered]
        click.echo(json.dumps({"schema": CHECKS_SCHEMA, "checks": checks_json}, indent=2))
        return
    rows = [[c.id, c.meta.severity, c.meta.category, c.meta.title, c.source] for c in registered]
    headers = ["ID", "Severity", "Category", "Title", "Source"]
    click.echo(tabulate(rows, headers=headers, tablefmt="github" if output_format == "markdown" else "simple"))


@checks.command("packs")
def list_packs() -> None:
    """Every installed check pack with its digest, without importing any: one `sha256:HEX  NAME  DIST VERSION`
    line each, the format of `run --packs FILE` and `verify --trusted-packs FILE`. Vet a pack's code before
    trusting its digest: it runs inside the audit, with its credentials."""
    for pack in installed_packs():
        note = "  (built-in)" if pack.builtin else ""
        click.echo(f"{pack.digest}  {pack.name}  {pack.distribution} {pack.version}{note}")
