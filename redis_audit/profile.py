"""Profiles: the thresholds and expectations an audit judges against, as typed TOML.

The defaults are the rollout's numbers. Every value can be overridden in a TOML file whose
tables match the section dataclasses below; an unknown key or a bad value is a ProfileError
naming the file, the key and the reason.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from redis_audit.exitcodes import UsageError
from redis_audit.facts.versions import parse_version
from redis_audit.jsonvalue import JsonObject
from redis_audit.model import Severity

RETRY_BACKOFFS = ("none", "constant", "exponential")


class ProfileError(UsageError):
    """A profile file that cannot be used: one line naming file, key and reason."""


@dataclass(frozen=True)
class GeneralSection:
    name: str = "default"
    description: str = "The rollout's production-readiness defaults"
    # Findings that FAIL at these severities block promotion.
    blocking_severities: tuple[str, ...] = ("critical", "high")
    # These checks must run and pass or fail; a SKIP or ERROR makes the verdict not READY.
    required_checks: tuple[str, ...] = ("AUDIT-001", "AUTH-001", "TLS-001", "MEM-001", "MEM-004", "HA-001")
    # An ERROR in a check of blocking severity makes the verdict INCONCLUSIVE.
    fail_on_error: bool = True
    disabled_checks: tuple[str, ...] = ()
    severity_overrides: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MemorySection:
    eviction_policy: str = "allkeys-lru"
    accepted_eviction_policies: tuple[str, ...] = ()  # alternatives the team signed off (e.g. volatile-ttl)
    max_ram_pct: int = 90  # MEM-002: maxmemory against the host's RAM
    max_ram_pct_with_fork: int = 65  # MEM-002: with replicas or persistence (a fork can double pages)
    utilisation_warn_pct: int = 70  # MEM-003
    utilisation_fail_pct: int = 80
    projected_pass_pct: int = 70  # RL-002: projected peak against maxmemory
    projected_fail_pct: int = 85


@dataclass(frozen=True)
class HaSection:
    min_replicas_per_primary: int = 1
    require_sentinel_or_cluster: bool = True  # the rollout: "HA via Sentinel or Cluster"
    # Failure domains (HA-003, SEN-001): "host:port" or "host" -> zone. Without it, and without
    # Valkey's availability-zone, the host is the failure domain.
    host_zones: dict[str, str] = field(default_factory=dict)
    lag_warn_s: int = 1  # HA-002: replica lag above this warns ...
    lag_fail_s: int = 10  # ... and above this fails (the default min-replicas-max-lag)
    # HA-005: a non-empty reason records the decision to run without min-replicas-to-write.
    min_replicas_to_write_waiver: str = ""
    backlog_min_seconds: int = 60  # HA-006: the backlog must hold this many seconds of writes
    write_rate_sample_ms: int = 500  # HA-006: how long the write rate is measured on each primary
    # HA-007: containers and orchestrators restart a process without INFO process_supervised saying so.
    assume_auto_restart: bool = True


@dataclass(frozen=True)
class SecuritySection:
    # false: the check's FAILs become WARNs that say so (TLS-001; AUTH-001/002/004, NET-002): a recorded decision.
    require_tls: bool = True
    require_auth: bool = True
    engine_min_version: str = "6.0"  # SEC-002 fails below: no ACL, no TLS
    # SEC-002 warns below the organisation's baseline, per engine (INFO server_name / valkey_version).
    engine_baselines: dict[str, str] = field(default_factory=lambda: {"redis": "7.0", "valkey": "7.2"})
    auth_failure_window_s: int = 3600  # AUTH-003: ACL LOG auth entries younger than this count


@dataclass(frozen=True)
class LatencySection:
    p95_ms: int = 10  # Redis P95 from the app pods (LAT-001); also the SLO for LAT-003/LAT-004
    server_p99_us: int = 1000  # LAT-002: server-side P99 of the limiter commands
    limiter_commands: tuple[str, ...] = ("evalsha", "evalsha_ro", "eval", "fcall", "incr", "get", "set")
    # The probe's commands. SET and EVALSHA write (a reserved key with a TTL): they are left out
    # unless allow_writes is true.
    commands: tuple[str, ...] = ("ping", "get", "set", "evalsha")
    allow_writes: bool = False
    rate_hz: int = 50  # `probe latency` defaults: low, so the probe never queues behind itself
    duration_ms: int = 30_000
    connections: int = 1
    # The short probe `run` makes from the audit host (fact latency.local); ≤ ~2 s of a run.
    local_probe: bool = True
    local_rate_hz: int = 100
    local_duration_ms: int = 1_000  # 100 samples at 100 Hz: enough for a bounded P95 (72 needed)


@dataclass(frozen=True)
class ClientSection:
    """The application's client settings, as deployed, and the limits they must meet."""

    max_connect_timeout_ms: int = 100
    max_read_timeout_ms: int = 200
    max_pool_utilisation_pct: int = 80
    # As deployed (None: not declared, and the checks that need it SKIP saying which key to set).
    # Timeouts: 0 means none (wait forever).
    connect_timeout_ms: int | None = None  # redis-py socket_connect_timeout, Lettuce connectTimeout
    read_timeout_ms: int | None = None  # redis-py socket_timeout, Lettuce command timeout
    pool_size: int | None = None  # max connections per pod (per node for cluster clients)
    pods: int | None = None  # application instances at peak
    client_name: str | None = None  # the CLIENT SETNAME the application uses
    retry_max_attempts: int | None = None
    retry_backoff: str | None = None  # "none", "constant" or "exponential"
    retry_jitter: bool | None = None
    retry_backoff_cap_ms: int | None = None
    request_budget_ms: int | None = None  # the time a request may spend on Redis, retries included
    idle_eviction_s: int | None = None  # the pool closes connections idle this long (0: never)
    health_check_interval_s: int | None = None  # 0: no health checks


