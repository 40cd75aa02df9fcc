"""The guard judges the bytes that go on the wire, at the lowest layer every path uses.

Every bypass of the allowlist through redis-py's argument splitting (spaces, tabs, case, lookalike
letters), pipelines, raw `send_packed_command` buffers (inline commands, several commands in one
buffer, half a command, lying lengths), the latency probe's own RESP connection and the census's
raw writes is refused before a byte is sent: a recording proxy in front of a real server sees
nothing, the application key survives and the server counted no such command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from redis_audit.client import open_client
from redis_audit.failover.connections import CanaryConnection
from redis_audit.guard import (
    CANARY_KEY_PREFIX,
    FAILOVER_CANARY,
    FAILOVER_CONTROL,
    LATENCY_PROBE_WRITES,
    READ_ONLY,
    CommandNotAllowed,
    CommandPolicy,
    GuardedPacker,
    parse_packed,
)
from redis_audit.keyspace.wire import Link
from redis_audit.probes.resp import ProbeConnection
from redis_audit.sandbox import Sandbox, SandboxSpec
from redis_audit.secret import Secret
from redis_audit.target import Credentials, TlsOptions
from redis_audit.topology import Address
from tests.recording_proxy import RecordingProxy

VICTIM = "app:victim"
CANARY = CANARY_KEY_PREFIX + "x"
PING = b"*1\r\n$4\r\nPING\r\n"
WRITE_POLICIES = [FAILOVER_CONTROL, FAILOVER_CANARY, LATENCY_PROBE_WRITES, READ_ONLY]

# (args of execute_command) that redis-py would turn into a write the policy must not allow.
SPLIT_BYPASSES: list[tuple[Any, ...]] = [
    (f"DEL {VICTIM}", CANARY),  # redis-py splits the first argument after the guard used to look
    (f"del\t{VICTIM}", CANARY),
    (f"DEL {VICTIM} {CANARY}",),
    (f"DEL\x0b{VICTIM}\x0c{CANARY}",),
    (f"DEL\n{VICTIM}", CANARY),
    (f"DEL {VICTIM}".encode(), CANARY.encode()),
    (f"LRANGE {VICTIM}", "0", "-1"),
    (f"RPUSH {VICTIM}", "x"),
    ("CLUSTER FAILOVER TAKEOVER",),
    ("cluster failover", "TaKeOvEr"),
    ("CLUSTER", "FAILOVER TAKEOVER"),
    ("CLUSTER\tFAILOVER\tTAKEOVER",),
    ("D\u0415L", VICTIM),  # a Cyrillic E
    ("\u1d05EL", VICTIM),  # a small-capital D
    ("DEL\u3000" + VICTIM, CANARY),  # an ideographic space: redis-py does not split it
    ("DEL\x00", VICTIM),
    ("FLUSHALL",),
    ("flushall async",),
    (f"SET {VICTIM} pwned",),
    ("SET", VICTIM, "pwned"),
    ("CONFIG SET maxmemory 1",),
]

# Reads of an application key are refused only where keys are confined to the canary's prefix.
KEYED_BYPASSES: list[tuple[Any, ...]] = [(f"EXISTS {VICTIM}", CANARY), ("EXISTS", CANARY, VICTIM)]

RAW_BUFFERS: list[Any] = [
    f"DEL {VICTIM}\r\n".encode(),  # an inline command
    f"DEL {VICTIM}\r\n",  # the same, as text
    PING + f"DEL {VICTIM}\r\n".encode(),  # inline after a good command
    PING + b"*2\r\n$3\r\nDEL\r\n$10\r\napp:victim\r\n",  # several commands in one buffer
    [PING, b"*2\r\n$3\r\nDEL\r\n", b"$10\r\napp:victim\r\n"],  # chunks that join into a DEL
    b"*2\r\n$3\r\nDEL\r\n",  # half a command (the rest could follow in the next send)
    b"*2\r\n$3\r\nDEL\r\n$3\r\napp:victim\r\n",  # a length that lies
    b"*2\r\n$3\r\nDEL\r\n$010\r\napp:victim\r\n",  # a non-canonical length
    b"*3\r\n$3\r\nSET\r\n$10\r\napp:victim\r\n$5\r\npwned\r\n",  # SET through send_packed_command
    b"*1\r\n$8\r\nFLUSHALL\r\n",
    b"*0\r\n",
    b"",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, RecordingProxy]]:
    from tests.conftest import start_tracked, stop_tracked

    sandbox = start_tracked(SandboxSpec(topology="standalone"), tmp_path_factory.mktemp("guard-wire"))
    with RecordingProxy(sandbox.info.nodes[0].port) as proxy:
        yield sandbox, proxy
    stop_tracked(sandbox)


@pytest.fixture
def clean(server: tuple[Sandbox, RecordingProxy]) -> Iterator[tuple[Sandbox, RecordingProxy, Address, Credentials]]:
    sandbox, proxy = server
    admin = sandbox.admin_client(sandbox.info.nodes[0])
    admin.set(VICTIM, "precious")
    admin.config_resetstat()
    # admin: a user the server would let do all of it, so only the guard stands in the way.
    credentials = Credentials("admin", Secret(sandbox.password("admin")))
    yield sandbox, proxy, Address("127.0.0.1", proxy.port), credentials
    assert admin.get(VICTIM) == "precious"
    stats = admin.info("commandstats")
    assert not {"cmdstat_del", "cmdstat_set", "cmdstat_flushall", "cmdstat_cluster|failover",
                "cmdstat_config|set", "cmdstat_rpush", "cmdstat_lrange"} & set(stats), sorted(stats)


def assert_only_ping_after(proxy: RecordingProxy, attempts: Callable[[], None], ping: Callable[[], object]) -> None:
    """After the refused attempts, a PING on the same connection: the proxy saw the PING alone."""
    proxy.clear()
    attempts()
    ping()  # a round trip on the same connection: anything the attempts wrote would be recorded first
    assert proxy.sent() == PING, proxy.sent()[:200]


def redis_py_clients(address: Address, credentials: Credentials) -> list[tuple[str, CommandPolicy, redis.Redis]]:
    clients = [(policy.name, policy, open_client(address, tls=TlsOptions(), credentials=credentials, policy=policy,
                                                 client_name=None)) for policy in WRITE_POLICIES]
    canary_pool = redis.ConnectionPool(connection_class=CanaryConnection, host=address.host, port=address.port,
                                       username=credentials.user, protocol=2,
                                       password=credentials.password.reveal() if credentials.password else None)
    clients.append(("failover canary connection class", FAILOVER_CANARY, redis.Redis(connection_pool=canary_pool)))
    return clients


def test_redis_py_argument_splitting_and_pipelines_are_judged_as_sent(clean) -> None:
    _, proxy, address, credentials = clean
    for name, policy, client in redis_py_clients(address, credentials):
        client.ping()  # connected (AUTH, HELLO...) before recording starts

        def attempts(client: redis.Redis = client, name: str = name, policy: CommandPolicy = policy) -> None:
            for args in [*SPLIT_BYPASSES, *(KEYED_BYPASSES if "exists" in policy.keyed else [])]:
                with pytest.raises(CommandNotAllowed):
                    client.execute_command(*args)
                    pytest.fail(f"{name}: {args!r} passed the guard")
            pipe = client.pipeline(transaction=False)
            pipe.execute_command("PING")
            pipe.execute_command(f"DEL {VICTIM}", CANARY)
            with pytest.raises(CommandNotAllowed):
                pipe.execute()

        assert_only_ping_after(proxy, attempts, client.ping)
        client.close()


def test_raw_buffers_through_send_packed_command_are_judged(clean) -> None:
    _, proxy, address, credentials = clean
    for name, _policy, client in redis_py_clients(address, credentials):
        conn = client.connection_pool.get_connection()
        conn.send_command("PING")
        conn.read_response()

        def attempts(conn: Any = conn, name: str = name) -> None:
            for buffer in RAW_BUFFERS:
                with pytest.raises(CommandNotAllowed):
                    conn.send_packed_command(buffer)
                    pytest.fail(f"{name}: {buffer!r} passed the guard")
            with pytest.raises(CommandNotAllowed):
                conn.send_command(f"DEL {VICTIM}", CANARY)

        def ping(conn: Any = conn) -> object:
            conn.send_packed_command(PING)  # raw bytes that are one allowed command do go out
            return conn.read_response()

        assert_only_ping_after(proxy, attempts, ping)
        client.connection_pool.release(conn)
        client.close()


def test_the_latency_probe_connection_judges_what_it_packs(clean) -> None:
    _, proxy, address, credentials = clean
    conn, _ = ProbeConnection.open(address, tls=TlsOptions(), credentials=credentials, policy=LATENCY_PROBE_WRITES,
                                   connect_timeout_s=2, read_timeout_s=2)

    def attempts() -> None:
        for args in [*SPLIT_BYPASSES[:9], ("DEL", VICTIM), ("FLUSHALL",), ("EVAL", "return 1", "0", "x y")]:
            with pytest.raises(CommandNotAllowed):
                conn.send(*args)
            with pytest.raises(CommandNotAllowed):
                conn.prepare(*args)
        for buffer in RAW_BUFFERS:
            if isinstance(buffer, bytes):
                with pytest.raises(CommandNotAllowed):
                    conn._send(buffer)

    assert_only_ping_after(proxy, attempts, lambda: conn.call("PING"))
    conn.close()


def test_the_census_link_judges_raw_writes_and_keys_stay_data(clean) -> None:
    _, proxy, address, credentials = clean
    link = Link(open_client(address, tls=TlsOptions(), credentials=credentials, decode=False, client_name=None))
    link.send(link.pack(b"PING"), 1)
    link.read(1)

    def attempts() -> None:
        for buffer in RAW_BUFFERS:
            if isinstance(buffer, bytes):
                with pytest.raises(CommandNotAllowed):
                    link.send(buffer, 1)
        with pytest.raises(CommandNotAllowed):
            link.per_key_template(((b"TYPE",), ()), ((b"DEL",), ()))

    assert_only_ping_after(proxy, attempts, lambda: (link.send(link.pack(b"PING"), 1), link.read(1)))
    # A key that holds a whole command is one bulk string: TYPE of a strange key, never a FLUSHALL.
    hostile = b"x\r\n*1\r\n$8\r\nFLUSHALL\r\n"
    link.send(link.per_key_template(((b"TYPE",), ())).fill([hostile, VICTIM.encode()]), 2)
    assert link.read(2) == [b"none", b"string"]
    link.close()


# -- the property, without a server: what the guard accepts is what the server will run ----------

WORDS = ["DEL", "del", "dEl", VICTIM, CANARY, "CLUSTER", "FAILOVER", "TAKEOVER", "takeover", "FORCE", "SET",
         "PING", "EXISTS", "LRANGE", "0", "-1", "D\u0415L", "x"]
SEPARATORS = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\u3000", "\xa0", "  "]
ARG = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).flatmap(
    lambda words: st.lists(st.sampled_from(SEPARATORS), min_size=len(words) - 1, max_size=len(words) - 1)
    .map(lambda seps: "".join(w + s for w, s in zip(words, [*seps, ""], strict=True))))


CONTROL_PACKER = GuardedPacker(redis.Connection()._command_packer, FAILOVER_CONTROL)  # redis-py's own packer


@settings(max_examples=300, deadline=None)
@given(args=st.lists(ARG, min_size=1, max_size=3), as_bytes=st.booleans())
def test_whatever_the_packer_is_given_the_bytes_it_lets_out_obey_the_policy(args: list[str], as_bytes: bool) -> None:
    packer = CONTROL_PACKER
    values = [a.encode() for a in args] if as_bytes else args
    try:
        packed = packer.pack(*values)
    except CommandNotAllowed:
        return
    for argv in parse_packed(b"".join(packed)):
        name = argv[0].lower()
        assert name in {b"del", b"exists", b"lrange", b"cluster", b"ping", b"failover"}, argv
        if name in (b"del", b"exists"):
            assert all(k.startswith(CANARY_KEY_PREFIX.encode()) for k in argv[1:]), argv
        if name == b"lrange":
            assert argv[1].startswith(CANARY_KEY_PREFIX.encode()), argv
        if name == b"cluster":
            assert b"takeover" not in [a.lower() for a in argv], argv


@settings(max_examples=300, deadline=None)
@given(commands=st.lists(st.lists(st.binary(max_size=12), min_size=1, max_size=4), min_size=1, max_size=3),
       noise=st.binary(max_size=6), position=st.integers(min_value=0))
def test_a_buffer_the_guard_parses_means_exactly_that_to_the_server(commands: list[list[bytes]], noise: bytes,
                                                                     position: int) -> None:
    def pack(argv: list[bytes] | tuple[bytes, ...]) -> bytes:
        return b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in argv)

    data = b"".join(pack(c) for c in commands)
    assert parse_packed(data) == [tuple(c) for c in commands]
    cut = position % (len(data) + 1)
    mangled = data[:cut] + noise + data[cut:]
    try:
        parsed = parse_packed(mangled)
    except ValueError:
        return
    assert b"".join(pack(c) for c in parsed) == mangled  # canonical: no second reading is possible
