"""MEM-00x boundaries over hand-built snapshots: just under, at and just over each limit, the profile's own
limits, and a missing fact that SKIPs with the reason. The sandbox tests (test_memory_limiter.py) show the
facts are read from a real server; these pin the comparisons exactly."""

from __future__ import annotations

from typing import Any

import pytest

from redis_audit.snapshot import FactError, FactErrorKind
from tests.judging import only, snapshot

NODE = "10.0.0.1:6379"
MB = 1 << 20
DENIED = FactError(FactErrorKind.DENIED, "config|get", "NOPERM this user has no permissions")


def node(info: dict[str, dict[str, str]] | None = None, config: dict[str, str] | FactError | None = None,
         **facts: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, Any] = dict(facts)
    if info is not None:
        found["info"] = info
    if config is not None:
        found["config"] = config
    return {NODE: found}


def judged(check_id: str, nodes: dict[str, dict[str, Any]], profile: dict[str, Any] | None = None,
           census: dict[str, Any] | None = None) -> tuple[str, str, Any]:
    """(status, message, expected) of the check's one finding."""
    finding = only(check_id, snapshot({"keyspace.census": census} if census is not None else None, nodes), profile)
    return str(finding.status), finding.message, finding.evidence.get("expected")


# MEM-001 -------------------------------------------------------------------------------------------------

def test_mem001_a_cap_of_one_byte_passes_zero_fails() -> None:
    assert judged("MEM-001", node({}, {"maxmemory": "1"}))[:2] == ("PASS", "maxmemory is 1 bytes")
    assert judged("MEM-001", node({}, {"maxmemory": "0"})) == ("FAIL", "maxmemory is 0 (no memory cap)", "> 0")


def test_mem001_reads_info_where_config_is_denied_and_skips_without_either() -> None:
    from_info = node({"memory": {"maxmemory": "4096"}}, DENIED)
    assert judged("MEM-001", from_info)[:2] == ("PASS", "maxmemory is 4096 bytes")
    status, message, _ = judged("MEM-001", node(config=DENIED))
    assert status == "SKIP" and message.startswith("cannot verify: info: INFO: not-collected")


# MEM-002: maxmemory against the host's RAM, 90% (65% when the node forks) ---------------------------------

RAM = 1_000_000  # bytes: one basis point is 100 bytes


def host(maxmemory: int, forks: bool = False) -> dict[str, dict[str, Any]]:
    return node({"memory": {"total_system_memory": str(RAM)},
                 "persistence": {"aof_enabled": "1" if forks else "0"},
                 "replication": {"connected_slaves": "0"}},
                {"maxmemory": str(maxmemory), "save": ""})


@pytest.mark.parametrize(("maxmemory", "forks", "status", "expected"), [
    (899_900, False, "PASS", "<= 90%"), (900_000, False, "PASS", "<= 90%"), (900_100, False, "FAIL", "<= 90%"),
    (649_900, True, "PASS", "<= 65%"), (650_000, True, "PASS", "<= 65%"), (650_100, True, "FAIL", "<= 65%"),
])
def test_mem002_boundaries(maxmemory: int, forks: bool, status: str, expected: str) -> None:
    assert judged("MEM-002", host(maxmemory, forks))[::2] == (status, expected)


def test_mem002_message_names_the_forks_and_the_limit() -> None:
    assert judged("MEM-002", host(650_100, forks=True))[1] == \
        "maxmemory is 65.0% of the host's RAM, limit 65% (the node forks: aof)"


def test_mem002_profile_limits_and_what_cannot_be_judged() -> None:
    assert judged("MEM-002", host(500_100, True), {"memory": {"max_ram_pct_with_fork": 50}})[::2] == \
        ("FAIL", "<= 50%")
    assert judged("MEM-002", host(500_000, True), {"memory": {"max_ram_pct_with_fork": 50}})[0] == "PASS"
    status, message, expected = judged("MEM-002", host(0))
    assert (status, expected) == ("FAIL", f"<= 90% of {RAM} bytes") and "maxmemory is 0" in message
    no_ram = node({"memory": {}}, {"maxmemory": "100"})
    assert judged("MEM-002", no_ram)[:2] == \
        ("SKIP", "the server does not report total_system_memory (managed service or container)")


