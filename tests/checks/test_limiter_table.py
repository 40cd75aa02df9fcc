"""RL-00x boundaries over hand-built snapshots and census facts: just under, at and just over each limit,
the profile's traffic model and limits, and a missing census that SKIPs with the reason. The sandbox tests
(test_memory_limiter.py) show the census measures a real keyspace; these pin the comparisons exactly."""

from __future__ import annotations

from typing import Any

import pytest

from redis_audit.model import Finding
from tests.judging import only, snapshot

NODE = "10.0.0.1:6379"


def census(*groups: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"mode": "exact", "groups": list(groups), **more}


def group(pattern: str = "rl:*", keys: int = 100, **more: Any) -> dict[str, Any]:
    return {"pattern": pattern, "keys": keys, "noTtl": 0, "maxTtlMs": 1000, **more}


def primary(info: dict[str, dict[str, str]] | None = None, **config: str) -> dict[str, dict[str, Any]]:
    return {NODE: {"info": info or {}, "config": dict(config)}}


def one(check_id: str, data: dict[str, Any] | None = None, nodes: dict[str, dict[str, Any]] | None = None,
        profile: dict[str, Any] | None = None) -> Finding:
    return only(check_id, snapshot({"keyspace.census": data} if data is not None else None, nodes), profile)


# RL-001: TTLs bounded by twice the window ------------------------------------------------------------------

@pytest.mark.parametrize(("max_ttl_ms", "status"), [(7_199_999, "PASS"), (7_200_000, "PASS"), (7_200_001, "FAIL")])
def test_rl001_ttl_bound_is_twice_the_default_window(max_ttl_ms: int, status: str) -> None:
    finding = one("RL-001", census(group(maxTtlMs=max_ttl_ms)))
    assert (str(finding.status), finding.resource) == (status, "rl:*")
    assert finding.evidence["expected"] == {"withoutTtl": 0, "maxTtlMs": "<= 7200000"}


@pytest.mark.parametrize(("max_ttl_ms", "status"), [(120_000, "PASS"), (120_001, "FAIL")])
def test_rl001_bound_follows_the_limiters_window(max_ttl_ms: int, status: str) -> None:
    profile = {"limiters": [{"name": "api", "prefix": "rl:", "window_s": 60, "algorithm": "sliding-window"}]}
    assert str(one("RL-001", census(group(maxTtlMs=max_ttl_ms)), profile=profile).status) == status


def test_rl001_one_key_without_ttl_fails() -> None:
    finding = one("RL-001", census(group(noTtl=1, noTtlExamples=["rl:x"])))
    assert (str(finding.status), finding.message) == ("FAIL", "1 of 100 keys have no TTL")


def window(share_keys: int, with_ttl: int) -> dict[str, Any]:
    return group(keys=with_ttl, ttlWindow={"windowMs": 60_000, "topBp": 500, "inTop": share_keys, "aboveWindow": 0})


FIXED = {"limiters": [{"name": "api", "prefix": "rl:", "window_s": 60, "algorithm": "fixed-window"}]}


@pytest.mark.parametrize(("in_top", "with_ttl", "status"), [
    (49, 100, "PASS"), (50, 100, "WARN"),  # half of the keys in the top 5% of the window: refreshed per hit
    (49, 49, "PASS"),  # under keyspace.refresh_min_keys (50): too few keys to tell
])
def test_rl001_a_fixed_window_ttl_refreshed_on_every_hit(in_top: int, with_ttl: int, status: str) -> None:
    finding = one("RL-001", census(window(in_top, with_ttl)), profile=FIXED)
    assert str(finding.status) == status
    assert finding.evidence["expected"]["ttlInTopOfWindowBp"] == "< 5000"


def test_rl001_refresh_limit_from_the_profile_and_only_for_fixed_windows() -> None:
    strict = {**FIXED, "keyspace": {"refresh_warn_bp": 2000}}
    assert str(one("RL-001", census(window(20, 100)), profile=strict).status) == "WARN"
    assert str(one("RL-001", census(window(19, 100)), profile=strict).status) == "PASS"
    sliding = {"limiters": [{"name": "api", "prefix": "rl:", "window_s": 60, "algorithm": "sliding-window"}]}
    assert str(one("RL-001", census(window(100, 100)), profile=sliding).status) == "PASS"


def test_rl001_skips_without_limiter_keys_or_without_the_census() -> None:
    finding = one("RL-001", census(group(pattern="cache:*")))
    assert str(finding.status) == "SKIP" and finding.message.startswith("the census found no limiter keys")
    finding = one("RL-001")
    assert str(finding.status) == "SKIP" and finding.message.startswith("cannot verify: keyspace.census")


# RL-002: the projected peak against maxmemory: PASS <= 70%, WARN up to 85%, FAIL above ----------------------

MAXMEMORY = 1_000_000  # one basis point is 100 bytes


def projection(identities: int, **memory: int) -> dict[str, Any]:
    """100 bytes per key (no key measured), one key per identity: the projection is 100 bytes per identity."""
    return {"limiters": [{"name": "api", "prefix": "rl:", "window_s": 60, "peak_identities": identities,
                          "bytes_per_key": 100}], "memory": memory}


def rl002(identities: int, **memory: int) -> Finding:
    nodes = primary({"memory": {"used_memory": "0"}}, maxmemory=str(MAXMEMORY))
    return one("RL-002", census(), nodes, projection(identities, **memory))


