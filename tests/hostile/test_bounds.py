"""The two bounds under every connection: the Deadline (a wall) and the reply meter (a size limit).

Real sockets (socketpair, loopback), no mocks: what is asserted is what a blocked reader sees.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from redis_audit.deadline import BudgetExceeded, Deadline, DeadlineExceeded
from redis_audit.probes.resp import PROBE_LIMIT, parse
from redis_audit.replies import BoundedSocket, ReplyLimit, ReplyMeter, ReplyRefused

INFO_TEXT = b"# Server\r\nredis_version:7.0.15\r\n"
INFO_REPLY = b"$%d\r\n%s\r\n" % (len(INFO_TEXT), INFO_TEXT)
SCAN_REPLY = b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\na\r\n$2\r\nbb\r\n$-1\r\n"
PIPELINE = b"+OK\r\n" + INFO_REPLY + b":42\r\n" + SCAN_REPLY + b"-ERR no\r\n*0\r\n*-1\r\n"


def feed_in_pieces(meter: ReplyMeter, data: bytes, size: int) -> None:
    for start in range(0, len(data), size):
        meter.feed(data[start:start + size])


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 64, 10_000])
def test_the_meter_follows_pipelined_replies_split_anywhere(piece: int) -> None:
    meter = ReplyMeter()
    for command in ("client|setname", "info", "dbsize", "scan", "get", "slowlog|get", "acl|log"):
        meter.expect(command)
    feed_in_pieces(meter, PIPELINE, piece)
    assert not meter.expected and meter.next_command() == ""  # every reply matched, none half-read


@pytest.mark.parametrize(("data", "command", "message"), [
    (b"$536870912\r\n", "info", "reply to INFO announced a 512 MiB bulk string (limit 4 MiB): refused"),
    (b"$1073741824\r\nxx", "client|setname", "reply to CLIENT SETNAME announced a 1 GiB bulk string"),
    (b"*2147483647\r\n+ab\r\n", "slowlog|get", "reply to SLOWLOG GET announced 2,147,483,647 elements"),
    (b"*1\r\n" * 40 + b":1\r\n", "slowlog|get", "reply to SLOWLOG GET nests arrays deeper than 32 levels"),
    (b"HTTP/1.1 400 Bad Request\r\n", "ping", "reply to PING is not RESP2 (it starts with b'H')"),
    (b"$abc\r\n", "info", "reply to INFO is not RESP (bad number b'abc')"),
    (b"+" + b"a" * 70_000, "client|setname", "reply to CLIENT SETNAME exceeded 64 KiB: refused"),
])
def test_the_meter_refuses_before_reading_what_it_announces(data: bytes, command: str, message: str) -> None:
    meter = ReplyMeter()
    meter.expect(command)
    with pytest.raises(ReplyRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        feed_in_pieces(meter, data, 4096)


def test_an_endless_array_is_refused_at_its_limit_not_at_the_end_of_memory() -> None:
    meter = ReplyMeter()
    meter.expect("client|list")  # a bulk string: one element, 16 MiB
    with pytest.raises(ReplyRefused, match="announced 1,000 elements"):
        meter.feed(b"*1000\r\n")
    small = ReplyMeter()
    with pytest.raises(ReplyRefused, match="exceeded 4 MiB"):  # unannounced: the bytes count
        small.feed(b"*100000\r\n")
        for _ in range(1100):
            small.feed(b"$4096\r\n" + b"x" * 4096 + b"\r\n")


def test_the_probe_parser_has_the_same_bounds_and_no_recursion_error() -> None:
    assert parse(b"*2\r\n+a\r\n:1\r\n") == ([b"a", 1], 12)
    assert parse(b"$5\r\nab") is None  # incomplete: read more
    for hostile, message in ((b"*1\r\n" * 100_000, "deeper than 16 levels"),
                             (b"$1073741824\r\n", "announced a 1 GiB bulk string"),
                             (b"*2147483647\r\n", "more than 50,000 elements"),
                             (b"<html>\r\n", "not RESP2")):
        with pytest.raises(ReplyRefused, match=message):
            parse(hostile, limit=PROBE_LIMIT)
    assert ReplyLimit(1 << 20, 50_000, 16) == PROBE_LIMIT


def test_the_deadline_ends_a_blocked_read_in_another_thread() -> None:
    deadline = Deadline.after(0.5, "test")
    ours, theirs = socket.socketpair()
    outcome: list[BaseException | bytes] = []

    def read() -> None:
        sock = BoundedSocket(ours, deadline, "peer")
        sock.settimeout(30)  # a per-recv timeout far away: only the wall can end this read
        try:
            outcome.append(sock.recv(10))
        except BaseException as exc:
            outcome.append(exc)

    started = time.monotonic()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    assert not reader.is_alive() and time.monotonic() - started < 2
    assert isinstance(outcome[0], DeadlineExceeded)
    assert "the test's deadline of 0.5 s expired during" in str(outcome[0])
    theirs.close()


def test_a_reply_has_a_total_budget_that_a_drip_cannot_reset() -> None:
    ours, theirs = socket.socketpair()
    sock = BoundedSocket(ours, Deadline.after(30), "peer")
    sock.settimeout(5)
    stop = threading.Event()

    def drip() -> None:
        while not stop.wait(0.05):
            theirs.sendall(b"x")  # a byte every 50 ms: no recv ever waits long

    threading.Thread(target=drip, daemon=True).start()
    sock.meter.expect("info")
    sock.begin_reply(0.5)
    started = time.monotonic()
    with pytest.raises(BudgetExceeded, match=r"no complete reply to INFO on peer within 0\.5 s"):
        while True:
            sock.recv(1)
    assert time.monotonic() - started < 2
    stop.set()


def test_an_armed_watch_cuts_a_handshake_sent_a_byte_at_a_time() -> None:
    deadline = Deadline.after(30, "test")
    ours, theirs = socket.socketpair()
    ours.settimeout(5)
    started = time.monotonic()
    with deadline.guard(ours, 0.3, "the handshake") as watch:
        with pytest.raises(OSError):
            for _ in range(100):
                theirs.sendall(b"x")
                if not ours.recv(1):
                    raise OSError("shut down")
                time.sleep(0.05)
        assert watch.failure() is not None and "did not complete within 0.3 s" in str(watch.failure())
    assert time.monotonic() - started < 2
    deadline.close()


def test_deadlines_are_per_audit_objects() -> None:
    """Two audits in one process: one's deadline shuts only its own sockets."""
    short, long = Deadline.after(0.3, "short"), Deadline.after(30, "long")
    a, a_peer = socket.socketpair()
    b, b_peer = socket.socketpair()
    short.watch(a, "a")
    long.watch(b, "b")
    time.sleep(0.6)
    assert a.recv(1) == b""  # shut down by its deadline
    b_peer.sendall(b"y")
    assert b.recv(1) == b"y"  # untouched
    long.close()
    assert b.recv(1) == b""  # closing a deadline shuts what is still watched
    for sock in (a, a_peer, b, b_peer):
        sock.close()
