"""Secrets that cannot leak by accident: redacted in repr/str, unpicklable, scrubbed from error text."""

from __future__ import annotations

import logging
import threading
from typing import NoReturn

REDACTED = "***"


class Secret:
    """A password or token. Use reveal() only at the point it goes on the wire."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        _KNOWN.add(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


class _KnownSecrets:
    """Every secret value seen in this process, so any text can be scrubbed before it is kept."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        if len(value) >= 4:  # shorter values would redact ordinary words
            with self._lock:
                self._values.add(value)

    def scrub(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            text = text.replace(value, REDACTED)
        return text


_KNOWN = _KnownSecrets()


def scrub(text: object) -> str:
    """The text with every known secret value replaced by ***."""
    return _KNOWN.scrub(str(text))


class ScrubbingFilter(logging.Filter):
    """A logging filter that removes known secrets from every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        return True
