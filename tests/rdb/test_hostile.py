"""Bad input: one typed error naming what and where, never a hang, never unbounded memory, never a wrong
"complete"; fuzzed with truncated and bit-flipped copies of real files."""

from __future__ import annotations

import io
import signal
import struct
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redis_audit.rdb import (
    ChecksumMismatch,
    CorruptRdb,
    NotAnRdb,
    RdbError,
    RdbReader,
    TruncatedRdb,
    UnsupportedRdb,
)
from redis_audit.rdb.crc64 import crc64, crc64_reference
from tests.rdb import rdbfile as f
from tests.rdb.conftest import SavedFile

GUARD_S = 10  # a parse of a few hundred KB takes milliseconds: this only catches a hang


class Hang(Exception):
    pass


@contextmanager
def wall_clock(seconds: int) -> Iterator[None]:
    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"parse still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def parse_all(data: bytes) -> int:
    with wall_clock(GUARD_S):
        reader = RdbReader(io.BytesIO(data), chunk=4096)
        keys = sum(len(b) for b in reader)
        assert reader.summary.complete
        return keys


def test_crc64_is_redis_crc64() -> None:
    assert crc64(b"123456789") == crc64_reference(b"123456789") == 0xE9C6D914C4B8D9CA
    data = bytes(range(256)) * 1000
    assert crc64(data[5000:], crc64(data[:5000])) == crc64_reference(data)


@pytest.mark.parametrize("data", [b"", b"hello world, not an rdb", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, b"REDIS"])
def test_not_an_rdb(data: bytes) -> None:
    with pytest.raises((NotAnRdb, TruncatedRdb)) as caught:
        parse_all(data)
    assert caught.value.offset <= len(data) and "\n" not in str(caught.value)


@pytest.mark.parametrize("magic", [b"REDIS0013", b"REDIS0004", b"VALKEY081", b"VALKEY011"])
def test_versions_it_does_not_know_are_refused(magic: bytes) -> None:
    with pytest.raises(UnsupportedRdb, match="version"):
        parse_all(f.rdb(b"", magic=magic))


@pytest.mark.parametrize(("body", "error", "offset_of"), [
    (f.key(8, b"k", f.string(b"v")), UnsupportedRdb, b"\x08"),  # type 8 does not exist
    (b"\xc8", UnsupportedRdb, b"\xc8"),  # opcode 200
    (b"\xf6" + f.string(b"code"), UnsupportedRdb, b"\xf6"),  # 7.0 release-candidate functions
    (f.key(6, b"k", f.length(1)), UnsupportedRdb, None),  # pre-GA module value: cannot be skipped
    (f.key(0, b"k", b"\x82"), CorruptRdb, b"\x82"),  # no such length encoding
    (f.key(0, b"k", b"\xc4"), CorruptRdb, b"\xc4"),  # no such string encoding
    (f.key(0, b"k", f.length(1 << 40)), TruncatedRdb, None),  # longer than the file
    (f.key(2, b"k", f.length(1 << 60)), RdbError, None),  # more elements than the file holds
    (f.key(17, b"k", f.string(b"\x01\x02")), CorruptRdb, None),  # a listpack shorter than its header
    (f.key(0, b"k", b"\xc3" + f.length(5) + f.length(50) + b"\xff\xff\xff\xff\xff"), None, None),  # bad LZF value
])
def test_bad_structures_are_one_line_errors_at_their_offset(body: bytes, error: type[RdbError] | None,
                                                            offset_of: bytes | None) -> None:
    data = f.rdb(body)
    if error is None:  # an LZF value is skipped, not decompressed: only the checksum could tell
        assert parse_all(data) == 1
        return
    with pytest.raises(error) as caught:
        parse_all(data)
    message = str(caught.value)
    assert "\n" not in message and f"byte offset {caught.value.offset}" in message
    if offset_of is not None:
        assert caught.value.offset == data.rindex(offset_of, 0, len(data) - 9)


def test_a_bad_lzf_key_name_is_corrupt() -> None:
    name = b"\xc3" + f.length(3) + f.length(40) + b"\x1f\x00\x00"
    with pytest.raises(CorruptRdb, match="LZF"):
        parse_all(f.rdb(bytes([0]) + name + f.string(b"v")))


def test_a_bad_checksum_is_reported_at_the_checksum() -> None:
    data = bytearray(f.rdb(f.key(0, b"k", f.string(b"value"))))
    data[-1] ^= 0x01
    with pytest.raises(ChecksumMismatch) as caught:
        parse_all(bytes(data))
    assert caught.value.offset == len(data) - 8 and caught.value.keys_read == 1


def test_a_partial_read_is_never_complete(redis_lfu: SavedFile) -> None:
    data = redis_lfu.path.read_bytes()
    reader = RdbReader(io.BytesIO(data[: len(data) // 2]))
    seen = 0
    with pytest.raises(TruncatedRdb) as caught:
        for batch in reader:
            seen += len(batch)
    assert not reader.summary.complete
    assert caught.value.keys_read == reader.summary.keys == seen
    assert caught.value.offset == len(data) // 2


def test_claims_of_huge_sizes_do_not_allocate_them() -> None:
    """A container claiming gigabytes, a compressed key claiming a terabyte: bounded memory, typed errors."""
    hostile = [
        f.key(17, b"k", b"\xc3" + f.length(1 << 30) + f.length(1 << 31) + b"\x00" * 100),
        bytes([0]) + b"\xc3" + f.length(1 << 40) + f.length(1 << 41) + b"\x00" * 100,
        f.key(18, b"k", f.length(1 << 62) + f.length(2) + f.length(1 << 50)),
    ]
    tracemalloc.start()
    try:
        for body in hostile:
            with pytest.raises(RdbError):
                parse_all(f.rdb(body))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20


@pytest.fixture(params=["redis_lfu", "valkey_lfu"])
def small_file(request: pytest.FixtureRequest) -> bytes:
    saved: SavedFile = request.getfixturevalue(request.param)
    return saved.path.read_bytes()


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
                derandomize=True)


@FUZZ
@given(cut=st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_fuzz_truncated_copies_of_real_files(small_file: bytes, cut: float) -> None:
    """Cut anywhere: always TruncatedRdb (or NotAnRdb inside the signature), at the cut."""
    data = small_file[: int(len(small_file) * cut)]
    with pytest.raises((TruncatedRdb, NotAnRdb)) as caught:
        parse_all(data)
    if isinstance(caught.value, TruncatedRdb):
        assert caught.value.offset == len(data)


@FUZZ
@given(flips=st.lists(st.tuples(st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
                                st.integers(min_value=0, max_value=7)), min_size=1, max_size=3))
def test_fuzz_bit_flipped_copies_of_real_files(small_file: bytes, flips: list[tuple[float, int]]) -> None:
    """Flip bits anywhere: an RdbError every time (the CRC-64 catches what the structure does not)."""
    data = bytearray(small_file)
    for where, bit in flips:
        data[int(len(data) * where)] ^= 1 << bit
    if bytes(data) == small_file:
        return
    with pytest.raises(RdbError):
        parse_all(bytes(data))


def test_the_fuzzed_files_are_real_and_whole(small_file: bytes) -> None:
    assert parse_all(small_file) > 30
    assert struct.unpack("<Q", small_file[-8:])[0] == crc64_reference(small_file[:-8])
