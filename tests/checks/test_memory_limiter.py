"""MEM and RL checks on a real local server: a good and a bad configuration for each."""

from __future__ import annotations

from typing import Any

from redis_audit.audit import AuditOptions, run_audit
from redis_audit.profile import profile_from_mapping
from redis_audit.report import Report
from tests.keyspace.servers import Local, load

CHECKS = ("MEM-001", "MEM-002", "MEM-003", "MEM-004", "MEM-005", "MEM-006", "MEM-007", "MEM-008", "MEM-009",
          "RL-001", "RL-002", "RL-003", "RL-004", "RL-005")


def statuses(report: Report) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for finding in report.to_json()["findings"]:
        if finding["checkId"] in CHECKS:
            out.setdefault(finding["checkId"], set()).add(finding["status"])
    return out


def audit(local: Local, **profile: Any) -> dict[str, set[str]]:
    options = AuditOptions(profile_from_mapping(profile), deadline_s=30)
    return statuses(run_audit(local.target(), options))


def configure(local: Local, **settings: str) -> None:
    for name, value in settings.items():
        local.admin().config_set(name.replace("_", "-"), value)


MODEL = {"limiters": [{"name": "api", "prefix": "rl:", "window_s": 3600, "peak_identities": 50_000,
                       "keys_per_identity": 5}],
         "keyspace": {"mode": "exact"}}


def test_good_configuration(server: Local) -> None:
    load(server, no_ttl_every=10**9, cache=0)  # every limiter key has a TTL, no cache data
    configure(server, maxmemory="2gb", maxmemory_policy="allkeys-lru", maxmemory_clients="5%")
    found = audit(server, **MODEL)
    for check in ("MEM-001", "MEM-003", "MEM-004", "MEM-005", "MEM-006", "MEM-007", "MEM-008", "MEM-009",
                  "RL-001", "RL-002", "RL-003", "RL-004", "RL-005"):
        assert found[check] == {"PASS"}, (check, found[check])
    assert found["MEM-002"] <= {"PASS", "FAIL"}  # depends on this host's RAM: 2 GB may exceed 65% of it


def test_bad_configuration(server: Local) -> None:
    immortal = load(server)
    assert immortal
    configure(server, maxmemory="1mb", maxmemory_policy="volatile-lru", maxmemory_clients="0")
    found = audit(server, **MODEL)
    assert found["MEM-003"] == {"FAIL"}  # the data is far over a 1 MB cap
    assert found["MEM-004"] == {"FAIL"}  # volatile-lru while limiter keys lack TTLs
    assert found["MEM-008"] == {"WARN"}
    assert found["RL-001"] >= {"FAIL"}  # rlz:* keys without TTL
    assert found["RL-002"] == {"FAIL"}  # 250k limiter keys do not fit in 1 MB
    assert found["RL-005"] == {"WARN"}  # cache keys beside limiter keys under volatile-lru
    configure(server, maxmemory="0")
    found = audit(server, **MODEL)
    assert found["MEM-001"] == {"FAIL"} and found["MEM-002"] == {"FAIL"} and found["RL-002"] == {"FAIL"}
    assert found["MEM-003"] == {"SKIP"}


def test_volatile_lru_passes_when_every_limiter_key_has_a_ttl(server: Local) -> None:
    load(server, no_ttl_every=10**9)
    configure(server, maxmemory="2gb", maxmemory_policy="volatile-lru")
    found = audit(server, memory={"accepted_eviction_policies": ["volatile-lru"]}, **MODEL)
    assert found["MEM-004"] == {"PASS"}


def test_rl002_reports_the_largest_traffic_the_cap_carries(server: Local) -> None:
    load(server, cache=0)
    configure(server, maxmemory="32mb")
    options = AuditOptions(profile_from_mapping(MODEL), deadline_s=30)
    report = run_audit(server.target(), options).to_json()
    rl002 = next(f for f in report["findings"] if f["checkId"] == "RL-002")
    observed = rl002["evidence"]["observed"]
    limiter = observed["limiters"][0]
    assert limiter["bytesPerKeySource"] == "measured" and limiter["bytesPerKey"] > 72
    # The cap carries fewer identities than the model's peak: 250k keys x ~125 B > 70% of 32 MB.
    assert 0 < limiter["maxPeakIdentities"] < 50_000
    assert rl002["status"] == "FAIL"
