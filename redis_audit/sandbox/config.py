"""Rendering the servers' configuration files and ACL files from a spec. No I/O beyond writing them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from redis_audit.acl import auditor_acl_rule
from redis_audit.files import write_file
from redis_audit.sandbox.certs import TlsFiles
from redis_audit.sandbox.model import SandboxSpec

# The users of a good-preset data node, and of a good-preset Sentinel.
DATA_USERS = ("admin", "auditor", "app", "replicator", "sentinel")
SENTINEL_USERS = ("admin", "auditor", "peer")

# The rate limiter's least-privilege user: its own key prefixes, the commands it sends, nothing else.
SANDBOX_LIMITER_PREFIXES = ("rl:", "rlz:")
APP_RULE = (
    " ".join(f"~{prefix}*" for prefix in SANDBOX_LIMITER_PREFIXES)
    + " resetchannels -@all +get +set +incr +incrby +decr +expire +pexpire +ttl +pttl +del "
    "+exists +evalsha +eval +zadd +zrem +zremrangebyscore +zcard +zrange +ping +client|setname"
)
# Replicas authenticate to their primary with this user (masteruser/masterauth).
REPLICATOR_RULE = "resetkeys resetchannels -@all +psync +replconf +ping"
# The user Sentinels use on data nodes, as documented in the Redis Sentinel ACL guide.
SENTINEL_DATA_RULE = (
    "resetkeys allchannels -@all +multi +slaveof +ping +exec +subscribe +config|rewrite +role +publish "
    "+info +client|setname +client|kill +script|kill"
)
# Valkey >= 9 `SENTINEL FAILOVER <name> COORDINATED`: the leader sends MULTI; CLIENT PAUSE ...; FAILOVER ...
# (and CLIENT UNPAUSE) to the primary as this user. Without them, Sentinel answers OK, then stalls in
# wait-promotion until failover-timeout (the primary's ACL LOG shows the denials).
SENTINEL_COORDINATED_RULE = "+client|pause +client|unpause +failover"
# What Sentinels send each other: PING, hello messages, and the failover vote.
SENTINEL_PEER_RULE = (
    "resetkeys allchannels -@all +ping +info +role +publish +subscribe +client|setname "
    "+sentinel|is-master-down-by-addr +sentinel|myid"
)
ADMIN_RULE = "~* &* +@all"
DISABLED_DEFAULT_RULE = "off resetpass resetkeys resetchannels -@all"


@dataclass(frozen=True)
class Listener:
    """The ports one server listens on."""

    port: int  # the client port: the TLS port when TLS is on
    plaintext_port: int | None  # the plaintext port, None when the server is TLS-only
    tls: bool


@dataclass(frozen=True)
class ServerSettings:
    """Everything a config file depends on besides the node itself."""

    spec: SandboxSpec
    version: tuple[int, int]
    tls_files: TlsFiles | None
    data_passwords: dict[str, str]
    sentinel_passwords: dict[str, str]


def password_hash(password: str) -> str:
    """ACL files hold the SHA-256 of a password (`#hex`), never the password itself."""
    return "#" + hashlib.sha256(password.encode()).hexdigest()


def _user_line(name: str, password: str, rule: str) -> str:
    return f"user {name} on {password_hash(password)} {rule}"


def data_acl_lines(settings: ServerSettings) -> list[str]:
    pw = settings.data_passwords
    rules = {
        "admin": ADMIN_RULE,
        "auditor": " ".join(auditor_acl_rule(settings.version)),
        "app": APP_RULE,
        "replicator": REPLICATOR_RULE,
        "sentinel": sentinel_data_rule(settings),
    }
    return [f"user default {DISABLED_DEFAULT_RULE}"] + [_user_line(u, pw[u], rules[u]) for u in DATA_USERS]


def sentinel_data_rule(settings: ServerSettings) -> str:
    """The Sentinels' user on data nodes; Valkey 9 Sentinels also run the coordinated failover."""
    if settings.spec.engine == "valkey" and settings.version >= (9, 0):
        return f"{SENTINEL_DATA_RULE} {SENTINEL_COORDINATED_RULE}"
    return SENTINEL_DATA_RULE


def sentinel_acl_lines(settings: ServerSettings) -> list[str]:
    pw = settings.sentinel_passwords
    rules = {
        "admin": ADMIN_RULE,
        "auditor": " ".join(auditor_acl_rule(settings.version, sentinel=True)),
        "peer": SENTINEL_PEER_RULE,
    }
    return [f"user default {DISABLED_DEFAULT_RULE}"] + [_user_line(u, pw[u], rules[u]) for u in SENTINEL_USERS]


