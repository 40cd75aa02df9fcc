"""`redis-audit checks list`: every registered check with its metadata and source."""

from __future__ import annotations

import json

import click
from tabulate import tabulate

from redis_audit.registry import all_checks, discover_packs

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
