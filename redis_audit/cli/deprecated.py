"""Old spellings of commands and options: they keep working, hidden from --help, with one line on stderr.

A script written against an earlier release does not break; its log says what to write instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import click

from redis_audit.exitcodes import UsageError

FC = TypeVar("FC", bound=Callable[..., Any])


def warn(old: str, new: str) -> None:
    """The one deprecation line: what was written, and what to write instead."""
    click.echo(f'redis-audit: warning: "{old}" is deprecated and will be removed; use "{new}"', err=True)


def old_option(old: str, new: str | Callable[[Any], str], **kwargs: Any) -> Callable[[FC], FC]:
    """The option under its old name, hidden from --help; its value reaches the command as `deprecated_NAME`
    (merge it with `either`), and giving it prints the deprecation line (`new` may depend on the value)."""

    def noted(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None and not ctx.resilient_parsing:
            warn(old, new if isinstance(new, str) else new(value))
        return value

    name = "deprecated_" + old.lstrip("-").replace("-", "_")
    return click.option(old, name, hidden=True, callback=noted, **kwargs)


def either(new_value: Any, old_value: Any, new: str, old: str) -> Any:
    """The value given under the new name or the old one; both at once is a usage error."""
    if new_value is not None and old_value is not None:
        raise both_given(new, old)
    return new_value if new_value is not None else old_value


def both_given(new: str, old: str) -> UsageError:
    return UsageError(f'give "{new}" only ("{old}" is its old spelling)')


class RenamedChoice(click.Choice):  # type: ignore[type-arg]
    """A choice whose old value names still work (hidden from --help), each with the deprecation line."""

    def __init__(self, choices: Sequence[str], renamed: Mapping[str, str], option: str) -> None:
        super().__init__(choices)
        self.renamed = dict(renamed)
        self.option = option

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value in self.renamed:
            if ctx is None or not ctx.resilient_parsing:
                warn(f"{self.option} {value}", f"{self.option} {self.renamed[value]}")
            value = self.renamed[value]
        return super().convert(value, param, ctx)