def _quote(value: str | Path) -> str:
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _common_lines(settings: ServerSettings, listener: Listener, node_dir: Path) -> list[str]:
    good = settings.spec.preset == "good"
    lines = [
        # Loopback only, in both presets: the sandbox never listens beyond this machine.
        "bind 127.0.0.1 -::1" if good else "bind 127.0.0.1",
        f"protected-mode {'yes' if good else 'no'}",
        f"port {listener.plaintext_port or 0}",
        "daemonize no",
        f"dir {_quote(node_dir)}",
        f"logfile {_quote(node_dir / 'server.log')}",
        "loglevel notice",
    ]
    if listener.tls:
        files = settings.tls_files
        assert files is not None, "a TLS listener needs TLS files"
        lines += [
            f"tls-port {listener.port}",
            f"tls-cert-file {_quote(files.server_cert_file)}",
            f"tls-key-file {_quote(files.server_key_file)}",
            f"tls-ca-cert-file {_quote(files.ca_file)}",
            "tls-auth-clients optional",
            "tls-replication yes",
            'tls-protocols "TLSv1.2 TLSv1.3"',
        ]
    return lines


def data_node_config(
    settings: ServerSettings,
    listener: Listener,
    node_dir: Path,
    *,
    primary: Listener | None,
) -> list[str]:
    """redis.conf lines for a data node; `primary` is set for a replica outside a cluster."""
    spec = settings.spec
    lines = _common_lines(settings, listener, node_dir)
    lines += ['save ""', "dbfilename dump.rdb", "appendfilename appendonly.aof"]
    # A full sync starts at once instead of waiting 5 s for more replicas: the sandbox starts fast.
    lines.append("repl-diskless-sync-delay 0")
    if spec.preset == "good":
        lines += [
            # Persistence on: a primary restarting empty would wipe its replicas (HA-007).
            "appendonly yes",
            "appendfsync everysec",
            "maxmemory 256mb",
            "maxmemory-policy allkeys-lru",
            "latency-monitor-threshold 10",
            "repl-backlog-size 16mb",
            f"aclfile {_quote(node_dir / 'users.acl')}",
            "masteruser replicator",
            f"masterauth {_quote(settings.data_passwords['replicator'])}",
        ]
        if settings.version >= (7, 0):
            lines += [
                "enable-debug-command no",
                "enable-module-command no",
                "enable-protected-configs no",
                "maxmemory-clients 5%",
            ]
        if spec.replicas_per_primary > 0:
            lines += ["min-replicas-to-write 1", "min-replicas-max-lag 10"]
    else:
        lines += ["appendonly no", "maxmemory 0", "maxmemory-policy noeviction"]
    if spec.topology == "cluster":
        lines += ["cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-node-timeout 5000"]
        if listener.tls:
            lines.append("tls-cluster yes")
    elif primary is not None:
        lines.append(f"replicaof 127.0.0.1 {primary.port}")
    return lines


def sentinel_config(settings: ServerSettings, listener: Listener, node_dir: Path, *, primary: Listener) -> list[str]:
    spec = settings.spec
    name = spec.master_name
    quorum = spec.sentinels // 2 + 1
    lines = _common_lines(settings, listener, node_dir)
    lines += [
        "sentinel resolve-hostnames no",
        "sentinel announce-ip 127.0.0.1",
        f"sentinel announce-port {listener.port}",
        f"sentinel monitor {name} 127.0.0.1 {primary.port} {quorum}",
        f"sentinel down-after-milliseconds {name} 5000",
        f"sentinel failover-timeout {name} 60000",
        f"sentinel parallel-syncs {name} 1",
    ]
    if spec.preset == "good":
        lines += [
            f"sentinel auth-user {name} sentinel",
            f"sentinel auth-pass {name} {_quote(settings.data_passwords['sentinel'])}",
            "sentinel sentinel-user peer",
            f"sentinel sentinel-pass {_quote(settings.sentinel_passwords['peer'])}",
            # Sentinel keeps its users in its own config file (it rewrites it at runtime).
            *sentinel_acl_lines(settings),
        ]
    return lines


def write_private(path: Path, lines: list[str]) -> None:
    """Config and ACL files hold secrets (masterauth, hashes): 0600 from the moment they exist."""
    write_file(path, "\n".join(lines) + "\n", what="sandbox configuration", mode=0o600)
