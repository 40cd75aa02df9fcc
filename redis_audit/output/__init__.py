"""Renderings of a report. Each format is one small module with a `render(report, options)` function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from redis_audit.jsonvalue import JsonObject


@dataclass(frozen=True)
class RenderOptions:
    only_attention: bool = False  # hide PASS rows
    color: bool = False


Renderer = Callable[[JsonObject, RenderOptions], str]


def renderers() -> dict[str, Renderer]:
    """Every output format by name. Renderers take the report's JSON, so they work on verified reports too."""
    from redis_audit.output import json_format, table

    return {"table": table.render, "json": json_format.render}
