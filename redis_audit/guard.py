"""The read-only guard: every connection the engine opens refuses commands outside an allowlist.

The guard judges the bytes that go on the wire, never the arguments a caller passed: redis-py
splits a first argument that holds spaces ("DEL app:victim") after its packer is called, so the
guard packs first and judges the argument vectors parsed back from the packed RESP
(`parse_packed`). It sits at the lowest layer every path uses: the command packer (send_command,
pipelines, the census's per-key templates) and `send_packed_command` itself (`GuardedSend`),
where raw bytes from any caller are parsed and judged; inline commands, several commands in one
buffer and half a command are parsed or refused the same way. Bytes the guard built itself carry
a mark (`Judged`) so that the census's hot path is not parsed twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from redis_audit.facts.values import as_text

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
    """A label for a command as a caller wrote it: 'get', 'config|get' (for messages and ACL hints).

    redis-py may be given "CONFIG GET" as one argument; the label splits it as redis-py will. The
    guard never judges this: it judges the packed bytes (`CommandPolicy.check`, `parse_packed`).
    """
    parts = [as_text(a).lower() for a in list(args)[:2]]
    if not parts:
        return ""
    head = parts[0].split()
    if len(head) > 1:
        return f"{head[0]}|{head[1]}" if head[0] in CONTAINER_COMMANDS else head[0]
    if head[0] in CONTAINER_COMMANDS and len(parts) > 1:
        return f"{head[0]}|{parts[1]}"
    return head[0]


def _wire(value: object) -> bytes:
    """An argument as redis-py encodes it for the wire (bytes as they are, text as UTF-8)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, float):
        return repr(value).encode()
    return str(value).encode("utf-8")


def wire_key(argv: Sequence[bytes]) -> str:
    """The allowlist key of an argument vector exactly as sent: b"CONFIG", b"GET" -> 'config|get'.

    Only ASCII is folded (as the server folds command names); a name with any other byte, a space
    or a lookalike letter is simply not on any allowlist.
    """
    if not argv:
        return ""
    name = argv[0].lower().decode("latin-1")
    if name in CONTAINER_COMMANDS and len(argv) > 1:
        return f"{name}|{argv[1].lower().decode('latin-1')}"
    return name


class UnparsableCommand(ValueError):
    """Bytes that are not whole RESP arrays of bulk strings (an inline command, half a command...)."""


# Generous bounds: the engine's own commands have a handful of arguments of a few bytes each.
_MAX_LENGTH_DIGITS = 10


def parse_packed(data: bytes | bytearray | memoryview) -> list[tuple[bytes, ...]]:
    """Every command in a request buffer, as the server will read it.

    Stricter than the server: only whole RESP arrays of bulk strings with canonical lengths and
    CRLF where the server expects them. Anything else (an inline command such as "DEL k\r\n",
    trailing or missing bytes, an empty array) raises UnparsableCommand, so no buffer the guard
    accepts can mean something else to the server.
    """
    buffer = bytes(data)
    commands: list[tuple[bytes, ...]] = []
    pos = 0
    if not buffer:
        raise UnparsableCommand("an empty request")
    while pos < len(buffer):
        count, pos = _length_line(buffer, pos, b"*", "a command that is not a RESP array (inline command?)")
        if count == 0:
            raise UnparsableCommand("an empty command")
        argv = []
        for _ in range(count):
            size, pos = _length_line(buffer, pos, b"$", "an argument that is not a bulk string")
            end = pos + size
            if buffer[end:end + 2] != b"\r\n":
                raise UnparsableCommand("a bulk string of the wrong length, or half a command")
            argv.append(buffer[pos:end])
            pos = end + 2
        commands.append(tuple(argv))
    return commands


def _length_line(buffer: bytes, pos: int, marker: bytes, what: str) -> tuple[int, int]:
    if buffer[pos:pos + 1] != marker:
        raise UnparsableCommand(what)
    line_end = buffer.find(b"\r\n", pos + 1, pos + 2 + _MAX_LENGTH_DIGITS)
    digits = buffer[pos + 1:line_end] if line_end > 0 else b""
    if not digits.isdigit() or (len(digits) > 1 and digits.startswith(b"0")):
        raise UnparsableCommand(f"{what}: bad length line")
    return int(digits), line_end + 2