MODES = ("local", "pre-promotion", "signoff", "scheduled")
SIGNED_MODES = ("pre-promotion", "signoff", "scheduled")  # a run in these modes must produce a signature


@dataclass(frozen=True)
class ReportSection:
    """How a run's report is issued: its mode, how long it stays valid, and what waivers may do."""

    # local: exploration, unsigned output allowed. pre-promotion / signoff / scheduled: the run must sign.
    mode: str = "local"
    # Hours a report stays valid (verdict.validUntil), per mode.
    validity_hours: dict[str, int] = field(default_factory=lambda: {
        "local": 168, "pre-promotion": 168, "signoff": 24, "scheduled": 26})
    max_waiver_days: int = 90  # a waiver may not expire later than this after the run
    waiver_warning_days: int = 14  # warn about waivers that expire within this many days
    # pre-promotion and signoff runs refuse a --from-snapshot whose facts were collected longer ago than this
    max_snapshot_age_hours: int = 24


@dataclass(frozen=True)
class SignoffRequirement:
    """One thing a sign-off blocker needs, and the checks whose findings prove it.

    An exact id must have run and not be SKIP or ERROR. A pattern ending in `*` (e.g. `SEN-*`) covers
    checks that apply to some topologies only: its SKIPs are ignored, but at least one finding must match.
    """

    name: str
    checks: tuple[str, ...]


@dataclass(frozen=True)
class SignoffBlocker:
    id: str
    title: str
    requirements: tuple[SignoffRequirement, ...]


@dataclass(frozen=True)
class SignoffSection:
    """The rollout's sign-off blockers (Phase 3), mapped to check ids. Data, not code: see profiles/signoff.toml."""

    # true: a blocker that is not met (or not verified) makes the verdict NOT_READY. false: shown only.
    gate: bool = False
    blockers: tuple[SignoffBlocker, ...] = field(default_factory=lambda: default_signoff_blockers())


