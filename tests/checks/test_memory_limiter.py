"""MEM and RL checks on a real sandbox: a good and a bad configuration for each."""

from __future__ import annotations

from typing import Any

from redis_audit.report import Report
from redis_audit.sandbox import Sandbox
from tests.helpers import audit as audit_sandbox
from tests.keyspace.data import admin_clients, flush, load

CHECKS = ("MEM-001", "MEM-002", "MEM-003", "MEM-004", "MEM-005", "MEM-006", "MEM-007", "MEM-008", "MEM-009",
          "RL-001", "RL-002", "RL-003", "RL-004", "RL-005")


def statuses(report: Report) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for finding in report.to_json()["findings"]:
        if finding["checkId"] in CHECKS:
            out.setdefault(finding["checkId"], set()).add(finding["status"])
    return out


def audit(sb: Sandbox, **profile: Any) -> dict[str, set[str]]:
    return statuses(audit_sandbox(sb, profile, deadline_s=30))


def configure(sb: Sandbox, **settings: str) -> None:
    for name, value in settings.items():
        admin_clients(sb)[0].config_set(name.replace("_", "-"), value)


MODEL = {"limiters": [{"name": "api", "prefix": "rl:", "window_s": 3600, "peak_identities": 50_000,
                       "keys_per_identity": 5}],
         "keyspace": {"mode": "exact"}}


def test_good_configuration(standalone: Sandbox) -> None:
    load(standalone, no_ttl_every=10**9, cache=0)  # every limiter key has a TTL, no cache data
    configure(standalone, maxmemory="2gb", maxmemory_policy="allkeys-lru", maxmemory_clients="5%")
    found = audit(standalone, **MODEL)
    for check in ("MEM-001", "MEM-003", "MEM-004", "MEM-005", "MEM-006", "MEM-007", "MEM-008", "MEM-009",
                  "RL-001", "RL-002", "RL-003", "RL-004", "RL-005"):
        assert found[check] == {"PASS"}, (check, found[check])
    assert found["MEM-002"] <= {"PASS", "FAIL"}  # depends on this host's RAM: 2 GB may exceed 65% of it


def test_bad_configuration(standalone: Sandbox) -> None:
    immortal = load(standalone)
    assert immortal
    # The policy first: the sandbox's allkeys-lru would evict every key the moment the cap drops to 1 MB.
    configure(standalone, maxmemory_policy="volatile-lru", maxmemory="1mb", maxmemory_clients="0")
    found = audit(standalone, **MODEL)
    assert found["MEM-003"] == {"FAIL"}  # the data is far over a 1 MB cap
    assert found["MEM-004"] == {"FAIL"}  # volatile-lru while limiter keys lack TTLs
    assert found["MEM-008"] == {"WARN"}
    assert found["RL-001"] >= {"FAIL"}  # rlz:* keys without TTL
    assert found["RL-002"] == {"FAIL"}  # 250k limiter keys do not fit in 1 MB
    assert found["RL-005"] == {"WARN"}  # cache keys beside limiter keys under volatile-lru
    configure(standalone, maxmemory="0")
    found = audit(standalone, **MODEL)
    assert found["MEM-001"] == {"FAIL"} and found["MEM-002"] == {"FAIL"} and found["RL-002"] == {"FAIL"}
    assert found["MEM-003"] == {"SKIP"}


def test_volatile_lru_passes_when_every_limiter_key_has_a_ttl(standalone: Sandbox) -> None:
    load(standalone, no_ttl_every=10**9)
    configure(standalone, maxmemory="2gb", maxmemory_policy="volatile-lru")
    found = audit(standalone, memory={"accepted_eviction_policies": ["volatile-lru"]}, **MODEL)
    assert found["MEM-004"] == {"PASS"}


def test_rl002_reports_the_largest_traffic_the_cap_carries(standalone: Sandbox) -> None:
    load(standalone, cache=0)
    configure(standalone, maxmemory="32mb")
    report = audit_sandbox(standalone, MODEL, deadline_s=30).to_json()
    rl002 = next(f for f in report["findings"] if f["checkId"] == "RL-002")
    observed = rl002["evidence"]["observed"]
    limiter = observed["limiters"][0]
    assert limiter["bytesPerKeySource"] == "measured" and limiter["bytesPerKey"] > 72
    # The cap carries fewer identities than the model's peak: 250k keys x ~125 B > 70% of 32 MB.
    assert 0 < limiter["maxPeakIdentities"] < 50_000
    assert rl002["status"] == "FAIL"


WINDOW_S = 600


def fixed_window_model(algorithm: str = "fixed-window", mode: str = "exact") -> dict[str, Any]:
    return {"limiters": [{"name": "api", "prefix": "rl:", "window_s": WINDOW_S, "algorithm": algorithm,
                          "peak_identities": 1000}],
            "keyspace": {"mode": mode}}


def load_counters(sb: Sandbox, refreshed: bool, count: int = 400) -> None:
    """Fixed-window counters: with the TTL set once at the window's first hit, the remaining TTLs spread
    over the whole window; with EXPIRE repeated on every hit, they all sit at its top."""
    pipe = admin_clients(sb)[0].pipeline(transaction=False)
    for i in range(count):
        ttl = WINDOW_S if refreshed else 30 + (i * 7919) % (WINDOW_S - 29)  # none expires during the test
        pipe.set(f"rl:{1000 + i}:29000000", i % 50 + 1, ex=ttl)
    pipe.execute()


def rl001(sb: Sandbox, model: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in audit_sandbox(sb, model, deadline_s=30).to_json()["findings"] if f["checkId"] == "RL-001"]


def test_rl001_warns_when_a_fixed_window_ttl_is_refreshed_on_every_hit(standalone: Sandbox) -> None:
    load_counters(standalone, refreshed=False)
    [once] = rl001(standalone, fixed_window_model())
    window = once["evidence"]["observed"]["ttlWindow"]
    assert once["status"] == "PASS"
    assert window["keysWithTtl"] == 400 and window["windowMs"] == WINDOW_S * 1000 and window["topBp"] == 500
    assert window["inTop"] < 40 and window["aboveWindow"] == 0  # about 5% of evenly spread TTLs

    flush(standalone)
    load_counters(standalone, refreshed=True)
    [refreshed] = rl001(standalone, fixed_window_model())
    window = refreshed["evidence"]["observed"]["ttlWindow"]
    assert refreshed["status"] == "WARN", refreshed["message"]
    assert window["inTop"] == window["keysWithTtl"] == 400 and window["shareBp"] == 10_000
    assert "refreshed on every hit" in refreshed["message"]
    # The sampled census (a run's default) sees it too.
    [sampled] = rl001(standalone, fixed_window_model(mode="sampled"))
    assert sampled["status"] == "WARN"
    # A sliding window or a token bucket is meant to refresh its TTL on every write.
    [sliding] = rl001(standalone, fixed_window_model(algorithm="sliding-window"))
    assert sliding["status"] == "PASS" and "ttlWindow" not in sliding["evidence"]["observed"]
