"""Active probes: what an unauthenticated client and a plaintext client get from each node.

They use the same guarded connections (only PING is sent), so they stay read-only.
"""

from __future__ import annotations

from redis.exceptions import AuthenticationError
from redis.exceptions import ResponseError as RedisResponseError

from redis_audit.client import open_client
from redis_audit.collect.base import CollectContext, NodeSession, classify_error
from redis_audit.jsonvalue import JsonObject
from redis_audit.snapshot import Fact
from redis_audit.target import Credentials, TlsOptions
from redis_audit.topology import Address, Role


def ping_without_credentials(address: Address, tls: TlsOptions, session: NodeSession) -> JsonObject:
    """PING with no AUTH: 'accepted' is True only when the server answered PONG."""
    client = open_client(address, tls=tls, credentials=Credentials(), timeouts=session.timeouts, client_name=None)
    try:
        reply = client.execute_command("PING")
        return {"address": str(address), "tls": tls.enabled, "accepted": True, "answered": True,
                "reply": str(reply)}
    except Exception as exc:
        error = classify_error(exc, "ping")
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

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        return True

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        result = ping_without_credentials(session.node.address, ctx.target.tls, session)
        return {self.name: Fact(value=result)}


class PlaintextProbe:
    """TLS-001: with TLS in use, a plaintext client must get nothing, on the TLS port or elsewhere."""

    name = "probe.plaintext"
    roles = frozenset(Role)

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
        """The plaintext port the node is configured with (INFO tcp_port), if any."""
        try:
            info = session.client.execute_command("INFO", "server")
        except Exception as exc:
            _ = classify_error(exc, "info")
            return None
        for line in str(info).splitlines():
            if line.startswith("tcp_port:"):
                value = line.split(":", 1)[1].strip()
                return int(value) if value.isdigit() and int(value) > 0 else None
        return None