@pytest.mark.parametrize(("identities", "status"), [
    (6_999, "PASS"), (7_000, "PASS"), (7_001, "WARN"), (8_500, "WARN"), (8_501, "FAIL"),
])
def test_rl002_boundaries(identities: int, status: str) -> None:
    finding = rl002(identities)
    assert (str(finding.status), finding.evidence["expected"]) == (status, "<= 70% of maxmemory")
    assert finding.evidence["observed"]["utilisationBp"] == identities


@pytest.mark.parametrize(("identities", "status"), [(5_000, "PASS"), (5_001, "WARN"), (6_000, "WARN"),
                                                    (6_001, "FAIL")])
def test_rl002_profile_limits(identities: int, status: str) -> None:
    finding = rl002(identities, projected_pass_pct=50, projected_fail_pct=60)
    assert (str(finding.status), finding.evidence["expected"]) == (status, "<= 50% of maxmemory")


def test_rl002_measured_bytes_per_key_and_the_other_data_count() -> None:
    # 10 limiter keys of 200 bytes measured (not the profile's 100); 100 000 bytes of other data.
    data = census(group(keys=10, correctedBytes=2_000))
    nodes = primary({"memory": {"used_memory": "102000"}}, maxmemory=str(MAXMEMORY))
    finding = one("RL-002", data, nodes, projection(3_000))
    observed = finding.evidence["observed"]
    assert observed["otherBytes"] == 100_000 and observed["limiters"][0]["bytesPerKey"] == 200
    assert observed["projectedPeakBytes"] == 700_000 and str(finding.status) == "PASS"
    assert str(one("RL-002", data, nodes, projection(3_001)).status) == "WARN"


def test_rl002_without_a_model_a_cap_or_the_census() -> None:
    nodes = primary({"memory": {"used_memory": "0"}}, maxmemory=str(MAXMEMORY))
    finding = one("RL-002", census(), nodes)
    assert str(finding.status) == "SKIP" and finding.message.startswith("the profile has no traffic model")
    finding = one("RL-002", census(), primary({"memory": {}}, maxmemory="0"), projection(1))
    assert (str(finding.status), finding.evidence["expected"]) == ("FAIL", "> 0 on every primary")
    finding = one("RL-002", None, nodes, projection(1))
    assert str(finding.status) == "SKIP" and finding.message.startswith("cannot verify: keyspace.census")


# RL-003: expiry ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("stale", "capped", "same_second_bp", "status"), [
    ("9.99", 0, 0, "PASS"), ("10.00", 0, 0, "WARN"), ("0", 1, 0, "WARN"),
    ("0", 0, 2_499, "PASS"), ("0", 0, 2_500, "WARN"),
])
def test_rl003_boundaries(stale: str, capped: int, same_second_bp: int, status: str) -> None:
    nodes = primary({"stats": {"expired_stale_perc": stale, "expired_time_cap_reached_count": str(capped)}})
    data = census(nodes=[{"address": NODE, "maxExpiringSameSecondBp": same_second_bp}])
    finding = one("RL-003", data, nodes)
    assert (str(finding.status), finding.evidence["expected"]) == (status, "stale < 10%, no cap hits")


def test_rl003_judges_info_alone_without_the_census() -> None:
    nodes = primary({"stats": {"expired_stale_perc": "0", "expired_time_cap_reached_count": "0"}})
    assert str(one("RL-003", None, nodes).status) == "PASS"


# RL-004: scripts --------------------------------------------------------------------------------------------

def scripts(cached: int, evals: int = 0, evalsha: int = 0) -> dict[str, dict[str, Any]]:
    return primary({"memory": {"number_of_cached_scripts": str(cached)},
                    "commandstats": {"cmdstat_eval": f"calls={evals},usec=1", "cmdstat_evalsha": f"calls={evalsha}"}})


@pytest.mark.parametrize(("cached", "evals", "evalsha", "status"), [
    (10, 0, 0, "PASS"), (11, 0, 0, "WARN"), (1_000, 0, 0, "WARN"), (1_001, 0, 0, "FAIL"),
    (1, 5, 5, "PASS"), (1, 6, 5, "WARN"),
])
def test_rl004_boundaries(cached: int, evals: int, evalsha: int, status: str) -> None:
    assert str(one("RL-004", None, scripts(cached, evals, evalsha)).status) == status


# RL-005: isolation ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("groups", "keyspace", "policy", "status"), [
    ([group()], {"db0": "keys=100"}, "allkeys-lru", "PASS"),
    ([group(), group("cache:*")], {"db0": "keys=200"}, "allkeys-lru", "WARN"),
    ([group()], {"db0": "keys=100", "db1": "keys=1"}, "allkeys-lru", "WARN"),  # another database holds data
    ([group(), group("cache:*")], {"db0": "keys=200"}, "volatile-ttl", "PASS"),
    ([group("cache:*")], {"db0": "keys=100"}, "allkeys-lru", "SKIP"),
])
def test_rl005_isolation(groups: list[dict[str, Any]], keyspace: dict[str, str], policy: str, status: str) -> None:
    nodes = primary({"keyspace": keyspace}, **{"maxmemory-policy": policy})
    assert str(one("RL-005", census(*groups), nodes).status) == status

