"""A batch of keys under measurement, and packing their per-key commands."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis_audit.keyspace.wire import as_int

UNKNOWN_TYPE = b""  # a key whose TYPE was not asked (types by sampling)
TYPE_ONLY = (((b"TYPE",), ()),)


@dataclass
class Batch:
    """Keys measured together and folded together, whole: one exact slice, or one sampled batch of units."""

    keys: list[bytes]
    types: list[Any]
    pttls: list[Any]
    sizes: list[Any]
    after: int = 0  # exact: the cursor after this slice
    units: list[int] | None = None  # sampled: each unit's key count, in order
    typed: list[int] | None = None  # types by sampling: the indices whose TYPE belongs to the uniform sample
    elements: dict[int, int] = field(default_factory=dict)  # index -> element count, for big values
    # index -> bytes to add to the key's corrected size (negative: a shared value, for the keys it stands for)
    adjust: dict[int, int] = field(default_factory=dict)
    waiting: int = 0  # its requests not answered yet


def blank(n: int) -> tuple[list[Any], list[Any], list[Any]]:
    """A batch's types, PTTLs and sizes before the replies are in."""
    return [UNKNOWN_TYPE] * n, [None] * n, [None] * n


def sizes_into(batch: Batch, group: list[tuple[int, int]]) -> Callable[[list[Any]], None]:
    """A handler that puts MEMORY USAGE replies for group's (index, samples) into batch.sizes."""

    def take(replies: list[Any]) -> None:
        for (i, _), reply in zip(group, replies, strict=True):
            size = as_int(reply)
            if size is not None:
                batch.sizes[i] = size
    return take


