"""The one reader for "that object, or nothing" (and its list form), and a node's INFO section built on it:
a malformed part of a fact, a report or an API reply reads as empty instead of raising."""

from __future__ import annotations

import pytest

from redis_audit.jsonvalue import as_object, as_objects
from redis_audit.snapshot import Fact, FactError, FactErrorKind, FactUnavailable, NodeSnapshot
from redis_audit.topology import Address, Role


@pytest.mark.parametrize("value", [None, "text", 3, ["a"], ("k", "v")])
def test_anything_but_an_object_reads_as_empty(value: object) -> None:
    assert as_object(value) == {}


def test_an_object_is_itself() -> None:
    value = {"a": 1}
    assert as_object(value) is value


def test_the_objects_of_a_list_and_nothing_else() -> None:
    assert as_objects([{"a": 1}, "x", None, {"b": 2}]) == [{"a": 1}, {"b": 2}]
    assert as_objects({"a": 1}) == [] and as_objects(None) == []


def node(info: object) -> NodeSnapshot:
    fact = Fact(error=info) if isinstance(info, FactError) else Fact(value=info)  # type: ignore[arg-type]
    return NodeSnapshot(Address("10.0.0.1", 6379), Role.PRIMARY, {"info": fact})


def test_an_info_section_as_text_empty_when_absent_and_unavailable_when_info_is() -> None:
    assert node({"keyspace": {"db0": "keys=3,expires=1"}, "memory": {"used_memory": 5}}).info_section("memory") == \
        {"used_memory": "5"}
    assert node({"keyspace": "garbled"}).info_section("keyspace") == {}
    assert node({}).info_section("keyspace") == {}
    with pytest.raises(FactUnavailable, match="info"):
        node(FactError(FactErrorKind.DENIED, "info", "NOPERM")).info_section("keyspace")
