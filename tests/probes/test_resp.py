"""The probe's RESP connection on a socketpair: replies split across reads, long replies, guarded sends."""

from __future__ import annotations

import socket
import threading

import pytest

from redis_audit.guard import LATENCY_PROBE, READ_ONLY, CommandNotAllowed
from redis_audit.probes.resp import ProbeConnection, RespError


def pair() -> tuple[ProbeConnection, socket.socket]:
    ours, theirs = socket.socketpair()
    return ProbeConnection(ours, LATENCY_PROBE, 2.0, 0), theirs


def test_a_reply_split_across_reads_and_one_longer_than_the_buffer():
    conn, server = pair()
    big = b"x" * 200_000  # more than the 64 KiB read buffer: it must grow
    payload = (b"+PONG\r\n$" + str(len(big)).encode() + b"\r\n" + big + b"\r\n"
               + b":42\r\n-ERR nope\r\n*2\r\n$1\r\na\r\n$-1\r\n")

    def dribble() -> None:
        for i in range(0, len(payload), 7_001):
            server.sendall(payload[i:i + 7_001])

    thread = threading.Thread(target=dribble)
    thread.start()
    assert conn.read() == b"PONG"
    assert conn.read() == big
    assert conn.read() == 42
    with pytest.raises(RespError, match="ERR nope"):
        conn.read()
    assert conn.read() == [b"a", None]
    thread.join()
    conn.close()
    server.close()


def test_prepared_commands_are_checked_once_and_bound_to_their_policy():
    conn, server = pair()
    with pytest.raises(CommandNotAllowed):
        conn.prepare("SET", "k", "v")
    ping = conn.prepare("PING")
    server.sendall(b"+PONG\r\n")
    assert conn.call_prepared(ping) == b"PONG"
    assert server.recv(64) == b"*1\r\n$4\r\nPING\r\n"
    other, other_server = socket.socketpair()
    read_only = ProbeConnection(other, READ_ONLY, 2.0, 0)
    with pytest.raises(ValueError, match="prepared under latency-probe"):
        read_only.send_prepared(ping)
    for sock in (server, other_server):
        sock.close()
    conn.close()
    read_only.close()
