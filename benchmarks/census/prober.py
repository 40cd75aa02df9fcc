"""A 1 ms PING prober: one PING per millisecond on its own connection.

On SIGTERM it prints the worst wait and how many waits exceeded 2 ms, as "worst_us over_2ms samples":
the worst alone is one sample, and on a shared VM a scheduling hiccup can make it.
"""

import signal
import socket
import sys
import time

port = int(sys.argv[1])
sock = socket.create_connection(("127.0.0.1", port))
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
worst = 0.0
over_2ms = 0
samples = 0
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
    wait = time.perf_counter() - started
    worst = max(worst, wait)
    over_2ms += wait > 0.002
    samples += 1
    next_at += 0.001
    delay = next_at - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
    else:
        next_at = time.perf_counter()
print(int(worst * 1e6), over_2ms, samples)
