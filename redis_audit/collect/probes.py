"""Active probes: what an unauthenticated client and a plaintext client get from each node.

They use the same guarded connections (only PING is sent), so they stay read-only.
"""

from __future__ import annotations

from redis.exceptions import AuthenticationError
from redis.exceptions import ResponseError as RedisResponseError

from redis_audit.client import open_client
from redis_audit.collect.base import CollectContext, NodeSession, classify_error
from redis_audit.facts.values import as_int
from redis_audit.jsonvalue import JsonObject
from redis_audit.snapshot import Fact
from redis_audit.target import Credentials, TlsOptions
from redis_audit.topology import Address, Role


def ping_without_credentials(address: Address, tls: TlsOptions, session: NodeSession,
                             command: tuple[str, ...] = ("PING",)) -> JsonObject:
    """PING (or `command`) with no AUTH: 'accepted' is True only when the server answered it.

    'answered' is True when any RESP reply came back (NOAUTH included): the address is reachable.
    """
    client = open_client(address, tls=tls, credentials=Credentials(), timeouts=session.timeouts, client_name=None,
                         deadline=session.deadline)
    try:
        reply = client.execute_command(*command)
        text = str(reply) if isinstance(reply, str) else f"{type(reply).__name__} reply"
        return {"address": str(address), "tls": tls.enabled, "accepted": True, "answered": True,
                "reply": text}
    except Exception as exc:
        error = classify_error(exc, command[0].lower())
        # A RESP error reply (NOAUTH, WRONGPASS, NOPERM) proves the server answered in this protocol.
        answered = isinstance(exc, RedisResponseError | AuthenticationError)
        return {"address": str(address), "tls": tls.enabled, "accepted": False, "answered": answered,
                "reply": error.message, "errorClass": type(exc).__name__}
    finally:
        client.close()


class UnauthenticatedProbe:
    """NET-002 / AUTH-004: does the node serve a client that never authenticated?"""

    name = "probe.unauthenticated"
    roles = frozenset(Role)
    commands: tuple[str, ...] = ()  # PING without credentials: no ACL grants it
    provides: tuple[str, ...] = ("probe.unauthenticated",)

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        return True

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        result = ping_without_credentials(session.node.address, ctx.target.tls, session)
        return {self.name: Fact(value=result)}


class PlaintextProbe:
    """TLS-001: with TLS in use, a plaintext client must get nothing, on the TLS port or elsewhere."""

    name = "probe.plaintext"
    roles = frozenset(Role)
    commands: tuple[str, ...] = ("info",)
    provides: tuple[str, ...] = ("probe.plaintext",)

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        return ctx.target.tls.enabled

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        plain = TlsOptions(enabled=False)
        attempts = [ping_without_credentials(session.node.address, plain, session)]
        port = self._plaintext_port(session)
        if port and port != session.node.address.port:
            attempts.append(ping_without_credentials(Address(session.node.address.host, port), plain, session))
        value: JsonObject = {"plaintextPort": port, "attempts": list(attempts)}
        return {self.name: Fact(value=value)}

    @staticmethod
    def _plaintext_port(session: NodeSession) -> int | None:
        """The plaintext port the node listens on besides its TLS port, if any.

        CONFIG GET port is exact; INFO tcp_port is the fallback, and on a TLS-only server it
        reports the TLS port itself, which is not a plaintext port.
        """
        config = session.known("config")
        info = session.known("info")
        if isinstance(config, dict) and "port" in config:
            port = as_int(config["port"])
        elif isinstance(info, dict) and isinstance(info.get("server"), dict):
            port = as_int(info["server"].get("tcp_port"))
        else:
            return None
        if not port or port == session.node.address.port:
            return None
        return port

