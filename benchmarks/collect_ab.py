#!/usr/bin/env python3
"""Collection time of this tree beside another commit's, interleaved on one cluster (an A/B of a change).

audit_scaling.py's "collection only" profile on a 30-node sandbox cluster (15 x 1), each version in
its own child process (11 timed collections after a warm-up), the two alternating for --rounds rounds,
so that both see the same host load. The other version is a directory holding its redis_audit package:
    git archive COMMIT redis_audit | tar -x -C /tmp/base
Run:  .venv/bin/python benchmarks/collect_ab.py --baseline /tmp/base [--rounds 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis_audit.sandbox import Sandbox, SandboxSpec

HERE = Path(__file__).resolve().parents[1]

CHILD = """
import json, statistics, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from redis_audit.audit import AuditOptions, collect_snapshot
from redis_audit.profile import profile_from_mapping
from redis_audit.sandbox import Sandbox, sandbox_target
profile = profile_from_mapping({"latency": {"local_probe": False}, "ha": {"write_rate_sample_ms": 0},
                                "keyspace": {"enabled": False}})
target = sandbox_target(Sandbox.load(Path(sys.argv[2])))
collect_snapshot(target, AuditOptions(profile))
walls = []
for _ in range(11):
    started = time.perf_counter()
    collect_snapshot(target, AuditOptions(profile))
    walls.append(time.perf_counter() - started)
print(json.dumps({"min": min(walls), "median": statistics.median(walls)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="a directory holding the other redis_audit")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    versions = {"baseline": args.baseline.resolve(), "this tree": HERE}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in versions}
    with tempfile.TemporaryDirectory(prefix="bench-") as state:
        sandbox = Sandbox.up(SandboxSpec(topology="cluster", cluster_primaries=15, cluster_replicas=1), Path(state))
        try:
            for _ in range(args.rounds):
                for name, path in versions.items():
                    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(sandbox.state_dir)],
                                         capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
                    results[name].append(json.loads(out.stdout.splitlines()[-1]))
        finally:
            sandbox.down()
    print("\n| version | collection, 30 nodes: median of medians (s) | best (s) |\n|---|---|---|")
    for name, rounds in results.items():
        print(f"| {name} | {statistics.median(r['median'] for r in rounds):.3f} | "
              f"{min(r['min'] for r in rounds):.3f} |")


if __name__ == "__main__":
    main()
