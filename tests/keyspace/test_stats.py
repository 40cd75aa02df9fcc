"""The batch aggregation against a plain per-key reference (no server: the replies are made up)."""

from __future__ import annotations

import bisect
import random
from typing import Any

import hiredis

from redis_audit.keyspace.stats import EXAMPLES, Aggregator


def test_batch_folding_matches_a_per_key_reference() -> None:
    rng = random.Random(5)
    windows = {"rl:*": 600_000}
    agg = Aggregator((60, 300, 900), now_ms=1_000_000, windows_ms=windows)
    expected: dict[str, dict[str, Any]] = {}
    vanished = 0
    for _ in range(20):
        names, keys, types, pttls, sizes = [], [], [], [], []
        for i in range(rng.randrange(1, 300)):
            name = rng.choice(["rl:*", "rlz:*", "cache:*"])
            kind = {"rl:*": b"string", "rlz:*": b"zset", "cache:*": b"string"}[name]
            pttl = rng.choice([-1, rng.randrange(0, 700_000), 600_000, 570_000, 569_999, 600_001])
            size: object = rng.randrange(50, 1500)
            if rng.random() < 0.03:  # vanished between SCAN and MEMORY USAGE, or an error reply
                size, pttl, kind = rng.choice([(None, -2, b"none"), (hiredis.ReplyError("ERR x"), pttl, kind)])
            names.append(name)
            keys.append(f"{name}{i}".encode())
            types.append(kind)
            pttls.append(pttl)
            sizes.append(size)
            if not isinstance(size, int) or kind == b"none":
                vanished += 1
                continue
            g = expected.setdefault(name, {"keys": 0, "size": 0, "no_ttl": 0, "hist": [0] * 5, "max": 0, "top": 0,
                                           "above": 0, "corrected": 0.0, "sizes": []})
            g["keys"] += 1
            g["sizes"].append(size)
            g["size"] += size
            g["corrected"] += size + 3.0 + (0.5 if pttl >= 0 else 0)
            if pttl < 0:
                g["no_ttl"] += 1
                g["hist"][0] += 1
            else:
                g["hist"][1 + bisect.bisect_right([60_000, 300_000, 900_000], pttl)] += 1
                g["max"] = max(g["max"], pttl)
                if name in windows:
                    g["top"] += 570_000 <= pttl <= 600_000
                    g["above"] += pttl > 600_000
        agg.add(names, keys, types, pttls, sizes, 3.0, 0.5)  # type: ignore[arg-type]
    assert agg.vanished == vanished
    for name, want in expected.items():
        g = agg.groups[name]
        assert (g.keys, g.size, g.no_ttl, g.histogram, g.max_ttl_ms) == (
            want["keys"], want["size"], want["no_ttl"], want["hist"], want["max"]), name
        assert abs(g.corrected - want["corrected"]) < 1e-6
        assert (g.near_window, g.above_window) == ((want["top"], want["above"]) if name in windows else (0, 0))
        assert len(g.examples) == min(EXAMPLES, want["no_ttl"])
        assert sorted(e[0] for e in g.largest) == sorted(want["sizes"])[-5:]
        assert g.types == {"rlz:*": {"zset": want["keys"]}}.get(name, {"string": want["keys"]})
