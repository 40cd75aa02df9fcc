"""The read-only guard: every connection the engine opens refuses commands outside an allowlist.

The guard sits in the connection's command packer, so it sees every command that
would reach the wire, including those redis-py sends on connect and in pipelines.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from redis.exceptions import RedisError

# Commands that take a subcommand: the allowlist names them as "command|subcommand".
CONTAINER_COMMANDS = frozenset(
    {
        "acl", "client", "cluster", "command", "config", "function", "latency",
        "memory", "module", "object", "script", "sentinel", "slowlog", "xinfo",
    }
)


@dataclass(frozen=True)
class AllowedCommand:
    name: str  # "info" or "config|get"
    since: tuple[int, int] = (6, 0)  # first server version that knows it
    for_acl: bool = True  # False for commands every user may run anyway (AUTH, HELLO)


def _cmds(names: str, since: tuple[int, int] = (6, 0), for_acl: bool = True) -> list[AllowedCommand]:
    return [AllowedCommand(n, since, for_acl) for n in names.split()]


# What the collectors of a read-only audit send to a data node.
DATA_NODE_READ_COMMANDS: tuple[AllowedCommand, ...] = (
    *_cmds("auth hello", for_acl=False),
    *_cmds("ping info role dbsize time client|setname client|list client|info"),
    *_cmds("client|setinfo", since=(7, 2)),
    *_cmds("config|get command|count command|info command|docs"),
    *_cmds("acl|list acl|getuser acl|log acl|whoami acl|users"),
    *_cmds("acl|dryrun", since=(7, 0)),
    *_cmds("slowlog|get slowlog|len latency|latest latency|doctor latency|history"),
    *_cmds("latency|histogram", since=(7, 0)),
    *_cmds("memory|usage memory|stats memory|doctor"),
    *_cmds("cluster|info cluster|nodes cluster|slots cluster|myid cluster|keyslot"),
    *_cmds("cluster|shards", since=(7, 0)),
    *_cmds("scan ttl pttl type exists object|encoding object|refcount strlen zcard hlen scard llen xlen"),
    # Connection state only: lets a cluster replica answer key reads (census from replicas).
    *_cmds("readonly"),
)

# What the collectors send to a Sentinel.
SENTINEL_READ_COMMANDS: tuple[AllowedCommand, ...] = (
    *_cmds("auth hello", for_acl=False),
    *_cmds("ping info role client|setname client|list"),
    *_cmds("client|setinfo", since=(7, 2)),
    *_cmds("acl|whoami acl|list acl|getuser acl|log", since=(6, 2)),
    *_cmds(
        "sentinel|master sentinel|masters sentinel|replicas sentinel|slaves sentinel|sentinels "
        "sentinel|ckquorum sentinel|get-master-addr-by-name sentinel|myid sentinel|info-cache"
    ),
)


def command_key(args: Iterable[object]) -> str:
    """The allowlist key of a command: 'get', 'config|get', ..."""
    parts = [_as_text(a).lower() for a in list(args)[:2]]
    if not parts:
        return ""
    # redis-py may pass "CONFIG GET" as one argument.
    head = parts[0].split()
    if len(head) > 1:
        return f"{head[0]}|{head[1]}" if head[0] in CONTAINER_COMMANDS else head[0]
    if head[0] in CONTAINER_COMMANDS and len(parts) > 1:
        return f"{head[0]}|{parts[1]}"
    return head[0]


def _as_text(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


class CommandNotAllowed(RedisError):
    """A command outside the connection's allowlist was attempted; nothing was sent."""

    def __init__(self, command: str, policy: str) -> None:
        super().__init__(f"command {command!r} is not allowed by the {policy} policy; nothing was sent")
        self.command = command
        self.policy = policy


@dataclass(frozen=True)
class CommandPolicy:
    """A named allowlist, checked before any byte leaves the client.

    ``keyed`` commands may only name keys that start with ``key_prefix``: the failover canary
    writes, but only to its reserved namespace, never to an application key.
    """

    name: str
    allowed: frozenset[str]
    key_prefix: str | None = None
    keyed: frozenset[str] = frozenset()

    @classmethod
    def of(cls, name: str, *groups: Iterable[AllowedCommand], extra: Iterable[str] = (),
           key_prefix: str | None = None, keyed: Iterable[str] = ()) -> CommandPolicy:
        names = {c.name for group in groups for c in group} | set(extra)
        return cls(name, frozenset(names), key_prefix, frozenset(keyed))

    def check(self, args: tuple[object, ...]) -> None:
        key = command_key(args)
        if key not in self.allowed:
            raise CommandNotAllowed(key, self.name)
        banned = FORBIDDEN_ARGUMENTS.get(key, frozenset())
        if banned and any(_as_text(a).lower() in banned for a in args[1:]):
            raise CommandNotAllowed(f"{key} with {'/'.join(sorted(banned)).upper()}", self.name)
        if key in self.keyed:
            keys = args[1:] if key in MULTI_KEY_COMMANDS else args[1:2]
            prefix = self.key_prefix or ""
            if not keys or not all(_as_text(k).startswith(prefix) and prefix for k in keys):
                raise CommandNotAllowed(f"{key} outside {prefix or 'any reserved prefix'}*", self.name)


