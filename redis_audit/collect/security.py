"""Security facts beyond INFO and CONFIG: the TLS protocol floor, what the application user may run,
which principals replicas and Sentinels use, renamed commands, and Sentinel's own authentication.

Every command here is read-only: ACL DRYRUN only evaluates the ACL rules and executes nothing;
the TLS probe completes a handshake and closes the socket without sending a command.
"""

from __future__ import annotations

import socket
import ssl
import warnings
from typing import Any

from redis_audit.collect.base import CollectContext, NodeSession
from redis_audit.collect.probes import ping_without_credentials
from redis_audit.deadline import Deadline, handshake_guard
from redis_audit.jsonvalue import JsonObject, JsonValue
from redis_audit.snapshot import Fact
from redis_audit.target import TlsOptions
from redis_audit.topology import DATA_ROLES, Role

# TLS-002: the protocol versions a server must refuse, and the one it must accept (the control).
LEGACY_PROTOCOLS: tuple[tuple[str, ssl.TLSVersion], ...] = (
    ("TLSv1", ssl.TLSVersion.TLSv1),
    ("TLSv1.1", ssl.TLSVersion.TLSv1_1),
)
CONTROL_PROTOCOL = ("TLSv1.2", ssl.TLSVersion.TLSv1_2)
# OpenSSL 3's default security level forbids TLS 1.0/1.1 on the client side: level 0 lets the
# probe offer them, so that a refusal really comes from the server.
_PROBE_CIPHERS = "DEFAULT:@SECLEVEL=0"
_LOCAL_REFUSALS = ("NO_PROTOCOLS_AVAILABLE", "no protocols available", "UNSUPPORTED_PROTOCOL")


