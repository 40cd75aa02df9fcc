#!/usr/bin/env python3
"""Census benchmark: redis-audit census (exact and sampled) beside `redis-cli --memkeys` and `rka`.

Starts its own redis-server on a free loopback port, loads the 1.15 M-key limiter dataset with
../shared/bench/load_limiter_keys.py (called by path: it is not part of this repository), then runs
each tool in turn with a 1 ms PING prober beside it, and prints a Markdown table: wall time, peak RSS
(/usr/bin/time -v), commands sent (INFO commandstats deltas, the prober's PINGs removed), worst PING
wait, and the sampled census's error per group against the exact census of the same run.

    python3 benchmarks/census/run.py [--loader ../shared/bench/load_limiter_keys.py] [--budget 300000] \
        [--rounds 2] [--baseline PATH/TO/OTHER/redis-audit] [--rka PATH/TO/rka] [--realtime]

Rows: the host's floor (the prober beside two CPU-bound processes, no Redis work: on a 2-vCPU host
any busy neighbour delays the prober itself by a few ms), the exact census (TYPE per key), the exact
census with types by sampling (--types sampled: PTTL and MEMORY USAGE per key, TYPE for 1 key in 16),
the sampled census, redis-cli --memkeys, rka.

--realtime runs the server and the prober at SCHED_FIFO priority (needs root): neither then waits for a
CPU, as when the tool runs on another host than Redis, so the prober's wait is what the server itself
makes clients wait behind the tool. Waits over 2 ms are counted too: the worst alone is one sample.

--rounds runs the whole comparison again on the same loaded server (each round prints its tables);
the 1-minute load average (/proc/loadavg) is recorded before each tool, because on a shared machine
it says more about a stall than the tool does. --baseline adds another redis-audit build's exact
census as a row (for a before/after in the same run).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PROBER_PREFIX: list[str] = []  # --realtime: ["chrt", "-f", "10"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    return port if port != 6379 else free_port()


def cli(port: int, *args: str) -> str:
    return subprocess.run(["redis-cli", "-p", str(port), *args], check=True, capture_output=True, text=True).stdout


def info(port: int, section: str) -> dict[str, str]:
    out = {}
    for line in cli(port, "INFO", section).splitlines():
        key, _, value = line.partition(":")
        if value:
            out[key] = value.strip()
    return out


def calls(port: int) -> dict[str, int]:
    stats = info(port, "commandstats")
    return {k[len("cmdstat_"):]: int(re.search(r"calls=(\d+)", v).group(1)) for k, v in stats.items()}  # type: ignore[union-attr]


def settle(port: int) -> float:
    """Wait until the dicts have finished the rehash the load started; returns the seconds waited.

    Mid-rehash the server holds both bucket arrays (16.8 MB more for this dataset): used_memory and
    the census's corrected bytes then describe a passing state, and the first row would differ from
    the rest. Only this benchmark's own server enables DEBUG (for localhost); the census never uses it.
    """
    started = time.monotonic()
    while "rehashing target" in cli(port, "DEBUG", "HTSTATS", "0") and time.monotonic() - started < 300:
        time.sleep(0.5)
    return time.monotonic() - started


def host_floor(port: int, seconds: float = 4.0) -> dict[str, object]:
    """The prober beside two CPU-bound processes and no Redis work: what the host alone adds."""
    prober = subprocess.Popen([*PROBER_PREFIX, sys.executable, str(HERE / "prober.py"), str(port)],
                              stdout=subprocess.PIPE, text=True)
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    time.sleep(seconds)
    for hog in hogs:
        hog.kill()
        hog.wait()
    prober.send_signal(signal.SIGTERM)
    worst_us, over_2ms, samples = (int(x) for x in prober.communicate(timeout=10)[0].split())
    return {"tool": "no tool: two CPU-bound processes, no Redis work (the host's floor)", "load": load_average(),
            "wall_s": seconds, "rss_mb": 0, "commands": 0, "worst_ping_ms": round(worst_us / 1000, 1),
            "pings_over_2ms": over_2ms, "pings": samples, "by_command": {}}


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def measure(name: str, command: list[str], port: int, stdout: Path) -> dict[str, object]:
    load = load_average()
    before = calls(port)
    prober = subprocess.Popen([*PROBER_PREFIX, sys.executable, str(HERE / "prober.py"), str(port)],
                              stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    timing = stdout.with_suffix(".time")
    started = time.monotonic()
    with stdout.open("w") as out, timing.open("w") as err:
        subprocess.run(["/usr/bin/time", "-v", *command], stdout=out, stderr=err, check=False)
    wall = time.monotonic() - started
    time.sleep(0.2)
    prober.send_signal(signal.SIGTERM)
    worst_us, over_2ms, samples = (int(x) for x in prober.communicate(timeout=10)[0].split())
    after = calls(port)
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    delta["ping"] = 0  # the prober's
    delta["info"] = max(delta.get("info", 0) - 1, 0)  # our own commandstats read
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", timing.read_text()).group(1))  # type: ignore[union-attr]
    return {"tool": name, "load": load, "wall_s": round(wall, 2), "rss_mb": round(rss_kb / 1024, 1),
            "commands": sum(v for v in delta.values() if v > 0), "worst_ping_ms": round(worst_us / 1000, 1),
            "pings_over_2ms": over_2ms, "pings": samples,
            "by_command": {k: v for k, v in sorted(delta.items()) if v > 0}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loader", type=Path, default=ROOT.parent / "shared" / "bench" / "load_limiter_keys.py")
    ap.add_argument("--budget", type=int, default=300_000)
    ap.add_argument("--rka", type=Path, default=ROOT / ".peers" / "rka" / "bin" / "rka")
    ap.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="census-bench-")))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--baseline", type=Path, help="another redis-audit executable, run as an extra exact row")
    ap.add_argument("--realtime", action="store_true",
                    help="run the server and the prober at SCHED_FIFO priority (root): each as if it had a CPU "
                         "of its own, as in production where the auditor runs on another host")
    a = ap.parse_args()
    if a.realtime:
        PROBER_PREFIX[:] = ["chrt", "-f", "10"]
    audit = shutil.which("redis-audit") or str(Path(sys.executable).parent / "redis-audit")
    port = free_port()
    workdir = a.out
    workdir.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen([*PROBER_PREFIX, "redis-server", "--port", str(port), "--bind", "127.0.0.1",
                               "--enable-debug-command", "local", "--save", "",
                               "--appendonly", "no", "--dir", str(workdir), "--logfile", str(workdir / "redis.log")])
    try:
        for _ in range(100):
            try:
                cli(port, "PING")
                break
            except subprocess.CalledProcessError:  # not listening yet
                time.sleep(0.1)
        empty = int(info(port, "memory")["used_memory"])
        subprocess.run([sys.executable, str(a.loader), "--port", str(port), "--flush"], check=True)
        print(f"waited {settle(port):.1f} s for the load's rehash to finish", flush=True)
        target = f"redis://127.0.0.1:{port}"
        for round_no in range(1, a.rounds + 1):
            print(f"\n### Round {round_no} of {a.rounds}", flush=True)
            out = workdir / f"round{round_no}"
            out.mkdir(exist_ok=True)
            rows = [host_floor(port)]
            rows.append(measure("redis-audit census --mode exact", [audit, "census", target, "--mode", "exact",
                                                                "--format", "json"], port, out / "exact.json"))
            rows.append(measure("redis-audit census --mode exact --types sampled",
                                [audit, "census", target, "--mode", "exact", "--types", "sampled", "--format", "json"],
                                port, out / "exact-types-sampled.json"))
            rows.append(measure(f"redis-audit census --mode sampled --budget {a.budget}",
                                [audit, "census", target, "--mode", "sampled", "--budget", str(a.budget),
                                 "--format", "json"], port, out / "sampled.json"))
            rows.append(measure("redis-cli --memkeys", ["redis-cli", "-p", str(port), "--memkeys"], port,
                                out / "memkeys.txt"))
            if a.rka.exists():
                rka = [str(a.rka), "--host", "127.0.0.1", "--port", str(port)]
                rows.append(measure("rka 0.1.x (PyPI redis-key-analyzer)", rka, port, out / "rka.txt"))
            else:
                print(f"rka not found at {a.rka}: python3 -m venv .peers/rka && .peers/rka/bin/pip install "
                      "redis-key-analyzer", file=sys.stderr)
            if a.baseline:
                rows.append(measure(f"baseline: {a.baseline} census --mode exact",
                                    [str(a.baseline), "census", target, "--mode", "exact", "--format", "json"], port,
                                    out / "baseline.json"))
            exact = json.loads((out / "exact.json").read_text())
            sampled = json.loads((out / "sampled.json").read_text())
            report(rows, exact, sampled, exact["totals"]["usedMemory"] - empty)
            typed = json.loads((out / "exact-types-sampled.json").read_text())
            print(f"\nExact with types by sampling: {typed['totals']['keys']:,} keys, {typed['commands']:,} commands, "
                  f"{typed['durationMs']} ms in-process; types from {typed.get('typeSampleSize', 0):,} keys "
                  f"(1 in {typed.get('typeSampleEvery')}): "
                  + "; ".join(f"{g['pattern']} {g['types']}" for g in typed["groups"]))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


def report(rows: list[dict[str, object]], exact: dict, sampled: dict, data_bytes: int) -> None:  # type: ignore[type-arg]
    memkeys = next((r for r in rows if str(r["tool"]).startswith("redis-cli")), None)
    print("\n| tool | load avg before | wall s | vs memkeys | peak RSS MB | commands sent | worst 1 ms PING wait, ms "
          "| PINGs waiting > 2 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{float(memkeys['wall_s']) / float(r['wall_s']):.2f}x" if memkeys else "—"  # type: ignore[arg-type]
        if not r["commands"]:  # the host's floor: no tool ran
            ratio = "—"
        print(f"| {r['tool']} | {r['load']} | {r['wall_s']} | {ratio} | {r['rss_mb']} | {r['commands']:,} | "
              f"{r['worst_ping_ms']} | {r['pings_over_2ms']} of {r['pings']:,} |")
    corrected = exact["totals"]["correctedBytes"]
    print(f"\nExact census: {exact['totals']['keys']:,} keys; MEMORY USAGE sum {exact['totals']['bytes']:,} B; "
          f"corrected {corrected:,} B; used_memory (read by the census) minus the empty server's {data_bytes:,} B "
          f"(corrected is {100 * (corrected - data_bytes) / data_bytes:+.1f}%, MEMORY USAGE alone "
          f"{100 * (exact['totals']['bytes'] - data_bytes) / data_bytes:+.1f}%).")
    print("\n| group | exact keys | exact corrected B | B/key (MEMORY USAGE → corrected) | no TTL | sampled error, "
          "keys | sampled error, bytes (95% CI) | sampled error, corrected B |")
    print("|---|---|---|---|---|---|---|---|")
    sampled_groups = {g["pattern"]: g for g in sampled["groups"]}
    for g in exact["groups"]:
        s = sampled_groups.get(g["pattern"])
        keys = size = corrected = "—"
        if s:
            keys = f"{100 * (s['keys'] - g['keys']) / g['keys']:+.2f}%"
            size = (f"{100 * (s['bytes'] - g['bytes']) / g['bytes']:+.2f}% "
                    f"(±{100 * s['ci95']['bytes'] / max(s['bytes'], 1):.2f}%)")
            corrected = f"{100 * (s['correctedBytes'] - g['correctedBytes']) / g['correctedBytes']:+.2f}%"
        print(f"| {g['pattern']} | {g['keys']:,} | {g['correctedBytes']:,} | {g['bytesPerKey']} → "
              f"{g['correctedBytesPerKey']} | {g['noTtl']:,} | {keys} | {size} | {corrected} |")
    print(f"\nSampled: {sampled['commands']:,} commands in {sampled['durationMs']} ms (in-process); "
          f"exact: {exact['commands']:,} commands in {exact['durationMs']} ms.")
    print("Commands by tool: " + "; ".join(f"{r['tool']}: {r['by_command']}" for r in rows))


if __name__ == "__main__":
    sys.exit(main())
