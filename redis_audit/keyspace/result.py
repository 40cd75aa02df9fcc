"""A node's aggregation → JSON (ints and strings only), and the merge of several nodes' results.

In sampled mode every count is an estimate: the sample scaled to the node's DBSIZE (a ratio
estimator with SCAN slices as sampling units), with a 95% half-width in ``ci95``. Exact mode
reports the counts themselves and half-widths of 0.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

from redis_audit.jsonvalue import JsonObject, JsonValue, basis_points
from redis_audit.keyspace.overhead import Overhead
from redis_audit.keyspace.scanner import NodeState
from redis_audit.keyspace.stats import EXAMPLES, TOP_K, Aggregator, GroupStats

MAX_GROUPS_REPORTED = 200


@dataclass
class NodeCensus:
    address: str
    role: str
    dbsize: int
    expires: int
    used_memory: int
    sampled: bool
    agg: Aggregator
    state: NodeState
    overhead: Overhead
    commands: int

    def scale(self) -> float:
        if not self.sampled:
            return 1.0
        return self.dbsize / self.agg.keys if self.agg.keys else 0.0

    def group_json(self, g: GroupStats) -> JsonObject:
        scale = self.scale()
        ci = {"keys": 0, "bytes": 0, "correctedBytes": 0, "noTtl": 0}
        keys, size, corrected, no_ttl = g.keys * scale, g.size * scale, g.corrected * scale, g.no_ttl * scale
        if self.sampled:
            units = self.agg.units
            keys, ci_keys = g.u_keys.estimate(self.dbsize, units)
            size, ci_bytes = g.u_bytes.estimate(self.dbsize, units)
            corrected, ci_corr = g.u_corrected.estimate(self.dbsize, units)
            no_ttl, ci_no_ttl = g.u_no_ttl.estimate(self.dbsize, units)
            ci = {"keys": round(ci_keys), "bytes": round(ci_bytes), "correctedBytes": round(ci_corr),
                  "noTtl": round(ci_no_ttl)}
        return {
            "pattern": g.name,
            "keys": round(keys),
            "sampledKeys": g.keys,
            "bytes": round(size),
            "correctedBytes": round(corrected),
            **self._types(g, keys, scale),
            "ttlHistogram": {label: round(v * scale) for label, v in zip(self.agg.labels, g.histogram, strict=True)},
            "noTtl": round(no_ttl),
            "noTtlExamples": list(g.examples),
            "maxTtlMs": g.max_ttl_ms,
            "largest": [_largest(e) for e in sorted(g.largest, reverse=True)],
            "ci95": ci,
            **({"ttlWindow": {"windowMs": g.window_ms, "topBp": self.agg.top_bp,
                              "inTop": round(g.near_window * scale), "aboveWindow": round(g.above_window * scale)}}
               if g.window_ms else {}),
        }

    def _types(self, g: GroupStats, keys: float, scale: float) -> JsonObject:
        """Keys by type; with types by sampling, the sample's shares of the group's key count, labelled."""
        if not self.agg.types_sampled:
            return {"types": {k: round(v * scale) for k, v in sorted(g.types.items())}}
        n = g.type_sample
        return {"types": {k: round(keys * v / n) for k, v in sorted(g.types.items())} if n else {},
                "typesSampled": True, "typeSample": n}

    def to_json(self) -> JsonObject:
        peak = max(self.agg.expiry_seconds.values(), default=0)
        return {
            "address": self.address,
            "role": self.role,
            "dbsize": self.dbsize,
            "expires": self.expires,
            "usedMemory": self.used_memory,
            "scannedKeys": self.agg.keys,
            "vanished": self.agg.vanished,
            "slices": self.state.slices,
            "commands": self.commands,
            "complete": self.state.error is None,
            "error": self.state.error,
            "failed": self.state.failed,
            "overheadSource": self.overhead.source,
            "mainBucketBytes": self.overhead.main_buckets,
            "expiresBytes": self.overhead.expires_bytes,
            "sharedIntegers": self.overhead.shared_integers,
            "ttlKeysSeen": self.agg.ttl_keys,
            "maxExpiringSameSecondBp": basis_points(peak, self.agg.ttl_keys),
            "bigKeyCount": round(self.state.big_key_count * self.scale()),
        }


def _largest(entry: tuple[int, str, str, int]) -> JsonObject:
    size, key, kind, elements = entry
    return {"key": key, "type": kind, "bytes": size, "elements": None if elements < 0 else elements}


def merge(nodes: list[NodeCensus], mode: str, labels: list[str], duration_ms: int, type_every: int = 0) -> JsonObject:
    """The deployment's census: groups summed over nodes (half-widths added in quadrature)."""
    merged: dict[str, dict[str, Any]] = {}
    squares: dict[str, dict[str, float]] = {}
    for node in nodes:
        for stats in node.agg.groups.values():
            one = node.group_json(stats)
            name = stats.name
            if name not in merged:
                merged[name] = one
                squares[name] = {k: float(v) ** 2 for k, v in _ci(one).items()}
                continue
            _add_group(merged[name], one)
            for k, v in _ci(one).items():
                squares[name][k] += float(v) ** 2
    groups = sorted(merged.values(), key=lambda g: (-_int(g["correctedBytes"]), str(g["pattern"])))
    for g in groups:
        g["ci95"] = {k: round(math.sqrt(v)) for k, v in squares[str(g["pattern"])].items()}
        keys = _int(g["keys"])
        g["bytesPerKey"] = _int(g["bytes"]) // keys if keys else 0
        g["correctedBytesPerKey"] = _int(g["correctedBytes"]) // keys if keys else 0
    big = [b for node in nodes for b in node.state.big_keys][:50]
    return {
        "mode": mode,
        "complete": all(n.state.error is None for n in nodes) and bool(nodes),
        "durationMs": duration_ms,
        "commands": sum(n.commands for n in nodes),
        "ttlBuckets": list(labels),
        # Types by sampling: counts, bytes and TTLs cover every key (or the sample, in sampled mode); the
        # per-group type breakdown comes from a uniform sample of typeSampleSize keys (every typeSampleEvery-th).
        "typesSampled": any(n.agg.types_sampled for n in nodes),
        **({"typeSampleSize": sum(g.type_sample for n in nodes for g in n.agg.groups.values()),
            "typeSampleEvery": type_every} if any(n.agg.types_sampled for n in nodes) else {}),
        "totals": {
            "keys": sum(_int(g["keys"]) for g in groups),
            "bytes": sum(_int(g["bytes"]) for g in groups),
            "correctedBytes": sum(_int(g["correctedBytes"]) for g in groups),
            "dbsize": sum(n.dbsize for n in nodes),
            "usedMemory": sum(n.used_memory for n in nodes),
        },
        "nodes": [n.to_json() for n in nodes],
        "groups": groups[:MAX_GROUPS_REPORTED],
        "groupsOmitted": max(len(groups) - MAX_GROUPS_REPORTED, 0),
        "bigKeys": {
            "count": sum(_int(n.to_json()["bigKeyCount"]) for n in nodes),
            "examples": [{"group": b.group, "key": b.key, "type": b.type, "bytes": b.bytes,
                          "elements": None if b.elements < 0 else b.elements} for b in big],
        },
    }


