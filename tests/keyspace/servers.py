"""Local redis-server processes on free loopback ports, until the sandbox lands on main.

Started with --save '' and stopped by PID; never port 6379. A tiny deterministic limiter
dataset (the shape of ../shared/bench/load_limiter_keys.py, scaled down) is loaded through
a plain admin client.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from redis_audit.target import Target
from redis_audit.topology import Address, DeploymentKind, Node, Role, Topology

SERVER = shutil.which("redis-server") or "redis-server"


def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port != 6379 and port + 10000 < 65536:
            return port


@dataclass
class Local:
    ports: list[int]
    pids: list[int] = field(default_factory=list)
    cluster: bool = False

    clients: dict[int, redis.Redis] = field(default_factory=dict)

    def admin(self, index: int = 0) -> redis.Redis:
        if index not in self.clients:
            self.clients[index] = redis.Redis(port=self.ports[index])
        return self.clients[index]

    def target(self) -> Target:
        return Target(kind="redis", seeds=(Address("127.0.0.1", self.ports[0]),))

    def topology(self) -> Topology:
        kind = DeploymentKind.CLUSTER if self.cluster else DeploymentKind.STANDALONE
        return Topology(kind, nodes=tuple(Node(Address("127.0.0.1", p), Role.PRIMARY) for p in self.ports))

    def stop(self) -> None:
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def start(tmp: Path, count: int = 1, cluster: bool = False) -> Local:
    local = Local([free_port() for _ in range(count)], cluster=cluster)
    for port in local.ports:
        args = [SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(tmp)]
        if cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf"]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        local.pids.append(proc.pid)
    for i in range(count):
        _wait(lambda i=i: local.admin(i).ping())
    if cluster:
        slots = 16384 // count
        for i in range(count):
            end = 16383 if i == count - 1 else (i + 1) * slots - 1
            local.admin(i).execute_command("CLUSTER", "ADDSLOTSRANGE", i * slots, end)
            if i:
                local.admin(i).execute_command("CLUSTER", "MEET", "127.0.0.1", local.ports[0])
        _wait(lambda: all(local.admin(i).execute_command("CLUSTER", "INFO").decode().count("cluster_state:ok")
                          for i in range(count)))
    return local


def _wait(probe: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if probe():  # type: ignore[operator]
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("local redis-server did not become ready")
        time.sleep(0.05)


def load(local: Local, rl: int = 2000, rlz: int = 300, cache: int = 200, no_ttl_every: int = 50) -> set[bytes]:
    """rl:{user}:{window} counters (TTL), rlz:{ip} zsets (every no_ttl_every-th without TTL), cache:* (no TTL).

    Returns the rlz keys left without a TTL.
    """
    immortal: set[bytes] = set()

    def client_for(key: str) -> redis.Redis:
        if not local.cluster:
            return local.admin(0)
        slot = int(local.admin(0).execute_command("CLUSTER", "KEYSLOT", key))
        index = min(slot // (16384 // len(local.ports)), len(local.ports) - 1)
        return local.admin(index)

    pipes: dict[int, redis.client.Pipeline] = {}

    def pipe(key: str) -> redis.client.Pipeline:
        c = client_for(key)
        return pipes.setdefault(id(c), c.pipeline(transaction=False))

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