class Judged(bytes):
    """RESP that the guard built from commands it judged (its packer, its per-key templates).

    Only the guard makes these: a sender may pass them on unparsed; any other bytes are parsed and
    judged again. Concatenate them with `joined`, which keeps the mark only if every part has it.
    """

    __slots__ = ()


def joined(parts: Iterable[bytes]) -> bytes:
    """Several requests as one buffer; Judged when every part is, else plain bytes (judged when sent)."""
    chunks = list(parts)
    data = b"".join(chunks)
    return Judged(data) if all(type(c) is Judged for c in chunks) else data


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

    def check(self, args: Sequence[object]) -> None:
        """Judge one argument vector exactly as it goes on the wire (each argument one bulk string)."""
        argv = tuple(_wire(a) for a in args)
        key = wire_key(argv)
        if key not in self.allowed:
            raise CommandNotAllowed(key, self.name)
        banned = FORBIDDEN_ARGUMENTS.get(key, frozenset())
        if banned and any(a.lower() in banned for a in argv[1:]):
            raise CommandNotAllowed(f"{key} with {b'/'.join(sorted(banned)).decode().upper()}", self.name)
        if key in self.keyed:
            keys = _keys_of(key, argv)
            prefix = (self.key_prefix or "").encode()
            if not prefix or not keys or not all(k.startswith(prefix) for k in keys):
                raise CommandNotAllowed(f"{key} outside {self.key_prefix or 'any reserved prefix'}*", self.name)

    def check_packed(self, data: bytes | bytearray | memoryview) -> None:
        """Judge every command in a request buffer; refuse what does not parse as whole RESP arrays."""
        try:
            commands = parse_packed(data)
        except UnparsableCommand as exc:
            raise CommandNotAllowed(f"unparsable request: {exc}", self.name) from None
        for argv in commands:
            self.check(argv)

    def judged(self, data: bytes | bytearray | memoryview) -> Judged:
        """The buffer, marked as judged once every command in it passed."""
        if type(data) is Judged:
            return data
        self.check_packed(data)
        return Judged(data)


READ_ONLY = CommandPolicy.of("read-only", DATA_NODE_READ_COMMANDS, SENTINEL_READ_COMMANDS)

# The latency probe's key lives in the reserved namespace its configuration requires ([latency]
# key_prefix starts with "__"): GET, SET and the scripts' keys are confined to it.
PROBE_KEY_NAMESPACE = "__"
# The latency probe (probes/latency.py) also times GET of its own reserved key, which reads nothing
# of the application's: GET is kept off READ_ONLY, so the auditor's ACL never needs to read values.
LATENCY_PROBE = CommandPolicy.of("latency-probe", DATA_NODE_READ_COMMANDS, extra=("get",),
                                 key_prefix=PROBE_KEY_NAMESPACE, keyed=("get",))
# With `[latency] allow_writes = true` only: SET of the probe key (with a TTL) and a limiter-like
# script on it; EVAL and SCRIPT LOAD because the script cache is not replicated (NOSCRIPT after a
# failover). These are the only writes the probe can make.
LATENCY_PROBE_WRITES = CommandPolicy.of(
    "latency-probe-writes", DATA_NODE_READ_COMMANDS, extra=("get", "set", "evalsha", "eval", "script|load"),
    key_prefix=PROBE_KEY_NAMESPACE, keyed=("get", "set", "evalsha", "eval"),
)

# Keys the failover canary may touch; nothing outside this prefix, ever (enforced by the policies below).
CANARY_KEY_PREFIX = "__redis_audit:failover:"
MULTI_KEY_COMMANDS = frozenset({"del", "exists"})
SCRIPT_COMMANDS = frozenset({"eval", "evalsha"})
# Arguments no policy lets through: TAKEOVER skips the election and breaks "last failover wins".
FORBIDDEN_ARGUMENTS = {"cluster|failover": frozenset({b"takeover"})}

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


