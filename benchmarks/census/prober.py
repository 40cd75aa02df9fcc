"""A 1 ms PING prober: one PING per millisecond on its own connection; prints the worst wait (µs) on SIGTERM."""

import signal
import socket
import sys
import time

port = int(sys.argv[1])
sock = socket.create_connection(("127.0.0.1", port))
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
worst = 0.0
running = True


def stop(*_: object) -> None:
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
next_at = time.perf_counter()
while running:
    started = time.perf_counter()
    sock.sendall(b"PING\r\n")
    sock.recv(64)
    worst = max(worst, time.perf_counter() - started)
    next_at += 0.001
    delay = next_at - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
    else:
        next_at = time.perf_counter()
print(int(worst * 1e6))
