"""The JSON subset every snapshot and report uses: no floats, so canonical bytes are stable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

JsonValue: TypeAlias = "bool | int | str | Sequence[JsonValue] | Mapping[str, JsonValue] | None"
JsonObject: TypeAlias = "dict[str, JsonValue]"

MAX_SAFE_INT = 2**53


class NotCanonical(ValueError):
    """A value outside the report's JSON subset (a float, a huge int, a non-string key)."""


def ensure_canonical(value: object, path: str = "$") -> None:
    """Raise NotCanonical unless the value is in the subset (ints within ±2^53, str keys, no floats)."""
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise NotCanonical(f"{path}: integer {value} is outside ±2^53")
        return
    if isinstance(value, float):
        raise NotCanonical(f"{path}: float {value!r}; use integers (ms, µs, basis points)")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonical(f"{path}: key {key!r} is not a string")
            ensure_canonical(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            ensure_canonical(item, f"{path}[{index}]")
        return
    raise NotCanonical(f"{path}: {type(value).__name__} is not JSON")


def basis_points(numerator: float, denominator: float) -> int:
    """A ratio as an integer number of basis points (1 bp = 0.01%)."""
    if denominator == 0:
        return 0
    return round(10_000 * numerator / denominator)


def as_object(value: object) -> dict[str, Any]:
    """A value that should be a JSON object (a fact, a report field, an API reply), or {} when it is not: the
    one reader for "that object, or nothing", so a malformed part reads as empty instead of raising."""
    return value if isinstance(value, dict) else {}


def as_objects(value: object) -> list[dict[str, Any]]:
    """The objects in a value that should be a list of them; other entries, or a value that is no list, give none."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
