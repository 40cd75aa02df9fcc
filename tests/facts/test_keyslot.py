"""The cluster key slot: one implementation, for the latency probe's key and the failover canary's."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from redis.crc import key_slot as redis_py_key_slot

from redis_audit.facts.keyslot import key_slot


def test_the_specification_examples() -> None:
    assert key_slot("foo") == 12182 and key_slot("123456789") == 0x31C3 % 16384  # CRC16-XMODEM check value
    assert key_slot("{user1000}.following") == key_slot("{user1000}.followers") == key_slot("user1000")
    assert key_slot("foo{}{bar}") == key_slot(b"foo{}{bar}")  # empty tag: the whole key is hashed
    assert key_slot("foo{{bar}}zap") == key_slot("{bar")
    assert key_slot("foo{bar}{zap}") == key_slot("bar")


@given(st.binary(max_size=40) | st.text(alphabet="{}ab", max_size=12).map(str.encode))
def test_agrees_with_redis_py(key: bytes) -> None:
    assert key_slot(key) == redis_py_key_slot(key)
