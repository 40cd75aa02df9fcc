"""The published JSON Schemas (package data), and validation against them with one-line errors."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

# Deeper than any document redis-audit writes, far below where Python's parsers recurse into a crash.
MAX_JSON_DEPTH = 64
# A whole string literal (brackets inside it do not nest), or one bracket.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class SchemaViolation(ValueError):
    """A document that does not match its schema; the message is one line: where, and what is wrong."""


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema by name ('snapshot' -> snapshot.schema.json)."""
    text = resources.files("redis_audit.schemas").joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def schema_names() -> list[str]:
    """Every published schema, by name."""
    return sorted(f.name.removesuffix(".schema.json") for f in resources.files("redis_audit.schemas").iterdir()
                  if f.name.endswith(".schema.json"))


@cache
def _registry() -> Any:
    """The schemas by $id, so that one can $ref another (the report's topology is the snapshot's)."""
    from referencing import Registry, Resource

    return Registry().with_resources((load_schema(n)["$id"], Resource.from_contents(load_schema(n)))
                                     for n in schema_names())


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays/objects nest deeper than `limit`: checked on the text, before a parser recurses."""
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return True
        elif token in "]}":
            depth -= 1
    return False


def parse_json(text: str, limit: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON text that came from outside: depth-capped, and NaN/Infinity refused."""
    if json_depth_exceeds(text, limit):
        raise SchemaViolation(f"JSON nested deeper than {limit} levels")

    def no_constant(name: str) -> Any:
        raise SchemaViolation(f"{name} is not JSON")

    try:
        return json.loads(text, parse_constant=no_constant)
    except json.JSONDecodeError as exc:
        raise SchemaViolation(f"not JSON: {exc}") from None


def validate(name: str, document: Any) -> None:
    """Raise SchemaViolation (one line) unless the document matches the named schema."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    validator = Draft202012Validator(load_schema(name), registry=_registry())
    error = best_match(validator.iter_errors(document))
    if error is None:
        return
    where = "/".join(str(p) for p in error.absolute_path) or "top level"
    message = " ".join(error.message.split())
    if len(message) > 160:
        message = message[:157] + "..."
    raise SchemaViolation(f"{where}: {message}")