@dataclass(frozen=True)
class AwsSection:
    """AWS-managed deployments (ElastiCache, Serverless, MemoryDB): what the control plane must show.

    Alarm thresholds are the loosest acceptable: an alarm on the metric must fire at or below them.
    Defaults follow the rollout's rollback triggers: memory at 80% of the cap, any eviction (an
    eviction silently resets limiter counters), replication lag over 10 s (min-replicas-max-lag),
    engine CPU at 80%, 80% of ElastiCache's 65 000 connection limit, and a handful of failed AUTHs.
    """

    approved_kms_key_ids: tuple[str, ...] = ()  # key ids or ARNs; empty: any customer-managed key
    require_customer_managed_key: bool = True  # an AWS-owned/-managed at-rest key is a WARN
    min_snapshot_retention_days: int = 7  # PERS-004 (Prowler's default; Security Hub asks for 1)
    secret_max_age_days: int = 90  # SECRET-002 (Security Hub SecretsManager.1 / Config default)
    min_engine_version: str = "7.0"  # SEC-002: below it WARN; below 6.0 (no ACL) FAIL
    min_reserved_memory_pct: int = 25  # MEM-002: ElastiCache reserved-memory-percent
    required_alarms: tuple[str, ...] = (
        "memory", "evictions", "replication_lag", "cpu", "connections", "auth_failures",
    )
    alarm_memory_pct: int = 80
    alarm_evictions: int = 0
    alarm_replication_lag_s: int = 10
    alarm_cpu_pct: int = 80
    alarm_connections: int = 52000
    alarm_auth_failures: int = 5


@dataclass(frozen=True)
class FailoverSection:
    """The controlled failover probe (opt-in, --allow-failover): its limits and what it must show."""

    rto_ms: int = 30_000  # longest client-visible write gap, and latest client discovery of the new primary
    max_lost_writes_switchover: int = 0  # acknowledged writes lost in switchover mode (graceful: none)
    max_lost_writes_crash_sim: int = 0  # ... in crash-sim mode (a dead primary acknowledges nothing)
    max_lost_writes_plain: int = 0  # ... in plain mode (its real cost; usually > 0 on Redis < Valkey 9)
    budget_s: int = 120  # wall-clock budget of one probe run
    canary_rate_hz: int = 100  # canary writes per second (fixed-rate, open loop)
    canary_read_timeout_ms: int = 200  # the app's read timeout
    canary_connect_timeout_ms: int = 100  # the app's connect timeout
    max_replica_lag_s: int = 1  # preflight: a replica lagging more than this refuses the probe
    # ElastiCache: TestFailover on at most this many node groups per account in any rolling 24 h (the API
    # reference says 15; it said 5 before). The preflight counts the region's calls and refuses at the limit.
    aws_test_failover_quota: int = 15


@dataclass(frozen=True)
class TlsSection:
    cert_warn_days: int = 30  # TLS-003: fewer days to notAfter warns ...
    cert_fail_days: int = 7  # ... and fewer than this fails


@dataclass(frozen=True)
class ApplicationSection:
    """The rate limiter's own ACL user, and the key prefixes it owns (ACL-001/002/004, CLU-006)."""

    user: str = ""  # empty: the ACL checks that need it SKIP and say so
    key_prefixes: tuple[str, ...] = ()
    # AUTH-003: authentication failures from these IPs are a stale secret (WARN); from others, FAIL.
    client_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetSection:
    """Where the audit may send its credentials besides the seeds' hosts (node_trust.py): host names,
    addresses or CIDRs of nodes that discovery finds (replicas, Sentinels, cluster nodes)."""

    allowed_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class SentinelSection:
    min_sentinels: int = 3
    down_after_min_ms: int = 2000  # SEN-005: below this a network blip triggers failovers
    down_after_max_ms: int = 30000  # ... above this the limiter is down too long before failover starts
    max_parallel_syncs: int = 1


