"""Reply values: one decoding and one integer reading for collectors, probes, failover and checks."""

from __future__ import annotations

import pytest

from redis_audit.facts.values import as_int, as_text


@pytest.mark.parametrize(("value", "expected"), [
    (b"OK", "OK"), (bytearray(b"slave"), "slave"), (memoryview(b"master"), "master"),
    (b"caf\xc3\xa9", "café"), (b"\xff\xfe", "\ufffd\ufffd"),  # invalid UTF-8 never raises
    (None, ""), (6379, "6379"), ("text", "text"),
])
def test_as_text(value: object, expected: str) -> None:
    assert as_text(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("42", 42), ("-7", -7), (b"42", 42), (42, 42), (" 5", 5),
    ("", 0), (None, 0), ("1.5", 0), ("abc", 0), (True, 0), ("--5", 0), ("10%", 0),
])
def test_as_int_reads_whole_numbers_only(value: object, expected: int) -> None:
    assert as_int(value) == expected


def test_as_int_default_says_unknown() -> None:
    assert as_int("x", None) is None and as_int(None, -1) == -1 and as_int("0", None) == 0


@pytest.mark.parametrize(("value", "expected"), [("1.9", 1), ("-2.5", -2), ("7", 7), ("nan", 3), ("inf", 3),
                                                 ("x", 3)])
def test_as_int_truncates_decimals_when_asked(value: str, expected: int) -> None:
    assert as_int(value, 3, truncate=True) == expected
