"""Latency probe accuracy benchmark (not a test): run it, read the table, paste it into docs/benchmarks.md.

    .venv/bin/python benchmarks/latency/bench_latency.py [--seconds 4]

1. Loopback accuracy: `redis-benchmark -c 1 -P 1 -n N -t ping` (C, tight loop) and the probe's PING,
   in the same run against the same fresh redis-server: the probe's request path back to back (the
   same kind of loop as redis-benchmark's), then the probe itself at several open-loop rates.
2. Stall visibility: `DEBUG SLEEP 0.05` every second (the server stalls 50 ms, 5% of the time);
   the open-loop probe and a closed loop (send, wait, sleep one period) measure the same server.

It starts its own redis-server on a free loopback port (never 6379) and stops it by PID.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import redis

from redis_audit.guard import LATENCY_PROBE
from redis_audit.probes.latency import ProbeConfig, run_latency_probe
from redis_audit.probes.resp import ProbeConnection
from redis_audit.target import Credentials, TlsOptions
from redis_audit.topology import Address


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_benchmark_p50_us(port: int, requests: int) -> tuple[float, float]:
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-c", "1", "-P", "1", "-n", str(requests),
                          "-t", "ping", "--csv"], capture_output=True, text=True, check=True, timeout=120).stdout
    rows = {r["test"]: r for r in csv.DictReader(io.StringIO(out))}
    row = rows["PING_MBULK"]
    return float(row["p50_latency_ms"]) * 1000, float(row["p99_latency_ms"]) * 1000


def probe(port: int, **config: object):
    return run_latency_probe(Address("127.0.0.1", port), tls=TlsOptions(), credentials=Credentials(),
                             config=ProbeConfig(commands=("ping",), setup_samples=0, **config))  # type: ignore[arg-type]


def back_to_back_p50_us(port: int, requests: int) -> tuple[float, float]:
    """The probe's own request path (prepared PING, blocking recv_into) in a tight loop, no schedule."""
    conn, _ = ProbeConnection.open(Address("127.0.0.1", port), tls=TlsOptions(), credentials=Credentials(),
                                   policy=LATENCY_PROBE, connect_timeout_s=1, read_timeout_s=1)
    ping = conn.prepare("PING")
    samples = []
    try:
        for _ in range(requests):
            start = time.perf_counter_ns()
            conn.call_prepared(ping)
            samples.append(time.perf_counter_ns() - start)
    finally:
        conn.close()
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[len(samples) * 99 // 100] / 1000


def bare_socket_p50_us(port: int, rate_hz: int, duration_ms: int) -> float:
    """A minimal client at the probe's spacing: raw socket, bytes literal, and a client that spins
    between requests (never sleeps). What is left at low rates is the server and kernel waking up."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(None)
    period = 1_000_000_000 // rate_hz
    samples = []
    try:
        next_at = time.perf_counter_ns()
        for _ in range(rate_hz * duration_ms // 1000):
            next_at += period
            while time.perf_counter_ns() < next_at:
                pass
            start = time.perf_counter_ns()
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            sock.recv(64)
            samples.append(time.perf_counter_ns() - start)
    finally:
        sock.close()
    samples.sort()
    return samples[len(samples) // 2] / 1000


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    binary = shutil.which("redis-server")
    assert binary and shutil.which("redis-benchmark"), "needs redis-server and redis-benchmark"
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--dir", directory, "--enable-debug-command", "local"],
                                  stdout=subprocess.DEVNULL)
        try:
            admin = redis.Redis(port=port)
            for _ in range(100):
                try:
                    admin.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            run(port, admin, args.seconds)
        finally:
            server.terminate()
            server.wait(10)


def run(port: int, admin: redis.Redis, seconds: float) -> None:
    duration_ms = int(seconds * 1000)
    print(f"## 1. Loopback accuracy (PING); {load()}\n")
    print("| method | n | P50 µs | P99 µs | P50 ratio to redis-benchmark | P50 ratio to bare socket, same spacing |")
    print("|---|---|---|---|---|---|")
    bench_p50, bench_p99 = redis_benchmark_p50_us(port, 20_000)
    print(f"| redis-benchmark -c 1 -P 1 -n 20000 -t ping (tight loop) | 20000 | {bench_p50:.0f} | "
          f"{bench_p99:.0f} | 1.00 | |")
    tight_p50, tight_p99 = back_to_back_p50_us(port, 20_000)
    print(f"| probe request path back to back (tight loop) | 20000 | {tight_p50:.0f} | {tight_p99:.0f} | "
          f"{tight_p50 / bench_p50:.2f} | |")
    for rate in (10_000, 5_000, 1_000, 200):
        result = probe(port, rate_hz=rate, duration_ms=duration_ms)
        bare = bare_socket_p50_us(port, rate, min(duration_ms, 2_000))
        print(f"| bare socket at {rate}/s (client spins, never sleeps) | | {bare:.0f} | | "
              f"{bare / bench_p50:.2f} | 1.00 |")
        h = result.commands["ping"].response
        s = result.commands["ping"].service
        for label, hist in (("response (from schedule)", h), ("service (from send)", s)):
            q50, q99 = hist.quantile(0.5), hist.quantile(0.99)
            assert q50 and q99
            print(f"| probe open loop {rate}/s, {label} | {hist.total} | {q50.value / 1000:.0f} | "
                  f"{q99.value / 1000:.0f} | {q50.value / 1000 / bench_p50:.2f} | {q50.value / 1000 / bare:.2f} |")
    again_p50, again_p99 = redis_benchmark_p50_us(port, 20_000)
    print(f"| redis-benchmark again (drift check) | 20000 | {again_p50:.0f} | {again_p99:.0f} | "
          f"{again_p50 / bench_p50:.2f} | |")
    print(f"\n{load()}")

    print("\n## 2. A 50 ms stall every second (DEBUG SLEEP 0.05), 200 requests/s\n")
    print("| method | n | P50 µs | P95 µs | P99 µs (95% CI) | max µs | samples > 10 ms |")
    print("|---|---|---|---|---|---|---|")
    for closed in (False, True):
        stop = threading.Event()

        def staller(stop: threading.Event = stop) -> None:
            while not stop.wait(1.0):
                admin.execute_command("DEBUG", "SLEEP", "0.05")

        thread = threading.Thread(target=staller, daemon=True)
        thread.start()
        result = probe(port, rate_hz=200, duration_ms=max(duration_ms, 5_000), closed_loop=closed)
        stop.set()
        thread.join()
        for label, hist in (("response", result.commands["ping"].response),
                            ("service", result.commands["ping"].service)):
            if closed and label == "service":
                continue  # identical to the closed loop's response time
            q = {p: hist.quantile(p) for p in (0.5, 0.95, 0.99)}
            q99 = q[0.99]
            assert q99 is not None
            ci = f"{(q99.lower or 0) / 1000:.0f}–{(q99.upper or 0) / 1000:.0f}"
            name = "closed loop (send, wait, sleep 5 ms)" if closed else f"probe open loop, {label} time"
            print(f"| {name} | {hist.total} | {q[0.5].value / 1000:.0f} | {q[0.95].value / 1000:.0f} | "  # type: ignore[union-attr]
                  f"{q99.value / 1000:.0f} ({ci}) | {hist.maximum / 1000:.0f} | {hist.count_above(10_000_000)} |")


if __name__ == "__main__":
    main()