def protocol_handshake(host: str, port: int, version: ssl.TLSVersion, tls: TlsOptions, timeout: float,
                       deadline: Deadline | None = None) -> JsonObject:
    """One handshake pinned to `version`: accepted, or who refused it (server, client, network)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the probe asks which protocols the server speaks, nothing else
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1 is deprecated: that is the point
        context.minimum_version = version
        context.maximum_version = version
    try:
        context.set_ciphers(_PROBE_CIPHERS)
        if tls.cert_file and tls.key_file:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    except ssl.SSLError as exc:
        return {"accepted": False, "refusedBy": "client", "error": f"{type(exc).__name__}: {exc}"}
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                handshake_guard(raw, timeout, f"a TLS handshake with {host}:{port}", deadline), \
                context.wrap_socket(raw) as conn:
            return {"accepted": True, "negotiated": str(conn.version())}
    except ssl.SSLError as exc:
        text = str(exc)
        local = any(marker in text for marker in _LOCAL_REFUSALS) and "alert" not in text
        return {"accepted": False, "refusedBy": "client" if local else "server", "error": text}
    except OSError as exc:
        return {"accepted": False, "refusedBy": "network", "error": f"{type(exc).__name__}: {exc}"}


class TlsProtocolProbe:
    """TLS-002: try TLS 1.0 and 1.1 handshakes (they must be refused) and a TLS 1.2 control."""

    name = "probe.tls_protocols"
    roles = frozenset(Role)
    commands: tuple[str, ...] = ()  # handshakes only, no command
    provides: tuple[str, ...] = ("probe.tls_protocols",)

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        return ctx.target.tls.enabled

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        address = session.node.address
        attempts: list[JsonValue] = []
        for label, version in (*LEGACY_PROTOCOLS, CONTROL_PROTOCOL):
            result = protocol_handshake(address.host, address.port, version, ctx.target.tls,
                                        session.timeouts.connect_s, session.deadline)
            attempts.append({"protocol": label, **result})
        return {self.name: Fact(value={"address": str(address), "attempts": attempts})}


# ACL-001: what the application user must not be able to run (ACL DRYRUN executes none of them).
DANGEROUS_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("CONFIG", "GET", "maxmemory"),
    ("CONFIG", "SET", "maxmemory", "0"),
    ("FLUSHALL",),
    ("FLUSHDB",),
    ("KEYS", "*"),
    ("DEBUG", "SLEEP", "0"),
    ("SCRIPT", "FLUSH"),
    ("SHUTDOWN",),
    ("REPLICAOF", "NO", "ONE"),
    ("MODULE", "LIST"),
    ("ACL", "SETUSER", "redis-audit-probe"),
    ("CLIENT", "KILL", "TYPE", "normal"),
    ("BGSAVE",),
    ("MONITOR",),
)
# ACL-002: a key outside every limiter prefix, read and written.
OUTSIDE_KEY = "redis-audit:outside-every-prefix"
KEY_SCOPE_COMMANDS: tuple[tuple[str, ...], ...] = (("GET", OUTSIDE_KEY), ("SET", OUTSIDE_KEY, "1"))


def dryrun_result(command: tuple[str, ...], reply: Any) -> JsonObject:
    text = str(reply)
    return {"command": " ".join(command), "allowed": text == "OK", "reply": text}


class AclDryRunCollector:
    """ACL-001/002: ACL DRYRUN <app user> <command> for each dangerous command and out-of-prefix key."""

    name = "acl.dryrun"
    roles = DATA_ROLES
    commands: tuple[str, ...] = ("acl|dryrun",)
    provides: tuple[str, ...] = ("acl.dryrun",)

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        return session.node.role in self.roles and bool(ctx.profile.application.user)

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        user = ctx.profile.application.user
        first = DANGEROUS_COMMANDS[0]
        probe = session.attempt(lambda r: dryrun_result(first, r), "ACL", "DRYRUN", user, *first)
        if probe.error is not None:
            if "not found" in probe.error.message.lower():
                return {self.name: Fact(value={"user": user, "exists": False, "commands": [], "keys": []})}
            return {self.name: probe}  # denied, or a server before 7.0: the check falls back to the rules
        commands: list[JsonValue] = [probe.value]
        for command in DANGEROUS_COMMANDS[1:]:
            commands.append(self._one(session, user, command))
        keys: list[JsonValue] = [self._one(session, user, command) for command in KEY_SCOPE_COMMANDS]
        return {self.name: Fact(value={"user": user, "exists": True, "commands": commands, "keys": keys})}

    @staticmethod
    def _one(session: NodeSession, user: str, command: tuple[str, ...]) -> JsonValue:
        fact = session.attempt(lambda r: dryrun_result(command, r), "ACL", "DRYRUN", user, *command)
        if fact.error is not None:  # e.g. a command this server does not know: not runnable either
            return {"command": " ".join(command), "allowed": False, "reply": fact.error.message}
        return fact.value


# SEC-001 before 7.0: a dangerous command that COMMAND INFO does not know was renamed away.
RENAMEABLE_COMMANDS: tuple[str, ...] = ("CONFIG", "DEBUG", "MODULE", "FLUSHALL")


def parse_command_info(reply: Any) -> JsonValue:
    entries = reply if isinstance(reply, list) else []
    return {name.lower(): entry is not None for name, entry in zip(RENAMEABLE_COMMANDS, entries, strict=False)}


class CommandInfoCollector:
    """Which dangerous commands exist under their own name (nil from COMMAND INFO = renamed or removed)."""

    name = "command.info"
    roles = DATA_ROLES
    commands: tuple[str, ...] = ("command|info",)
    provides: tuple[str, ...] = ("command.info",)

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        return session.node.role in self.roles

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        return {self.name: session.attempt(parse_command_info, "COMMAND", "INFO", *RENAMEABLE_COMMANDS)}


class SentinelUnauthenticatedProbe:
    """AUTH-004: SENTINEL MASTERS from a client that never authenticated must get NOAUTH."""

    name = "probe.sentinel_unauthenticated"
    roles = frozenset({Role.SENTINEL})
    commands: tuple[str, ...] = ()  # sent without credentials: no ACL grants it
    provides: tuple[str, ...] = ("probe.sentinel_unauthenticated",)

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        return session.node.role is Role.SENTINEL

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        result = ping_without_credentials(session.node.address, ctx.target.tls, session, ("SENTINEL", "MASTERS"))
        return {self.name: Fact(value=result)}