@dataclass(frozen=True)
class ClusterSection:
    min_primaries: int = 3
    hot_shard_warn_bp: int = 15000  # CLU-004: max/mean per shard, basis points (1.5x)
    hot_shard_fail_bp: int = 20000  # (2x)
    # Below these means, shards are too idle for a ratio to say anything.
    hot_shard_min_keys: int = 1000
    hot_shard_min_ops: int = 100
    hot_shard_min_dataset_bytes: int = 10 * 1024 * 1024
    # CLU-005, the cluster's failure-handling decision: detection within 5 s (the tutorial's value).
    max_node_timeout_ms: int = 5000
    require_full_coverage: str = "yes"
    allow_reads_when_down: str = "no"
    replica_validity_factor: int = 10
    migration_barrier: int = 1
    key_sample_limit: int = 200  # CLU-006: limiter keys sampled (bounded SCAN) per primary
    max_moved_bp: int = 10  # CLU-006: MOVED replies per command, basis points (0.1%)


@dataclass(frozen=True)
class KeyspaceSection:
    """The keyspace census (redis-audit census, and the keyspace.census fact of a run)."""

    enabled: bool = True
    mode: str = "sampled"  # or "exact"
    budget: int = 200_000  # sampled: commands in all
    # "per-key": TYPE for every key. "sampled": counts, bytes and TTLs still for every key, the per-group
    # type breakdown from a uniform sample (every type_sample_every-th key), labelled typesSampled in the output.
    types: str = "per-key"
    type_sample_every: int = 16
    time_budget_s: int = 20  # within the run's deadline
    prefixes: tuple[str, ...] = ()  # group names; other keys get inferred patterns
    limiter_prefixes: tuple[str, ...] = ("rl:", "rlz:", "ratelimit:", "rate_limit:", "rate-limit:", "throttle:")
    ttl_buckets_s: tuple[int, ...] = (60, 300, 900, 3600, 21600)
    # The census's requests (a SCAN slice, a chunk of per-key commands) cost the server about slice_budget_us
    # each, and at most requests_in_flight are unanswered: other clients wait behind at most their product.
    slice_budget_us: int = 1000
    requests_in_flight: int = 2
    max_ops_per_s: int = 0  # 0: no cap beyond the slice budget
    read_from_replicas: bool = False
    max_window_s: int = 3600  # RL-001 when no [[limiters]] are given: TTLs up to 2x this
    # RL-001 on fixed-window limiters: WARN when at least refresh_warn_bp of the keys with a TTL have a
    # remaining TTL in the top refresh_top_bp of the window (EXPIRE on every hit); set-once TTLs put
    # about refresh_top_bp there. Judged from refresh_min_keys keys with a TTL.
    refresh_top_bp: int = 500
    refresh_warn_bp: int = 5000
    refresh_min_keys: int = 50


LIMITER_ALGORITHMS = ("fixed-window", "sliding-window", "token-bucket")


@dataclass(frozen=True)
class LimiterSection:
    """One rate limiter's traffic model ([[limiters]]), for RL-001 and the RL-002 projection."""

    name: str = "limiter"
    prefix: str = "rl:"  # its keys start with this
    window_s: int = 60
    # "fixed-window" (a counter per window: its TTL is set once), "sliding-window" or "token-bucket"
    # (their TTL is meant to be refreshed on every write). RL-001's refresh heuristic needs fixed-window.
    algorithm: str = "fixed-window"
    peak_identities: int = 0  # distinct identities (users, IPs, keys) in one window at peak
    keys_per_identity: int = 1  # keys alive per identity at once (windows alive x keys per window)
    bytes_per_key: int = 0  # used when the census measured none of its keys


