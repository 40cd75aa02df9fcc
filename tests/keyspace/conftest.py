from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.keyspace.servers import Local, start


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Local]:
    local = start(tmp_path)
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    local = start(tmp_path_factory.mktemp("cluster"), count=3, cluster=True)
    try:
        yield local
    finally:
        local.stop()
