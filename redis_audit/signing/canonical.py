"""Canonical JSON bytes (RFC 8785 JCS for the report's no-float subset) and strict parsing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from redis_audit.jsonvalue import JsonValue, NotCanonical, ensure_canonical


def canonical_bytes(value: object) -> bytes:
    """The one serialisation of `value`: sorted keys, no whitespace, UTF-8.

    For the subset `ensure_canonical` admits (no floats, |int| <= 2^53, string keys) this is
    RFC 8785: Python's string escaping matches ECMAScript's, and keys are ordered by UTF-16 code
    units as JCS requires (Python's own order is by code point, which differs above the BMP).
    """
    ensure_canonical(value)
    try:
        text = json.dumps(_jcs_ordered(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NotCanonical(f"string with a lone surrogate at offset {exc.start}") from None


def sha256_hex(value: object) -> str:
    """Lowercase hex sha256 of the canonical bytes of `value`."""
    return hashlib.sha256(canonical_bytes(value)).hexdigest()


def _utf16_order(key: str) -> bytes:
    # Big-endian UTF-16 bytes compare like UTF-16 code units.
    return key.encode("utf-16-be", errors="surrogatepass")


def _jcs_ordered(value: object) -> object:
    if isinstance(value, Mapping):
        return {key: _jcs_ordered(value[key]) for key in sorted(value, key=_utf16_order)}
    if isinstance(value, list | tuple):
        return [_jcs_ordered(item) for item in value]
    return value


class StrictJsonError(ValueError):
    """JSON that the report format never produces: duplicate keys, floats, NaN, bad UTF-8, deep nesting."""


# Reports nest about ten levels deep; far deeper is a document built to exhaust a parser's recursion.
MAX_DEPTH = 64


def loads_strict(data: bytes) -> JsonValue:
    """Parse JSON bytes, refusing duplicate keys, floats and non-finite numbers.

    Duplicate keys matter: two parsers that pick different duplicates see different reports.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise StrictJsonError("not UTF-8") from None
    try:
        value: JsonValue = json.loads(
            text,
            object_pairs_hook=_reject_duplicate_keys,
            parse_float=_reject_number,
            parse_constant=_reject_number,
        )
    except json.JSONDecodeError as exc:
        raise StrictJsonError(f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise StrictJsonError(f"nested deeper than {MAX_DEPTH} levels") from None
    _check_depth(value)  # before anything walks it recursively
    try:
        ensure_canonical(value)
    except NotCanonical as exc:
        raise StrictJsonError(str(exc)) from None
    return value


def loads_strict_object(data: bytes) -> dict[str, JsonValue]:
    """`loads_strict` for documents that must be a JSON object (envelopes, statements)."""
    value = loads_strict(data)
    if not isinstance(value, dict):
        raise StrictJsonError("not a JSON object")
    return value


def _check_depth(value: JsonValue) -> None:
    stack: list[tuple[JsonValue, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        if children and depth > MAX_DEPTH:
            raise StrictJsonError(f"nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in pairs:
        if key in result:
            raise StrictJsonError(f"duplicate key {key!r}")
        result[key] = item
    return result


def _reject_number(token: str) -> object:
    raise StrictJsonError(f"non-integer number {token[:20]}")