READ_ONLY = CommandPolicy.of("read-only", DATA_NODE_READ_COMMANDS, SENTINEL_READ_COMMANDS)

# The latency probe (probes/latency.py) also times GET of its own reserved key, which reads nothing
# of the application's: GET is kept off READ_ONLY, so the auditor's ACL never needs to read values.
LATENCY_PROBE = CommandPolicy.of("latency-probe", DATA_NODE_READ_COMMANDS, extra=("get",))
# With `[latency] allow_writes = true` only: SET of the probe key (with a TTL) and a limiter-like
# script on it; EVAL and SCRIPT LOAD because the script cache is not replicated (NOSCRIPT after a
# failover). These are the only writes the probe can make.
LATENCY_PROBE_WRITES = CommandPolicy.of(
    "latency-probe-writes", DATA_NODE_READ_COMMANDS, extra=("get", "set", "evalsha", "eval", "script|load")
)

# Keys the failover canary may touch; nothing outside this prefix, ever (enforced by the policies below).
CANARY_KEY_PREFIX = "__redis_audit:failover:"
MULTI_KEY_COMMANDS = frozenset({"del", "exists"})
# Arguments no policy lets through: TAKEOVER skips the election and breaks "last failover wins".
FORBIDDEN_ARGUMENTS = {"cluster|failover": frozenset({"takeover"})}

# The failover probe's two policies. They are the only ones in the engine that change state, and only
# the probe run with --allow-failover opens connections with them. Never extend READ_ONLY instead.
# Control: the trigger, observation and clean-up on primaries, replicas and Sentinels; no key writes.
FAILOVER_CONTROL = CommandPolicy.of(
    "failover-control",
    DATA_NODE_READ_COMMANDS,
    SENTINEL_READ_COMMANDS,
    extra=(
        "client|pause", "client|unpause",  # the switchover recipe's write pause, always undone
        "sentinel|failover",  # Sentinel topologies (plain, switchover, Valkey 9 COORDINATED)
        "replicaof",  # demote the old primary once a Sentinel names the new one (switchover recipe)
        "cluster|failover",  # on a replica of the chosen shard (FORCE only with --force; never TAKEOVER)
        "failover",  # replicated standalone without Sentinel only (refused on Sentinel-managed primaries)
        "psubscribe", "punsubscribe", "subscribe", "unsubscribe",  # Sentinel events
        "exists", "lrange", "del",  # canary keys only: read back, then delete (keyed below)
        "readonly",  # cluster replicas answer those reads only after READONLY (else MOVED)
    ),
    key_prefix=CANARY_KEY_PREFIX,
    keyed=("exists", "lrange", "del"),
)
# Canary: what an application client sends, restricted to the canary's reserved keys.
FAILOVER_CANARY = CommandPolicy.of(
    "failover-canary",
    _cmds("auth hello ping info role client|setname client|setinfo command command|info command|docs"),
    _cmds("cluster|slots cluster|shards cluster|nodes cluster|info cluster|myid"),
    SENTINEL_READ_COMMANDS,  # the Sentinel-aware client asks Sentinels for the primary
    extra=("rpush", "pexpire", "lindex", "lrange", "llen", "exists", "del", "wait"),
    key_prefix=CANARY_KEY_PREFIX,
    keyed=("rpush", "pexpire", "lindex", "lrange", "llen", "exists", "del"),
)


class GuardedPacker:
    """Wraps redis-py's command packer: refuses a command before it is encoded."""

    def __init__(self, inner: object, policy: CommandPolicy) -> None:
        self._inner = inner
        self._policy = policy

    def pack(self, *args: object) -> list[bytes]:
        self._policy.check(args)
        return self._inner.pack(*args)  # type: ignore[attr-defined,no-any-return]

    def per_key_template(self, *commands: tuple[tuple[bytes, ...], tuple[bytes, ...]]) -> bytes:
        """RESP for several commands on one key, as a bytes %-template with one ``%b`` per command.

        Each command is ``(head, tail)`` around the key: ``((b"MEMORY", b"USAGE"), ())``. Every
        shape is checked against the policy here, once; the caller fills the template with the
        key's bulk string (``b"$%d\\r\\n%b\\r\\n" % (len(key), key)``) for each key. The keys are
        data and cannot change which command is sent.
        """
        parts = []
        for head, tail in commands:
            args = (*head, b"key", *tail)
            self._policy.check(args)
            if command_key(args) in self._policy.keyed:  # its key prefix must be checked key by key
                raise CommandNotAllowed(f"{command_key(args)} per-key template", self._policy.name)
            parts.append(b"*%d\r\n" % (len(head) + 1 + len(tail)) + _bulks(head) + b"%b" + _bulks(tail))
        return b"".join(parts)


def _bulks(args: tuple[bytes, ...]) -> bytes:
    if any(b"%" in a for a in args):
        raise ValueError("a per-key template argument cannot contain '%'")
    return b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)


def acl_rule_tokens(commands: Iterable[AllowedCommand], version: tuple[int, int]) -> list[str]:
    """ACL SETUSER tokens granting exactly these commands on a server of this version."""
    tokens = sorted({f"+{c.name}" for c in commands if c.for_acl and version >= c.since})
    return ["resetkeys", "resetchannels", "-@all", *tokens]