@dataclass(frozen=True)
class Profile:
    general: GeneralSection = field(default_factory=GeneralSection)
    memory: MemorySection = field(default_factory=MemorySection)
    ha: HaSection = field(default_factory=HaSection)
    security: SecuritySection = field(default_factory=SecuritySection)
    latency: LatencySection = field(default_factory=LatencySection)
    client: ClientSection = field(default_factory=ClientSection)
    aws: AwsSection = field(default_factory=AwsSection)
    failover: FailoverSection = field(default_factory=FailoverSection)
    tls: TlsSection = field(default_factory=TlsSection)
    application: ApplicationSection = field(default_factory=ApplicationSection)
    sentinel: SentinelSection = field(default_factory=SentinelSection)
    target: TargetSection = field(default_factory=TargetSection)
    cluster: ClusterSection = field(default_factory=ClusterSection)
    keyspace: KeyspaceSection = field(default_factory=KeyspaceSection)
    limiters: tuple[LimiterSection, ...] = ()
    report: ReportSection = field(default_factory=ReportSection)
    signoff: SignoffSection = field(default_factory=SignoffSection)

    @property
    def name(self) -> str:
        return self.general.name

    def validity_hours(self, mode: str) -> int:
        return self.report.validity_hours.get(mode, self.report.validity_hours.get("local", 168))

    def blocking(self, severity: Severity) -> bool:
        return str(severity) in self.general.blocking_severities

    def to_json(self) -> JsonObject:
        return typing.cast(JsonObject, _jsonable(dataclasses.asdict(self)))

    def digest(self) -> str:
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def default_profile() -> Profile:
    return Profile()


BUILTIN_PREFIX = "builtin:"
BUILTIN_PROFILES = ("default", "signoff")  # `default` is the dataclass defaults; the others are TOML files


@dataclass(frozen=True)
class ProfileOrigin:
    """Where the profile that judged came from: a built-in of this release, or a file. A profile's own
    `general.name` is a label the file chooses; the origin and the digest of the values identify it."""

    kind: str  # "builtin", "file", or "inline" (built by the program: the demo's sandbox profile, a test's)
    name: str | None = None  # the built-in's name
    tool_version: str | None = None  # the release whose built-in it is
    path: str | None = None  # the file, as given on the command line
    file_sha256: str | None = None  # of the file's bytes

    @classmethod
    def builtin(cls, name: str) -> ProfileOrigin:
        from redis_audit import __version__

        return cls("builtin", name=name, tool_version=__version__)

    @property
    def label(self) -> str:
        if self.kind == "builtin":
            return f"{BUILTIN_PREFIX}{self.name} (redis-audit {self.tool_version})"
        return f"file {self.path}" if self.kind == "file" else self.kind

    def to_json(self) -> JsonObject:
        if self.kind == "builtin":
            return {"kind": "builtin", "name": self.name, "toolVersion": self.tool_version}
        if self.kind == "file":
            return {"kind": "file", "path": self.path, "sha256": self.file_sha256}
        return {"kind": self.kind}


@dataclass(frozen=True)
class LoadedProfile:
    profile: Profile
    origin: ProfileOrigin


def builtin_profile_text(name: str) -> str:
    return resources.files("redis_audit.profiles").joinpath(f"{name}.toml").read_text(encoding="utf-8")


def default_signoff_blockers() -> tuple[SignoffBlocker, ...]:
    """The default sign-off blockers: the ones the built-in `signoff` profile defines (one source of truth)."""
    data = tomllib.loads(builtin_profile_text("signoff"))
    section: SignoffSection = _build(SignoffSection, {"blockers": data["signoff"]["blockers"]},
                                     "signoff.toml", "signoff.")
    return section.blockers


@functools.cache
def builtin_profile(name: str) -> Profile:
    """A built-in profile of this release by name; ProfileError naming the known ones otherwise."""
    if name not in BUILTIN_PROFILES:
        known = ", ".join(BUILTIN_PREFIX + n for n in BUILTIN_PROFILES)
        raise ProfileError(f"--profile {BUILTIN_PREFIX}{name}: no such built-in profile (known: {known})")
    if name == "default":
        return default_profile()
    return profile_from_mapping(tomllib.loads(builtin_profile_text(name)), source=f"{BUILTIN_PREFIX}{name}")


