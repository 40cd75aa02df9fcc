#!/usr/bin/env python3
"""How audit time grows with cluster size: a 6-node and a 30-node sandbox cluster, side by side.

Collection is concurrent, so the 30-node audit should take well under 5x the 6-node one.
Run:  .venv/bin/python benchmarks/audit_scaling.py [--runs 5] [--tls]
It starts its own sandboxes on free loopback ports and stops them at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis_audit.audit import AuditOptions, collect_snapshot, judge_snapshot
from redis_audit.profile import default_profile
from redis_audit.sandbox import Sandbox, SandboxSpec, sandbox_target


def time_audits(spec: SandboxSpec, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-") as state:
        sandbox = Sandbox.up(spec, Path(state))
        try:
            target = sandbox_target(sandbox)
            options = AuditOptions(default_profile())
            audit_once(target, options)  # warm-up: imports, first TLS context
            walls, collects = [], []
            for _ in range(runs):
                start = time.perf_counter()
                snapshot = collect_snapshot(target, options)
                collected = time.perf_counter()
                report = judge_snapshot(snapshot, options.profile)
                walls.append(time.perf_counter() - start)
                collects.append(collected - start)
                assert not report.snapshot.topology.unreachable, report.snapshot.topology.unreachable
            return {"nodes": len(snapshot.nodes), "median_s": statistics.median(walls),
                    "max_s": max(walls), "collect_median_s": statistics.median(collects)}
        finally:
            sandbox.down()


def audit_once(target, options) -> None:  # type: ignore[no-untyped-def]
    judge_snapshot(collect_snapshot(target, options), options.profile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tls", action="store_true")
    args = parser.parse_args()
    rows = []
    for primaries in (3, 15):
        spec = SandboxSpec(topology="cluster", tls=args.tls, cluster_primaries=primaries, cluster_replicas=1)
        rows.append(time_audits(spec, args.runs))
    print(f"| nodes | median audit (s) | max (s) | median collect (s) |  (TLS={args.tls}, runs={args.runs})")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['nodes']} | {row['median_s']:.2f} | {row['max_s']:.2f} | {row['collect_median_s']:.2f} |")
    ratio = rows[1]["median_s"] / rows[0]["median_s"]
    print(f"\n30-node / 6-node median: {ratio:.2f}x (target < 2x); 6-node median {rows[0]['median_s']:.2f} s "
          "(target < 2 s)")


if __name__ == "__main__":
    main()
