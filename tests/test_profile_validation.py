"""The profile refuses values no one means (one line: file, key, reason), and no key is a silent no-op."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

import pytest

from redis_audit.model import Status
from redis_audit.profile import Profile, ProfileError, load_profile
from tests.judging import run_check, snapshot

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("toml", "key", "reason"), [
    ("[memory]\nmax_ram_pct = 500", "memory.max_ram_pct", "between 1 and 100"),
    ("[memory]\nutilisation_fail_pct = 0", "memory.utilisation_fail_pct", "between 1 and 100"),
    ("[memory]\nutilisation_warn_pct = 90\nutilisation_fail_pct = 80", "memory.utilisation_warn_pct",
     "must not exceed memory.utilisation_fail_pct"),
    ("[memory]\nprojected_pass_pct = 90", "memory.projected_pass_pct", "must not exceed"),
    ("[memory]\nmax_ram_pct = 60", "memory.max_ram_pct_with_fork", "must not exceed memory.max_ram_pct"),
    ("[[limiters]]\nname = 'api'\nwindow_s = 0", "limiters[0].window_s", "at least 1"),
    ("[[limiters]]\nname = 'api'\nkeys_per_identity = 0", "limiters[0].keys_per_identity", "at least 1"),
    ("[ha]\nlag_warn_s = 20", "ha.lag_warn_s", "must not exceed ha.lag_fail_s"),
    ("[ha]\nbacklog_min_seconds = 0", "ha.backlog_min_seconds", "at least 1"),
    ("[sentinel]\ndown_after_min_ms = 40000", "sentinel.down_after_min_ms", "must not exceed"),
    ("[sentinel]\nmin_sentinels = 0", "sentinel.min_sentinels", "at least 1"),
    ("[cluster]\nhot_shard_warn_bp = 5000", "cluster.hot_shard_warn_bp", "at least 10000"),
    ("[cluster]\nmax_moved_bp = 20000", "cluster.max_moved_bp", "between 0 and 10000"),
    ("[client]\nmax_pool_utilisation_pct = 101", "client.max_pool_utilisation_pct", "between 1 and 100"),
    ("[aws]\nalarm_cpu_pct = 0", "aws.alarm_cpu_pct", "between 1 and 100"),
    ("[latency]\np95_ms = 0", "latency.p95_ms", "at least 1"),
    ("[keyspace]\nmax_window_s = 0", "keyspace.max_window_s", "at least 1"),
    ("[keyspace]\nttl_buckets_s = [300, 60]", "keyspace.ttl_buckets_s", "strictly increasing"),
    ("[tls]\ncert_warn_days = 3", "tls.cert_fail_days", "must not exceed tls.cert_warn_days"),
    ("[security]\nauth_failure_window_s = 0", "security.auth_failure_window_s", "at least 1"),
])
def test_values_no_one_means_are_refused_in_one_line(tmp_path, toml, key, reason):
    path = tmp_path / "p.toml"
    path.write_text(toml + "\n")
    with pytest.raises(ProfileError) as refused:
        load_profile(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: {key}") and reason in message and "\n" not in message


def _keys(cls: type, prefix: str = "") -> typing.Iterator[str]:
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        args = typing.get_args(hint)
        if dataclasses.is_dataclass(hint):
            yield from _keys(typing.cast(type, hint), f"{prefix}{field.name}.")
        elif typing.get_origin(hint) is tuple and args and dataclasses.is_dataclass(args[0]):
            yield f"{prefix}{field.name}"
            yield from _keys(typing.cast(type, args[0]), f"{prefix}{field.name}[].")
        else:
            yield f"{prefix}{field.name}"


# Keys that describe the profile rather than steer a check: recorded in every report's profile values.
DESCRIPTIVE = {"general.description"}


def test_every_profile_key_is_read_by_some_code():
    sources = [p for p in [*ROOT.glob("redis_audit/**/*.py"), *ROOT.glob("checks/**/*.py")]
               if p.name != "profile.py"]
    code = "\n".join(p.read_text(encoding="utf-8") for p in sources)
    unread = []
    for key in _keys(Profile):
        name = key.rsplit(".", 1)[-1]
        if key not in DESCRIPTIVE and not re.search(rf"\.{name}\b|getattr\([^)]*\"{name}\"|\"{name}\"", code):
            unread.append(key)
    assert not unread, f"profile keys no code reads (silent no-ops): {unread}"


def _node(facts: dict) -> dict:
    return {"127.0.0.1:7000": facts}


def test_require_tls_false_turns_tls_001_fails_into_warnings_that_say_so():
    snap = snapshot(nodes=_node({"config": {"port": "7000", "tls-port": "0"},
                                 "probe.plaintext": {"answered": True, "reply": "PONG"}}))
    assert [f.status for f in run_check("TLS-001", snap)] == [Status.FAIL]
    relaxed = run_check("TLS-001", snap, {"security": {"require_tls": False}})
    assert [f.status for f in relaxed] == [Status.WARN]
    assert "not required: security.require_tls = false" in relaxed[0].message


def test_require_auth_false_turns_auth_and_net_fails_into_warnings():
    facts = {"acl.users": {"default": {"flags": ["on", "nopass"], "commands": "+@all"}},
             "probe.unauthenticated": {"accepted": True, "reply": "PONG"}}
    snap = snapshot(nodes=_node(facts))
    for check_id in ("AUTH-001", "NET-002"):
        assert [f.status for f in run_check(check_id, snap)] == [Status.FAIL]
        relaxed = run_check(check_id, snap, {"security": {"require_auth": False}})
        assert [f.status for f in relaxed] == [Status.WARN]
        assert "security.require_auth = false" in relaxed[0].message