def resolve_profile(spec: str | Path | None) -> LoadedProfile:
    """`--profile`: `builtin:NAME` is a built-in, anything else a file; a bare built-in name (`signoff`)
    means the built-in, and is refused when a file of that name is here too: a file never stands in
    for a built-in profile."""
    if spec is None:
        return LoadedProfile(default_profile(), ProfileOrigin.builtin("default"))
    text = str(spec)
    if text.startswith(BUILTIN_PREFIX):
        name = text.removeprefix(BUILTIN_PREFIX)
        return LoadedProfile(builtin_profile(name), ProfileOrigin.builtin(name))
    if text in BUILTIN_PROFILES:
        if Path(text).exists():
            raise ProfileError(f"--profile {text}: ambiguous: {text!r} names a built-in profile and a file here; "
                               f"say {BUILTIN_PREFIX}{text} for the built-in or ./{text} for the file")
        return LoadedProfile(builtin_profile(text), ProfileOrigin.builtin(text))
    path = Path(text)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProfileError(f"{path}: no such profile file") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from None
    from redis_audit.files import note_input

    note_input(path, "--profile")  # nothing the run writes may replace it
    origin = ProfileOrigin("file", path=text, file_sha256=hashlib.sha256(raw).hexdigest())
    return LoadedProfile(profile_from_mapping(data, source=str(path)), origin)


def load_profile(path: str | Path | None) -> Profile:
    """A profile file, or a built-in profile (`builtin:signoff`, or the bare name): see resolve_profile."""
    return resolve_profile(path).profile


def profile_from_mapping(data: dict[str, Any], source: str = "<profile>") -> Profile:
    profile: Profile = _build(Profile, data, source, prefix="")
    _validate(profile, source)
    return profile


def _build(cls: type[Any], data: Any, source: str, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ProfileError(f"{source}: {prefix.rstrip('.') or 'profile'}: expected a table")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            known = ", ".join(sorted(names))
            raise ProfileError(f"{source}: {prefix}{key}: unknown key (known: {known})")
        kwargs[key] = _coerce(hints[key], value, source, f"{prefix}{key}")
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, source: str, key: str) -> Any:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, source, prefix=f"{key}.")
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is tuple and dataclasses.is_dataclass(args[0]):
        if not isinstance(value, list):
            raise ProfileError(f"{source}: {key}: expected a list of tables ([[{key}]])")
        table = typing.cast(type[Any], args[0])
        return tuple(_build(table, v, source, prefix=f"{key}[{i}].") for i, v in enumerate(value))
    if origin is tuple:
        if not isinstance(value, list) or not all(_matches(args[0], v) for v in value):
            raise ProfileError(f"{source}: {key}: expected a list of {args[0].__name__}")
        return tuple(value)
    if origin is dict:
        if not isinstance(value, dict) or not all(_matches(args[1], v) for v in value.values()):
            raise ProfileError(f"{source}: {key}: expected a table of {args[1].__name__}")
        return dict(value)
    if origin in (types.UnionType, typing.Union):
        if value is None or any(_matches(a, value) for a in args if a is not type(None)):
            return value
        raise ProfileError(f"{source}: {key}: unexpected value {value!r}")
    if not _matches(hint, value):
        raise ProfileError(f"{source}: {key}: expected {hint.__name__}, got {type(value).__name__} {value!r}")
    return value


def _matches(hint: Any, value: Any) -> bool:
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(hint, type) and isinstance(value, hint)


