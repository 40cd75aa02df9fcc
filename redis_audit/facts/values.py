"""Reply values as text and integers: one decoding and one integer coercion for every reader."""

from __future__ import annotations

from typing import TypeVar, overload

D = TypeVar("D")


def as_text(value: object) -> str:
    """A reply value as text: bytes decoded as UTF-8 (an invalid byte becomes U+FFFD, never an
    exception), None as the empty string, anything else as str() gives it."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


@overload
def as_int(value: object, *, truncate: bool = False) -> int: ...


@overload
def as_int(value: object, default: D, *, truncate: bool = False) -> int | D: ...


def as_int(value: object, default: object = 0, *, truncate: bool = False) -> object:
    """A reply field or setting ('42', b'42', 42) as an int; `default` when it is missing or not a
    whole number. With `truncate`, a decimal ('1.5') gives its integer part."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if value is None:
        return default
    written = as_text(value)
    try:
        return int(written)
    except ValueError:
        pass
    if truncate:
        try:
            return int(float(written))
        except (ValueError, OverflowError):  # 'nan', 'inf'
            pass
    return default