def _ci(group: dict[str, Any]) -> dict[str, int]:
    ci = group.get("ci95")
    return {str(k): _int(v) for k, v in ci.items()} if isinstance(ci, dict) else {}


def _int(value: JsonValue) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _add_group(into: dict[str, Any], one: dict[str, Any]) -> None:
    for name in ("keys", "sampledKeys", "bytes", "correctedBytes", "noTtl"):
        into[name] = _int(into[name]) + _int(one[name])
    if "typeSample" in into or "typeSample" in one:
        into["typesSampled"] = True
        into["typeSample"] = _int(into.get("typeSample", 0)) + _int(one.get("typeSample", 0))
    into["maxTtlMs"] = max(_int(into["maxTtlMs"]), _int(one["maxTtlMs"]))
    for name in ("types", "ttlHistogram"):
        mine, theirs = into[name], one[name]
        if isinstance(mine, dict) and isinstance(theirs, dict):
            for k, v in theirs.items():
                mine[k] = _int(mine.get(k)) + _int(v)
    window, theirs_window = into.get("ttlWindow"), one.get("ttlWindow")
    if isinstance(window, dict) and isinstance(theirs_window, dict):
        for name in ("inTop", "aboveWindow"):
            window[name] = _int(window[name]) + _int(theirs_window[name])
    examples, more = into["noTtlExamples"], one["noTtlExamples"]
    if isinstance(examples, list) and isinstance(more, list):
        into["noTtlExamples"] = (examples + more)[:EXAMPLES]
    largest, other = into["largest"], one["largest"]
    if isinstance(largest, list) and isinstance(other, list):
        both = [e for e in largest + other if isinstance(e, dict)]
        into["largest"] = heapq.nlargest(TOP_K, both, key=lambda e: _int(e.get("bytes")))
