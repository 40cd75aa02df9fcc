#!/usr/bin/env python3
"""RDB reader benchmark: redis-audit's reader beside redis-server loading the same file, in the same run.

Starts its own redis-server on a free loopback port, loads the 1.15 M-key limiter dataset with
../shared/bench/load_limiter_keys.py (called by path: not part of this repository), SAVEs, stops it,
then per round: starts a server on a copy of the file and reads its log line "DB loaded from disk: X
seconds", and times the reader (a separate process: wall time and peak RSS from /usr/bin/time-style
getrusage) reading every key with the CRC-64 verified. Prints a Markdown table with the ratio and the
1-minute load average before each step (the machine is shared: the spread matters).

    python3 benchmarks/rdb/bench_rdb.py [--loader ../shared/bench/load_limiter_keys.py] [--rounds 3] \
        [--rl 1000000 --rlz 100000 --cache 50000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from redis_audit.sandbox.binaries import find_server_binary  # noqa: E402
from redis_audit.sandbox.ports import free_ports  # noqa: E402

# The reader in a child process, so its peak RSS is its own (ru_maxrss of the child alone).
READER = r"""
import json, resource, sys, time
from redis_audit.rdb import RdbReader
started = time.perf_counter()
keys = memory = 0
with open(sys.argv[1], "rb") as f:
    reader = RdbReader(f)
    for batch in reader:
        keys += len(batch)
        memory += sum(batch.memory)
print(json.dumps({"seconds": time.perf_counter() - started, "keys": keys, "memory": memory,
                  "checksum": reader.summary.checksum, "complete": reader.summary.complete,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
LOADED = re.compile(r"DB loaded from disk: ([0-9.]+) seconds")


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def start_server(binary: Path, port: int, directory: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(binary), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
                             "--save", "", "--appendonly", "no", "--logfile", str(directory / "server.log")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cli(port: int, *args: str) -> str:
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, check=True,
                          timeout=600).stdout.strip()


def wait_ready(port: int, log: Path, deadline_s: float = 120) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if cli(port, "PING") == "PONG" and "loading:0" in cli(port, "INFO", "persistence"):
                return
        except subprocess.CalledProcessError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"server on {port} not ready; see {log}")


def make_file(binary: Path, loader: Path, work: Path, sizes: list[str]) -> Path:
    port = free_ports(1)[0]
    directory = work / "writer"
    directory.mkdir()
    proc = start_server(binary, port, directory)
    try:
        wait_ready(port, directory / "server.log")
        subprocess.run([sys.executable, str(loader), "--port", str(port), "--flush", *sizes], check=True,
                       stdout=subprocess.DEVNULL)
        cli(port, "SAVE")
    finally:
        stop(proc)
    return directory / "dump.rdb"


def server_load_seconds(binary: Path, rdb: Path, work: Path) -> float:
    directory = Path(tempfile.mkdtemp(dir=work, prefix="load-"))
    shutil.copy(rdb, directory / "dump.rdb")
    port = free_ports(1)[0]
    proc = start_server(binary, port, directory)
    try:
        wait_ready(port, directory / "server.log")
    finally:
        stop(proc)
    found = LOADED.search((directory / "server.log").read_text())
    shutil.rmtree(directory)
    if not found:
        raise SystemExit("no 'DB loaded from disk' line in the server log")
    return float(found.group(1))


def reader_run(rdb: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", READER, str(rdb)], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout
    result: dict[str, float] = json.loads(out)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loader", type=Path, default=ROOT.parent / "shared" / "bench" / "load_limiter_keys.py")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rl", type=int)
    ap.add_argument("--rlz", type=int)
    ap.add_argument("--cache", type=int)
    ap.add_argument("--keep", type=Path, help="keep the RDB file here")
    a = ap.parse_args()
    if not a.loader.is_file():
        raise SystemExit(f"loader not found: {a.loader} (pass --loader)")
    sizes = [arg for name in ("rl", "rlz", "cache") if getattr(a, name) is not None
             for arg in (f"--{name}", str(getattr(a, name)))]
    binary = find_server_binary("redis")
    with tempfile.TemporaryDirectory(prefix="rdb-bench-") as tmp:
        work = Path(tmp)
        rdb = make_file(binary, a.loader, work, sizes)
        if a.keep:
            shutil.copy(rdb, a.keep)
        print(f"file: {rdb.stat().st_size / 1e6:.1f} MB, {cli_version(binary)}\n")
        print("| round | load avg | redis-server load s | reader s | ratio | reader peak RSS MB | keys | checksum |")
        print("|---|---|---|---|---|---|---|---|")
        for round_no in range(1, a.rounds + 1):
            before = loadavg()
            server_s = server_load_seconds(binary, rdb, work)
            result = reader_run(rdb)
            print(f"| {round_no} | {before} | {server_s:.2f} | {result['seconds']:.2f} | "
                  f"{result['seconds'] / server_s:.1f}x | {result['rss_mb']:.0f} | {int(result['keys'])} | "
                  f"{result['checksum']} |")


def cli_version(binary: Path) -> str:
    return subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True).stdout.split()[2]


if __name__ == "__main__":
    main()
