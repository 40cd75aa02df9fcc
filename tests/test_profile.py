"""Profiles: the rollout's numbers by default, every value overridable, bad input named precisely."""

import pytest

from redis_audit.profile import ProfileError, default_profile, load_profile


def test_defaults_are_the_rollout_numbers():
    profile = default_profile()
    assert profile.memory.eviction_policy == "allkeys-lru"
    assert profile.latency.p95_ms == 10
    assert profile.client.max_pool_utilisation_pct == 80
    assert profile.client.max_connect_timeout_ms == 100
    assert profile.client.max_read_timeout_ms == 200
    assert profile.security.require_tls and profile.security.require_auth


def test_override_from_file(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[general]\nname = "strict"\n[memory]\neviction_policy = "volatile-ttl"\n')
    profile = load_profile(path)
    assert profile.name == "strict" and profile.memory.eviction_policy == "volatile-ttl"
    assert profile.digest() != default_profile().digest()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[memory]\nevict = 1\n", "memory.evict: unknown key"),
        ("[latency]\np95_ms = 'fast'\n", "latency.p95_ms: expected int"),
        ("[latency]\np95_ms = -1\n", "latency.p95_ms: must not be negative"),
        ("[general]\nblocking_severities = ['dire']\n", "unknown severity 'dire'"),
        ("[keyspace]\nrequests_in_flight = 0\n", "keyspace.requests_in_flight: must be at least 1"),
        ("[nonsense]\n", "nonsense: unknown key"),
        ("[memory\n", "not valid TOML"),
    ],
)
def test_bad_profiles_name_file_key_and_reason(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert str(path) in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_profile_file(tmp_path):
    with pytest.raises(ProfileError, match="no such profile file"):
        load_profile(tmp_path / "absent.toml")
