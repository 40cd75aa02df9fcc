from __future__ import annotations

import pytest

from redis_audit.jsonvalue import NotCanonical
from redis_audit.signing.canonical import StrictJsonError, canonical_bytes, loads_strict, sha256_hex


def test_insertion_order_does_not_change_the_bytes() -> None:
    one = {"b": 1, "a": {"y": [1, 2], "x": None}, "c": True}
    two = {"c": True, "a": {"x": None, "y": [1, 2]}, "b": 1}
    assert canonical_bytes(one) == canonical_bytes(two)
    assert sha256_hex(one) == sha256_hex(two)


def test_known_jcs_output_computed_by_hand() -> None:
    # Keys sorted by UTF-16 code unit ("A" < "a" < "é" < "😀" < U+FB01), no whitespace, control
    # characters as lowercase \u escapes, the short escapes for \n and \t, other characters raw UTF-8.
    value = {
        "é": "ü",
        "a": [1, -2, True, None],
        "A": 'line\nbreak\ttab\x01"\\',
        "😀": 0,
        "ﬁ": 9007199254740992,
    }
    expected = '{"A":"line\\nbreak\\ttab\\u0001\\"\\\\","a":[1,-2,true,null],"é":"ü","😀":0,"ﬁ":9007199254740992}'
    assert canonical_bytes(value) == expected.encode("utf-8")


def test_utf16_order_differs_from_code_point_order_above_the_bmp() -> None:
    # U+1F600 is D83D DE00 in UTF-16, so it sorts before U+FB01 under JCS but after it by code point.
    assert canonical_bytes({"ﬁ": 1, "😀": 2}) == '{"😀":2,"ﬁ":1}'.encode()


def test_sha256_hex_is_of_the_canonical_bytes() -> None:
    # sha256(b'{"a":1}')
    assert sha256_hex({"a": 1}) == "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"


@pytest.mark.parametrize(
    "value",
    [{"ratio": 0.5}, [1.0], {"big": 2**53 + 1}, {"neg": -(2**53) - 1}, {1: "int key"}, {"s": "\ud800"}],
)
def test_values_outside_the_subset_are_rejected(value: object) -> None:
    with pytest.raises(NotCanonical):
        canonical_bytes(value)


@pytest.mark.parametrize("text", [b'{"a":1,"a":2}', b'{"a":1.5}', b'{"a":NaN}', b'{"a":1e3}', b"\xff", b"{"])
def test_strict_parsing_refuses_what_we_never_produce(text: bytes) -> None:
    with pytest.raises(StrictJsonError):
        loads_strict(text)


def test_strict_parsing_round_trips_canonical_bytes() -> None:
    value = {"z": [1, "two", None, False], "a": {"nested": {"k": -3}}}
    assert loads_strict(canonical_bytes(value)) == value