# MEM-003: used_memory / maxmemory: PASS < 70%, WARN up to 80%, FAIL above ---------------------------------

def used(used_memory: int, maxmemory: int = 1_000_000) -> dict[str, dict[str, Any]]:
    return node({"memory": {"used_memory": str(used_memory)}}, {"maxmemory": str(maxmemory)})


@pytest.mark.parametrize(("used_memory", "status"), [
    (699_900, "PASS"), (700_000, "WARN"), (700_100, "WARN"), (799_900, "WARN"), (800_000, "WARN"),
    (800_100, "FAIL"),
])
def test_mem003_boundaries(used_memory: int, status: str) -> None:
    found, message, expected = judged("MEM-003", used(used_memory))
    # Every status states what passes (a FAIL used to state the fail limit, "<= 80%", instead).
    assert (found, expected) == (status, "< 70%")
    assert message == f"used_memory is {used_memory / 10_000:.1f}% of maxmemory"


@pytest.mark.parametrize(("used_memory", "status"), [(499_900, "PASS"), (500_000, "WARN"), (600_000, "WARN"),
                                                     (600_100, "FAIL")])
def test_mem003_profile_limits(used_memory: int, status: str) -> None:
    profile = {"memory": {"utilisation_warn_pct": 50, "utilisation_fail_pct": 60}}
    assert judged("MEM-003", used(used_memory), profile)[::2] == (status, "< 50%")


def test_mem003_skips_without_a_cap() -> None:
    assert judged("MEM-003", used(10, maxmemory=0))[:2] == \
        ("SKIP", "maxmemory is 0: utilisation has no cap to compare with (see MEM-001)")


# MEM-004: the eviction policy ---------------------------------------------------------------------------

def policy(name: str) -> dict[str, dict[str, Any]]:
    return node({}, {"maxmemory-policy": name})


def test_mem004_the_profiles_policy_and_its_accepted_alternatives() -> None:
    assert judged("MEM-004", policy("allkeys-lru")) == ("PASS", "maxmemory-policy is allkeys-lru", ["allkeys-lru"])
    assert judged("MEM-004", policy("noeviction")) == \
        ("FAIL", "maxmemory-policy is noeviction, the profile requires allkeys-lru", ["allkeys-lru"])
    accepted = {"memory": {"accepted_eviction_policies": ["volatile-ttl"]}}
    assert judged("MEM-004", policy("volatile-ttl"), accepted)[::2] == ("PASS", ["allkeys-lru", "volatile-ttl"])
    assert judged("MEM-004", policy("allkeys-lfu"), {"memory": {"eviction_policy": "allkeys-lfu"}})[0] == "PASS"


def test_mem004_a_volatile_policy_fails_when_one_limiter_key_has_no_ttl() -> None:
    accepted = {"memory": {"accepted_eviction_policies": ["volatile-lru"]}}
    census = {"groups": [{"pattern": "rl:*", "keys": 10, "noTtl": 1, "noTtlExamples": ["rl:a"]}]}
    status, message, expected = judged("MEM-004", policy("volatile-lru"), accepted, census)
    assert (status, expected) == ("FAIL", "allkeys-lru, or TTLs on every limiter key")
    assert "1 limiter key have no TTL" in message
    census["groups"][0]["noTtl"] = 0
    assert judged("MEM-004", policy("volatile-lru"), accepted, census)[0] == "PASS"
    assert judged("MEM-004", policy("volatile-lru"), accepted)[0] == "PASS"  # no census: the policy alone


# MEM-005: evictions ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("evicted", "exceeded", "status"), [(0, 0, "PASS"), (1, 0, "WARN"), (0, 1, "FAIL"),
                                                             (5, 1, "FAIL")])
def test_mem005_boundaries(evicted: int, exceeded: int, status: str) -> None:
    stats = {"evicted_keys": str(evicted), "current_eviction_exceeded_time": str(exceeded)}
    assert judged("MEM-005", node({"stats": stats}))[::2] == (status, 0)


# MEM-006: fragmentation ---------------------------------------------------------------------------------

def memory(ratio: str, used_bytes: int, excess: int = 0, allocator: str = "1.0", allocator_bytes: int = 0,
           peak: int | None = None) -> dict[str, dict[str, Any]]:
    return node({"memory": {"mem_fragmentation_ratio": ratio, "mem_fragmentation_bytes": str(excess),
                            "allocator_frag_ratio": allocator, "allocator_frag_bytes": str(allocator_bytes),
                            "used_memory": str(used_bytes), "used_memory_peak": str(peak or used_bytes)}})


