"""MEM: the memory cap and the eviction policy."""

from __future__ import annotations

from collections.abc import Iterator

from redis_audit.check import CheckContext
from redis_audit.model import Finding, Severity
from redis_audit.snapshot import NodeSnapshot

from ._facts import as_int
from .pack import PACK


@PACK.check(
    id="MEM-001",
    title="An explicit memory cap (maxmemory) is set",
    severity=Severity.HIGH,
    category="memory",
    verifies="maxmemory is greater than 0 (CONFIG GET, or INFO memory where CONFIG is denied).",
    risk="Without maxmemory the eviction policy never applies: the server grows until the host or the "
    "container kills it.",
    remediation="Set maxmemory below the host's RAM, leaving headroom for forks, buffers and fragmentation "
    "(e.g. CONFIG SET maxmemory 4gb, and persist it in redis.conf).",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/admin/",),
    needs=("config", "info"),
)
def maxmemory_set(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    maxmemory = as_int(node.setting("maxmemory"))
    if maxmemory > 0:
        yield ctx.passed(node, f"maxmemory is {maxmemory} bytes", observed=maxmemory, expected="> 0")
    else:
        yield ctx.failed(node, "maxmemory is 0 (no memory cap)", observed=maxmemory, expected="> 0")


@PACK.check(
    id="MEM-004",
    title="The eviction policy is the one the profile requires",
    severity=Severity.HIGH,
    category="memory",
    verifies="maxmemory-policy equals the profile's memory.eviction_policy (default allkeys-lru), or one "
    "of its accepted alternatives.",
    risk="Under memory pressure, noeviction rejects limiter writes (OOM errors) and volatile-* policies "
    "behave like noeviction when keys lack TTLs; either way the limiter fails at peak.",
    remediation="CONFIG SET maxmemory-policy allkeys-lru (or the policy your decision record names), and "
    "persist it in redis.conf or the parameter group.",
    references=("https://redis.io/docs/latest/develop/reference/eviction/",),
    needs=("config", "info"),
)
def eviction_policy(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    policy = node.setting("maxmemory-policy")
    wanted = ctx.profile.memory.eviction_policy
    accepted = {wanted, *ctx.profile.memory.accepted_eviction_policies}
    if policy in accepted:
        yield ctx.passed(node, f"maxmemory-policy is {policy}", observed=policy, expected=sorted(accepted))
    else:
        yield ctx.failed(node, f"maxmemory-policy is {policy}, the profile requires {wanted}",
                         observed=policy, expected=sorted(accepted))
