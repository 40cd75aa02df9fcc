"""AWS control plane: memory settings from the parameter group (CONFIG is denied on the service)."""

from __future__ import annotations

from collections.abc import Iterator

from redis_audit.check import CheckContext
from redis_audit.model import Finding

from ._aws import extend, managed, parameter


@extend("MEM-004")
def eviction_policy_parameter(ctx: CheckContext) -> Iterator[Finding]:
    m = managed(ctx)
    if m.serverless:
        yield ctx.skipped(m.arn, "serverless caches have no parameter group; the wire check reads INFO")
        return
    group, policy = parameter(ctx, "maxmemory-policy")
    wanted = ctx.profile.memory.eviction_policy
    accepted = sorted({wanted, *ctx.profile.memory.accepted_eviction_policies})
    observed = {"parameterGroup": group, "maxmemory-policy": policy}
    if policy in accepted:
        yield ctx.passed(m.arn, f"parameter group {group} sets maxmemory-policy {policy}", observed=observed,
                         expected=accepted)
    else:
        yield ctx.failed(m.arn, f"parameter group {group} sets maxmemory-policy {policy}, the profile requires "
                         f"{wanted}", observed=observed, expected=accepted)


@extend("MEM-002")
def reserved_memory(ctx: CheckContext) -> Iterator[Finding]:
    m = managed(ctx)
    if m.serverless:
        yield ctx.skipped(m.arn, "serverless caches manage memory headroom themselves")
        return
    group, percent = parameter(ctx, "reserved-memory-percent")
    _, absolute = parameter(ctx, "reserved-memory")
    wanted = ctx.profile.aws.min_reserved_memory_pct
    observed = {"parameterGroup": group, "reserved-memory-percent": percent, "reserved-memory": absolute}
    pct = int(percent) if percent and percent.isdigit() else None
    if pct is not None and pct >= wanted:
        yield ctx.passed(m.arn, f"reserved-memory-percent is {pct}", observed=observed, expected=f">= {wanted}")
    elif absolute and absolute.isdigit() and int(absolute) > 0:
        yield ctx.warned(m.arn, f"reserved-memory is {absolute} bytes (absolute): compare it with the node size",
                         observed=observed, expected=f"reserved-memory-percent >= {wanted}")
    elif pct is None and absolute is None:
        yield ctx.skipped(m.arn, f"parameter group {group} has neither reserved-memory-percent nor reserved-memory")
    else:
        yield ctx.failed(m.arn, f"reserved-memory-percent is {percent}, needs {wanted}", observed=observed,
                         expected=f">= {wanted}")