def _validate(profile: Profile, source: str) -> None:
    severities = {str(s) for s in Severity}
    for name in profile.general.blocking_severities:
        if name not in severities:
            raise ProfileError(f"{source}: general.blocking_severities: unknown severity {name!r}")
    for check_id, name in profile.general.severity_overrides.items():
        if name not in severities:
            raise ProfileError(f"{source}: general.severity_overrides.{check_id}: unknown severity {name!r}")
    alarm_kinds = {"memory", "evictions", "replication_lag", "cpu", "connections", "auth_failures"}
    for name in profile.aws.required_alarms:
        if name not in alarm_kinds:
            raise ProfileError(f"{source}: aws.required_alarms: unknown alarm {name!r} "
                               f"(known: {', '.join(sorted(alarm_kinds))})")
    if not all(p.isdigit() for p in profile.aws.min_engine_version.split(".")):
        raise ProfileError(f"{source}: aws.min_engine_version: expected a version like '7.0'")
    if profile.client.retry_backoff not in (None, *RETRY_BACKOFFS):
        raise ProfileError(f"{source}: client.retry_backoff: expected one of {', '.join(RETRY_BACKOFFS)}")
    if profile.latency.rate_hz < 1 or profile.latency.local_rate_hz < 1:
        raise ProfileError(f"{source}: latency.rate_hz and latency.local_rate_hz: must be at least 1")
    if profile.failover.canary_rate_hz < 1 or profile.failover.budget_s < 1:
        raise ProfileError(f"{source}: failover.canary_rate_hz and failover.budget_s must be at least 1")
    if profile.keyspace.mode not in ("exact", "sampled"):
        raise ProfileError(f"{source}: keyspace.mode: expected 'exact' or 'sampled', got {profile.keyspace.mode!r}")
    if profile.keyspace.types not in ("per-key", "sampled"):
        raise ProfileError(f"{source}: keyspace.types: expected 'per-key' or 'sampled', got {profile.keyspace.types!r}")
    for name in ("type_sample_every", "slice_budget_us", "requests_in_flight"):
        if getattr(profile.keyspace, name) < 1:
            raise ProfileError(f"{source}: keyspace.{name}: must be at least 1")
    if profile.report.mode not in MODES:
        raise ProfileError(f"{source}: report.mode: unknown mode {profile.report.mode!r} (known: {', '.join(MODES)})")
    for mode, hours in profile.report.validity_hours.items():
        if mode not in MODES:
            raise ProfileError(f"{source}: report.validity_hours.{mode}: unknown mode (known: {', '.join(MODES)})")
        if hours < 1:
            raise ProfileError(f"{source}: report.validity_hours.{mode}: must be at least 1")
    if profile.report.max_snapshot_age_hours < 1:
        raise ProfileError(f"{source}: report.max_snapshot_age_hours: must be at least 1")
    for index, limiter in enumerate(profile.limiters):
        if limiter.algorithm not in LIMITER_ALGORITHMS:
            raise ProfileError(f"{source}: limiters[{index}].algorithm: expected one of "
                               f"{', '.join(LIMITER_ALGORITHMS)}, got {limiter.algorithm!r}")
    if not 0 < profile.keyspace.refresh_top_bp < 10_000:
        raise ProfileError(f"{source}: keyspace.refresh_top_bp: expected 1..9999 (basis points of the window)")
    for section in dataclasses.fields(profile):
        values = getattr(profile, section.name)
        tables = values if isinstance(values, tuple) else (values,)
        for index, table in enumerate(tables):
            where = f"{section.name}[{index}]" if isinstance(values, tuple) else section.name
            for f in dataclasses.fields(table):
                value = getattr(table, f.name)
                if isinstance(value, int) and not isinstance(value, bool) and value < 0:
                    raise ProfileError(f"{source}: {where}.{f.name}: must not be negative")
    versions = {"security.engine_min_version": profile.security.engine_min_version}
    versions.update({f"security.engine_baselines.{k}": v for k, v in profile.security.engine_baselines.items()})
    for key, text in versions.items():
        if parse_version(text) is None:
            raise ProfileError(f"{source}: {key}: expected a version such as '7.2', got {text!r}")
    from redis_audit.node_trust import parse_allowed

    for entry in profile.target.allowed_hosts:
        try:
            parse_allowed(entry)
        except ValueError as exc:
            raise ProfileError(f"{source}: target.allowed_hosts: {exc}") from None
    if profile.tls.cert_fail_days > profile.tls.cert_warn_days:
        raise ProfileError(f"{source}: tls.cert_fail_days: must not exceed tls.cert_warn_days")
    if profile.ha.lag_warn_s > profile.ha.lag_fail_s:
        raise ProfileError(f"{source}: ha.lag_warn_s: must not exceed ha.lag_fail_s")
    if profile.cluster.hot_shard_warn_bp > profile.cluster.hot_shard_fail_bp:
        raise ProfileError(f"{source}: cluster.hot_shard_warn_bp: must not exceed cluster.hot_shard_fail_bp")
    _validate_ranges(profile, source)


