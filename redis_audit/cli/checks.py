"""`redis-audit checks list`: every registered check with its metadata and source; `checks packs`: the packs."""

from __future__ import annotations

import json
from pathlib import Path

import click
from tabulate import tabulate

from redis_audit.check import Check
from redis_audit.cli.document import check_output, format_option, output_option, write_document
from redis_audit.registry import all_checks, discover_packs, installed_packs

CHECKS_SCHEMA = "redis-audit/checks/v1"  # schemas/checks.schema.json


@click.group()
def checks() -> None:
    """Inspect the registered checks."""


@checks.command("list")
@format_option(["table", "json", "markdown"])
@output_option("the list")
def list_checks(output_format: str, output: Path | None) -> None:
    """List every check: id, title, severity, category and the pack that provides it."""
    check_output(output)
    registered = all_checks(discover_packs())
    sources = sorted({c.source for c in registered})
    summary = f"{len(registered)} checks from {len(sources)} pack{'s' if len(sources) != 1 else ''}"
    write_document(render_checks(registered, output_format), output, summary)


def render_checks(registered: list[Check], output_format: str) -> str:
    if output_format == "json":
        checks_json = [{**c.meta.to_json(), "source": c.source} for c in registered]
        return json.dumps({"schema": CHECKS_SCHEMA, "checks": checks_json}, indent=2) + "\n"
    rows = [[c.id, c.meta.severity, c.meta.category, c.meta.title, c.source] for c in registered]
    headers = ["ID", "Severity", "Category", "Title", "Source"]
    return tabulate(rows, headers=headers, tablefmt="github" if output_format == "markdown" else "simple") + "\n"


@checks.command("packs")
def list_packs() -> None:
    """Every installed check pack with its digest, without importing any: one `sha256:HEX  NAME  DIST VERSION`
    line each, the format of `run --packs FILE` and `verify --trusted-packs FILE`. Vet a pack's code before
    trusting its digest: it runs inside the audit, with its credentials."""
    for pack in installed_packs():
        note = "  (built-in)" if pack.builtin else ""
        click.echo(f"{pack.digest}  {pack.name}  {pack.distribution} {pack.version}{note}")
