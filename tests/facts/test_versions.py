"""Versions: strict for what a user writes, lenient for what a server or control plane reports."""

from __future__ import annotations

import pytest

from redis_audit.facts.versions import parse_version


@pytest.mark.parametrize(("text", "expected"), [
    ("7", (7, 0, 0)), ("7.2", (7, 2, 0)), ("7.2.4", (7, 2, 4)), (" 8.0 ", (8, 0, 0)),
    ("7.2.4.1", None), ("6.x", None), ("7.0-rc1", None), ("", None), (None, None), ("v7", None), ("7..1", None),
])
def test_strict(text: str | None, expected: tuple[int, int, int] | None) -> None:
    assert parse_version(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("7.2.4", (7, 2, 4)), ("255.255.255", (255, 255, 255)), ("6.x", (6, 0, 0)), ("7.1", (7, 1, 0)),
    ("7.0.7-rc1", (7, 0, 7)), ("7.2.4.9", (7, 2, 4)), ("7.x.4", (7, 0, 0)),
    ("", None), (None, None), ("valkey", None), ("x.7", None),
])
def test_lenient(text: str | None, expected: tuple[int, int, int] | None) -> None:
    assert parse_version(text, strict=False) == expected
