"""A tiny deterministic limiter dataset for sandboxes (the shape of ../shared/bench/load_limiter_keys.py,
scaled down), loaded through the sandbox's admin clients, on every primary of a cluster by slot."""

from __future__ import annotations

from collections.abc import Callable

import redis
from redis.crc import key_slot

from redis_audit.client import Timeouts
from redis_audit.collect.base import Deadline
from redis_audit.discovery import discover
from redis_audit.sandbox import Sandbox, sandbox_target
from redis_audit.target import Target
from redis_audit.topology import Topology


def admin_clients(sb: Sandbox) -> list[redis.Redis]:
    return [sb.admin_client(node) for node in sb.info.nodes_with_role("primary")]


def owner(sb: Sandbox) -> Callable[[str | bytes], redis.Redis]:
    """The admin client of the primary that holds a key."""
    clients = admin_clients(sb)
    if sb.spec.topology != "cluster":
        return lambda key: clients[0]
    by_port = {int(c.connection_pool.connection_kwargs["port"]): c for c in clients}
    ranges = [(int(r[0]), int(r[1]), by_port[int(r[2][1])]) for r in clients[0].execute_command("CLUSTER", "SLOTS")]

    def find(key: str | bytes) -> redis.Redis:
        slot = key_slot(key.encode() if isinstance(key, str) else key)
        return next(c for start, end, c in ranges if start <= slot <= end)

    return find


def target_and_topology(sb: Sandbox, user: str = "auditor") -> tuple[Target, Topology]:
    target = sandbox_target(sb, user)
    return target, discover(target, Timeouts(), Deadline.after(30))


def dbsize(sb: Sandbox) -> int:
    return sum(int(c.dbsize()) for c in admin_clients(sb))


def load(sb: Sandbox, rl: int = 2000, rlz: int = 300, cache: int = 200, no_ttl_every: int = 50) -> set[bytes]:
    """rl:{user}:{window} counters (TTL), rlz:{ip} zsets (every no_ttl_every-th without TTL), cache:* (no TTL).

    Returns the rlz keys left without a TTL.
    """
    immortal: set[bytes] = set()
    find = owner(sb)
    pipes: dict[int, redis.client.Pipeline] = {}

    def pipe(key: str) -> redis.client.Pipeline:
        client = find(key)
        return pipes.setdefault(id(client), client.pipeline(transaction=False))

    for i in range(rl):
        key = f"rl:{1000 + i // 5}:{28_900_000 + i % 5}"
        pipe(key).set(key, i % 120 + 1, ex=60 + (i * 37) % 3540)
    for i in range(rlz):
        key = f"rlz:10.{i // 65536}.{(i // 256) % 256}.{i % 256}"
        p = pipe(key)
        p.zadd(key, {f"{1_734_000_000_000 + j}-{i}": 1_734_000_000_000 + j for j in range(10 + i % 40)})
        if (i + 1) % no_ttl_every:
            p.expire(key, 60 + (i * 53) % 3540)
        else:
            immortal.add(key.encode())
    for i in range(cache):
        key = f"cache:{('user', 'product')[i % 2]}:{10_000_000 + i}"
        pipe(key).set(key, "x" * (200 + i % 800))
    for p in pipes.values():
        p.execute()
    return immortal


def flush(sb: Sandbox) -> None:
    for client in admin_clients(sb):
        client.flushall()
