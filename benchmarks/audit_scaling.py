#!/usr/bin/env python3
"""How audit time grows with cluster size: a 6-node and a 30-node sandbox cluster, side by side.

Collection is concurrent, so the 30-node audit should take well under 5x the 6-node one.
Two profiles are timed: the default one, whose run includes fixed measurement windows by design
(the local latency probe, 1.5 s; the replication write-rate sample, 1 s; the sampled keyspace
census), and "collection only", with those three off, which is what grows with the node count.
Run:  .venv/bin/python benchmarks/audit_scaling.py [--runs 5] [--tls]
It starts its own sandboxes on free loopback ports and stops them at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis_audit.audit import AuditOptions, collect_snapshot, judge_snapshot
from redis_audit.profile import Profile, default_profile, profile_from_mapping
from redis_audit.sandbox import Sandbox, SandboxSpec, sandbox_target

COLLECTION_ONLY = profile_from_mapping({
    "latency": {"local_probe": False}, "ha": {"write_rate_sample_ms": 0}, "keyspace": {"enabled": False},
})
PROFILES = {"default profile": default_profile(), "collection only": COLLECTION_ONLY}


def time_audits(sandbox: Sandbox, profile: Profile, runs: int) -> dict[str, float]:
    target = sandbox_target(sandbox)
    options = AuditOptions(profile)
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


def audit_once(target, options) -> None:  # type: ignore[no-untyped-def]
    judge_snapshot(collect_snapshot(target, options), options.profile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tls", action="store_true")
    args = parser.parse_args()
    print(f"TLS={args.tls}, runs={args.runs}, load average before: {os.getloadavg()[0]:.2f}\n")
    print("| profile | nodes | median audit (s) | max (s) | median collect (s) |")
    print("|---|---|---|---|---|")
    results: dict[tuple[str, int], dict[str, float]] = {}
    for primaries in (3, 15):
        spec = SandboxSpec(topology="cluster", tls=args.tls, cluster_primaries=primaries, cluster_replicas=1)
        with tempfile.TemporaryDirectory(prefix="bench-") as state:
            sandbox = Sandbox.up(spec, Path(state))
            try:
                for name, profile in PROFILES.items():
                    row = time_audits(sandbox, profile, args.runs)
                    results[(name, primaries)] = row
                    print(f"| {name} | {row['nodes']} | {row['median_s']:.2f} | {row['max_s']:.2f} | "
                          f"{row['collect_median_s']:.2f} |")
            finally:
                sandbox.down()
    for name in PROFILES:
        small, large = results[(name, 3)], results[(name, 15)]
        print(f"\n{name}: 30-node / 6-node median {large['median_s'] / small['median_s']:.2f}x (target < 2x); "
              f"6-node median {small['median_s']:.2f} s (target < 2 s)")


if __name__ == "__main__":
    main()
