#!/usr/bin/env python3
"""What bounding every reply costs: the reply meter (redis_audit/replies.py) beside hiredis's own parse.

The meter follows the RESP2 structure of every reply an engine connection reads, in Python, so that
a reply over its limit is refused before the parser sees it. This times it on replies shaped like the
ones the collectors read (INFO, CONFIG GET, CLUSTER SHARDS of 30 nodes, COMMAND DOCS of Redis 7.0),
fed in the 64 KiB reads redis-py's hiredis parser makes, and hiredis parsing the same bytes.
Run:  .venv/bin/python benchmarks/reply_meter.py [--repeat 20]
No server needed: the replies are built here.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import hiredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis_audit.replies import ReplyMeter

READ = 65536


def bulk(text: str) -> bytes:
    data = text.encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


def array(*items: bytes) -> bytes:
    return b"*%d\r\n" % len(items) + b"".join(items)


def replies() -> dict[str, tuple[str, bytes]]:
    info = "".join(f"key_{i}:value_{i}\r\n" for i in range(300))
    config = array(*(bulk(f"parameter-{i}") for i in range(400)))
    node = array(*(x for i in range(9) for x in (bulk(f"field{i}"), bulk(f"value-{i}"))))
    shards = array(*(array(bulk("slots"), array(b":0\r\n", b":1000\r\n"), bulk("nodes"), array(node, node))
                     for _ in range(15)))
    docs = array(*(x for i in range(240) for x in (bulk(f"command{i}"), array(
        bulk("summary"), bulk("does things " * 5), bulk("since"), bulk("1.0.0"), bulk("group"), bulk("generic"),
        bulk("arguments"), array(*(array(bulk("name"), bulk(f"arg{j}"), bulk("type"), bulk("key"))
                                  for j in range(6)))))))
    return {"INFO (one bulk string)": ("info", bulk(info)), "CONFIG GET (400 values)": ("config|get", config),
            "CLUSTER SHARDS (30 nodes)": ("cluster|shards", shards), "COMMAND DOCS-like": ("command|docs", docs)}


def per_call_ms(work, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}\n")
    print("| reply | bytes | lines | meter (ms) | µs per line | hiredis parse (ms) |")
    print("|---|---|---|---|---|---|")
    for label, (command, data) in replies().items():
        reads = [data[i:i + READ] for i in range(0, len(data), READ)]
        lines = data.count(b"\n")
        metered = per_call_ms(lambda c=command, r=reads: meter(c, r), args.repeat)
        parsed = per_call_ms(lambda r=reads: parse(r), args.repeat)
        print(f"| {label} | {len(data):,} | {lines:,} | {metered:.2f} | {metered * 1000 / lines:.2f} | "
              f"{parsed:.2f} |")


def meter(command: str, reads: list[bytes]) -> None:
    m = ReplyMeter()
    m.expect(command)
    for chunk in reads:
        m.feed(chunk)


def parse(reads: list[bytes]) -> None:
    reader = hiredis.Reader(encoding="utf-8")
    for chunk in reads:
        reader.feed(chunk)
    reader.gets()

if __name__ == "__main__":
    main()