def _keys_of(key: str, argv: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """The key arguments of a keyed command; none (refused) when they cannot be told apart."""
    if key in MULTI_KEY_COMMANDS:
        return argv[1:]
    if key in SCRIPT_COMMANDS:  # EVAL script numkeys key... arg...
        count = argv[2] if len(argv) > 2 else b""
        if not count.isdigit() or not 0 < int(count) <= len(argv) - 3:
            return ()
        return argv[3:3 + int(count)]
    return argv[1:2]


class GuardedPacker:
    """Wraps redis-py's command packer: packs, then judges what was packed, before anything is sent."""

    def __init__(self, inner: object, policy: CommandPolicy) -> None:
        self._inner = inner
        self.policy = policy

    def pack(self, *args: object) -> list[bytes]:
        packed = b"".join(self._inner.pack(*args))  # type: ignore[attr-defined]
        return [self.policy.judged(packed)]

    def judged(self, command: Any) -> Judged:
        """What send_packed_command is given (bytes, text or a list of chunks), judged as one buffer."""
        if type(command) is Judged:
            return command
        if isinstance(command, str):
            command = command.encode("utf-8")
        if isinstance(command, list | tuple):
            if command and all(type(c) is Judged for c in command):
                return Judged(b"".join(command))
            command = b"".join(bytes(c) for c in command)
        return self.policy.judged(command)

    def per_key_template(self, *commands: tuple[tuple[bytes, ...], tuple[bytes, ...]]) -> KeyTemplate:
        """Several commands on one key, checked once per shape, filled for many keys (the census).

        Each command is ``(head, tail)`` around the key: ``((b"MEMORY", b"USAGE"), ())``. Every shape
        is judged here with a placeholder key; `KeyTemplate.fill` then writes each key as one bulk
        string of its exact length, so a key is data and cannot change which command is sent.
        """
        parts = []
        for head, tail in commands:
            args = (*head, b"key", *tail)
            self.policy.check(args)
            if wire_key(args) in self.policy.keyed:  # its key prefix must be checked key by key
                raise CommandNotAllowed(f"{wire_key(args)} per-key template", self.policy.name)
            parts.append(b"*%d\r\n" % (len(head) + 1 + len(tail)) + _bulks(head) + b"%b" + _bulks(tail))
        return KeyTemplate(b"".join(parts), len(parts))


@dataclass(frozen=True)
class KeyTemplate:
    """RESP for a few commands on one key, with one ``%b`` per command where the key goes."""

    template: bytes
    uses: int

    def fill(self, keys: Sequence[bytes]) -> Judged:
        """The commands for every key: each key one length-prefixed bulk string (binary-safe)."""
        template, uses = self.template, self.uses
        bulks = [b"$%d\r\n%b\r\n" % (len(key), key) for key in keys]
        # One branch per use count: the census fills millions of keys, a tuple per key would show.
        if uses == 3:
            return Judged(b"".join([template % (bulk, bulk, bulk) for bulk in bulks]))
        if uses == 2:
            return Judged(b"".join([template % (bulk, bulk) for bulk in bulks]))
        if uses == 1:
            return Judged(b"".join([template % (bulk,) for bulk in bulks]))
        return Judged(b"".join([template % ((bulk,) * uses) for bulk in bulks]))


class GuardedSend:
    """Mixed into a redis-py connection class: `send_packed_command`, the one call every command of
    redis-py goes through (send_command, pipelines, the handshake, health checks) and the one a
    caller could hand raw bytes to, sends only what the connection's policy judged."""

    _command_packer: GuardedPacker

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        judged = self._command_packer.judged(command)  # raises CommandNotAllowed before any byte is sent
        super().send_packed_command([judged], check_health)  # type: ignore[misc]


def _bulks(args: tuple[bytes, ...]) -> bytes:
    if any(b"%" in a for a in args):
        raise ValueError("a per-key template argument cannot contain '%'")
    return b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)


def acl_rule_tokens(commands: Iterable[AllowedCommand], version: tuple[int, int]) -> list[str]:
    """ACL SETUSER tokens granting exactly these commands on a server of this version."""
    tokens = sorted({f"+{c.name}" for c in commands if c.for_acl and version >= c.since})
    return ["resetkeys", "resetchannels", "-@all", *tokens]