# Values no one means: (key, lowest, highest or None). Percentages are 0-100 of something, windows and
# durations are positive, a max/mean ratio is at least 1x (10000 bp).
_RANGES: tuple[tuple[str, int, int | None], ...] = (
    *((f"memory.{k}", 1, 100) for k in ("max_ram_pct", "max_ram_pct_with_fork", "utilisation_warn_pct",
                                        "utilisation_fail_pct", "projected_pass_pct", "projected_fail_pct")),
    ("client.max_pool_utilisation_pct", 1, 100), ("aws.min_reserved_memory_pct", 0, 100),
    ("aws.alarm_memory_pct", 1, 100), ("aws.alarm_cpu_pct", 1, 100),
    ("keyspace.refresh_warn_bp", 1, 10_000), ("cluster.max_moved_bp", 0, 10_000),
    ("cluster.hot_shard_warn_bp", 10_000, None), ("cluster.hot_shard_fail_bp", 10_000, None),
    *((f"latency.{k}", 1, None) for k in ("p95_ms", "server_p99_us", "duration_ms", "local_duration_ms",
                                          "connections")),
    *((f"client.{k}", 1, None) for k in ("max_connect_timeout_ms", "max_read_timeout_ms")),
    *((f"ha.{k}", 1, None) for k in ("backlog_min_seconds", "lag_fail_s")),  # write_rate_sample_ms 0: no wait
    ("security.auth_failure_window_s", 1, None),
    *((f"keyspace.{k}", 1, None) for k in ("budget", "time_budget_s", "max_window_s", "refresh_min_keys")),
    ("sentinel.min_sentinels", 1, None), ("sentinel.down_after_min_ms", 1, None),
    ("sentinel.max_parallel_syncs", 1, None),
    ("cluster.min_primaries", 1, None), ("cluster.max_node_timeout_ms", 1, None),
    *((f"failover.{k}", 1, None) for k in ("rto_ms", "canary_read_timeout_ms", "canary_connect_timeout_ms")),
    ("report.max_waiver_days", 1, None), ("tls.cert_fail_days", 1, None),
)
# (lower, higher): the first must not exceed the second.
_ORDERS: tuple[tuple[str, str], ...] = (
    ("memory.utilisation_warn_pct", "memory.utilisation_fail_pct"),
    ("memory.projected_pass_pct", "memory.projected_fail_pct"),
    ("memory.max_ram_pct_with_fork", "memory.max_ram_pct"),
    ("sentinel.down_after_min_ms", "sentinel.down_after_max_ms"),
)


def _at(profile: Profile, key: str) -> Any:
    section, name = key.split(".")
    return getattr(getattr(profile, section), name)


def _validate_ranges(profile: Profile, source: str) -> None:
    for key, low, high in _RANGES:
        value = _at(profile, key)
        if value < low or (high is not None and value > high):
            span = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ProfileError(f"{source}: {key}: must be {span}, got {value}")
    for lower, higher in _ORDERS:
        small, big = _at(profile, lower), _at(profile, higher)
        if small is not None and big is not None and small > big:
            raise ProfileError(f"{source}: {lower}: {small} must not exceed {higher} ({big})")
    for index, limiter in enumerate(profile.limiters):
        for name in ("window_s", "keys_per_identity"):
            if getattr(limiter, name) < 1:
                raise ProfileError(f"{source}: limiters[{index}].{name}: must be at least 1, got "
                                   f"{getattr(limiter, name)}")
    buckets = profile.keyspace.ttl_buckets_s
    if any(b < 1 for b in buckets) or list(buckets) != sorted(set(buckets)):
        raise ProfileError(f"{source}: keyspace.ttl_buckets_s: must be positive and strictly increasing, got "
                           f"{list(buckets)}")