@pytest.mark.parametrize(("facts", "status"), [
    (memory("3.0", 5 * MB - 1, excess=50 * MB), "PASS"),  # under 5 MB the ratios are the baseline RSS
    (memory("1.4", 100 * MB, excess=50 * MB), "PASS"),
    (memory("1.41", 100 * MB, excess=10 * MB), "PASS"),  # over the ratio, but only 10 MB of excess
    (memory("1.41", 100 * MB, excess=10 * MB + 1), "WARN"),
    (memory("1.0", 100 * MB, allocator="1.1", allocator_bytes=50 * MB), "PASS"),
    (memory("1.0", 100 * MB, allocator="1.11", allocator_bytes=10 * MB + 1), "WARN"),
    (memory("1.0", 100 * MB, peak=150 * MB), "PASS"),  # peak exactly 1.5x
    (memory("1.0", 100 * MB, peak=150 * MB + 1), "WARN"),
    (memory("0.99", 64 * MB, excess=0), "PASS"),  # a small dataset under 1.0 is not swapping
    (memory("0.99", 64 * MB + 1, excess=0), "FAIL"),
])
def test_mem006_boundaries(facts: dict[str, dict[str, Any]], status: str) -> None:
    assert judged("MEM-006", facts)[::2] == (status, "1.0-1.4")


def test_mem006_skips_without_the_ratio() -> None:
    assert judged("MEM-006", node({"memory": {}}))[:2] == ("SKIP", "INFO memory has no mem_fragmentation_ratio")


# MEM-007: swap --------------------------------------------------------------------------------------------

def test_mem007_one_kilobyte_of_swap_fails_and_a_remote_node_skips_with_why() -> None:
    assert judged("MEM-007", node(**{"host.swap": {"swapKb": 0}})) == \
        ("PASS", "no page of the server is swapped out", 0)
    assert judged("MEM-007", node(**{"host.swap": {"swapKb": 1}})) == \
        ("FAIL", "1 kB of the server's memory is swapped out", 0)
    remote = FactError(FactErrorKind.UNSUPPORTED, "host.swap", "the node does not run on this host")
    status, message, _ = judged("MEM-007", node(**{"host.swap": remote}))
    assert status == "SKIP" and "the node does not run on this host" in message


# MEM-008: client buffers ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("buffers", "limit", "status", "expected"), [
    (100 * 200 * 1024, "5%", "PASS", "set"),
    (100 * 200 * 1024 + 100, "5%", "WARN", "< 200 KB"),  # 200 KB and one byte per client on average
    (0, "0", "WARN", "e.g. 5%"), (0, "0%", "WARN", "e.g. 5%"),
    (0, None, "INFO", "maxmemory-clients set"),  # before 7.0 the parameter does not exist
])
def test_mem008_boundaries(buffers: int, limit: str | None, status: str, expected: str) -> None:
    config = {} if limit is None else {"maxmemory-clients": limit}
    facts = node({"clients": {"connected_clients": "100"}, "memory": {"mem_clients_normal": str(buffers)}}, config)
    assert judged("MEM-008", facts)[::2] == (status, expected)


# MEM-009: big keys ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "status"), [
    ({"type": "string", "bytes": 100 * 1024}, "PASS"), ({"type": "string", "bytes": 100 * 1024 + 1}, "WARN"),
    ({"type": "hash", "elements": 5000}, "PASS"), ({"type": "hash", "elements": 5001}, "WARN"),
    ({"type": "zset", "elements": 1000}, "PASS"), ({"type": "zset", "elements": 1001}, "WARN"),
])
def test_mem009_boundaries(key: dict[str, Any], status: str) -> None:
    census = {"bigKeys": {"count": 1, "examples": [{"key": "k", **key}]}}
    finding = only("MEM-009", snapshot({"keyspace.census": census}))
    assert str(finding.status) == status


def test_mem009_skips_without_the_census() -> None:
    finding = only("MEM-009", snapshot())
    assert str(finding.status) == "SKIP" and finding.message.startswith("cannot verify: keyspace.census")
