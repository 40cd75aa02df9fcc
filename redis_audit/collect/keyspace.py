"""The keyspace census as a deployment fact (``keyspace.census``), within the run's deadline.

Sampled by default (the profile's ``[keyspace]`` says how much to spend); the checks read the
result and never scan themselves.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from redis_audit.collect.base import CollectContext, Deadline, DeadlineExceeded
from redis_audit.profile import Profile
from redis_audit.snapshot import Fact, FactError, FactErrorKind
from redis_audit.topology import Role

if TYPE_CHECKING:
    from redis_audit.keyspace import CensusOptions

# Leave this much of the run's deadline to the node collectors and the report.
DEADLINE_MARGIN_S = 2.0
# What redis_audit.keyspace sends to the nodes it scans (census.py, scanner.py), for `acl suggest`.
CENSUS_COMMANDS = ("info", "memory|stats", "scan", "type", "pttl", "memory|usage", "object|refcount",
                   "object|encoding", "strlen", "hlen", "scard", "zcard", "llen", "xlen", "readonly")


def census_options(profile: Profile, time_budget_s: float) -> CensusOptions:
    from redis_audit.keyspace import CensusOptions, ScanSettings  # the census imports collect.parse

    ks = profile.keyspace
    prefixes = tuple(dict.fromkeys((*ks.prefixes, *(lim.prefix for lim in profile.limiters))))
    return CensusOptions(
        mode=ks.mode,
        budget=ks.budget,
        prefixes=prefixes,
        ttl_edges_s=ks.ttl_buckets_s,
        read_from_replicas=ks.read_from_replicas,
        time_budget_s=time_budget_s,
        windows=tuple((lim.prefix, lim.window_s) for lim in profile.limiters),
        window_top_bp=ks.refresh_top_bp,
        scan=ScanSettings(slice_budget_us=ks.slice_budget_us, window=ks.requests_in_flight,
                          max_ops_per_s=ks.max_ops_per_s, types=ks.types, type_sample_every=ks.type_sample_every,
                          precise_prefixes=tuple(dict.fromkeys((*ks.limiter_prefixes,
                                                                *(lim.prefix for lim in profile.limiters))))),
    )


class KeyspaceCensusCollector:
    name = "keyspace.census"
    # It scans primaries, or replicas when [keyspace] read_from_replicas says so.
    roles = frozenset({Role.PRIMARY, Role.REPLICA})
    commands: tuple[str, ...] = CENSUS_COMMANDS
    provides: tuple[str, ...] = ("keyspace.census",)

    def applies(self, ctx: CollectContext) -> bool:
        return ctx.profile.keyspace.enabled and bool(ctx.topology.primaries())

    def collect(self, ctx: CollectContext, deadline: Deadline) -> dict[str, Fact]:
        budget = min(float(ctx.profile.keyspace.time_budget_s), deadline.remaining() - DEADLINE_MARGIN_S)
        if budget <= 0:
            raise DeadlineExceeded("no time left in the run's deadline for the keyspace census")
        from redis_audit.keyspace import run_census

        options = dataclasses.replace(census_options(ctx.profile, budget), timeouts=deadline.timeouts(ctx.timeouts))
        result = run_census(ctx.target, ctx.topology, options, deadline=deadline)
        nodes = result.get("nodes")
        failed = [n for n in nodes if isinstance(n, dict) and n.get("failed")] if isinstance(nodes, list) else []
        if failed:  # a node's server failed the census (refused replies, lost, silent): no census to judge
            reasons = "; ".join(f"{n.get('address')}: {n.get('error')}" for n in failed)
            return {self.name: Fact(error=FactError(FactErrorKind.ERROR, self.name, f"the census failed: {reasons}"))}
        return {self.name: Fact(value=result)}
