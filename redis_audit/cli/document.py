"""`--format` and `--output`, the same on every command that writes a document.

Without --output the document goes to stdout; with it, the file is written atomically through
redis_audit/files.py (checked before the command's work starts) and stdout gets one line saying what
was written where.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from redis_audit import files

FC = TypeVar("FC", bound=Callable[..., Any])


def format_option(choices: Sequence[str], default: str = "table", **kwargs: Any) -> Callable[[FC], FC]:
    return click.option("--format", "output_format", type=kwargs.pop("type", click.Choice(list(choices))),
                        default=default, show_default=True, **kwargs)


def output_option(what: str = "the document") -> Callable[[FC], FC]:
    return click.option("--output", type=click.Path(path_type=Path), metavar="FILE",
                        help=f"Write {what} to FILE (atomically) instead of stdout.")


def check_output(output: Path | None) -> None:
    """Before the work: a command that cannot write its document does not start."""
    if output is not None:
        files.check_destination(output, "--output")


def write_document(text: str, output: Path | None, summary: str) -> None:
    """The document to stdout, or to the file with `summary` (one line, naming the file) on stdout."""
    if output is None:
        click.echo(text, nl=False)
        return
    files.write_file(output, text, what="--output")
    click.echo(f"{summary}; written to {output}")
