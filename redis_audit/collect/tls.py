"""What a client sees of TLS: the negotiated protocol and cipher, and the server's certificate."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from typing import Any

from cryptography import x509

from redis_audit.collect.base import CollectContext, NodeSession, classify_error
from redis_audit.deadline import Deadline, handshake_guard
from redis_audit.jsonvalue import JsonObject
from redis_audit.snapshot import Fact
from redis_audit.topology import Role


def describe_certificate(der: bytes, now: dt.datetime) -> JsonObject:
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(v) for v in san.get_values_for_type(x509.DNSName)]
        names += [str(v) for v in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = []
    not_after = cert.not_valid_after_utc
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "subjectAltNames": names,
        "notBefore": cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "notAfter": not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "secondsToExpiry": int((not_after - now).total_seconds()),
        "serial": format(cert.serial_number, "x"),
    }


def verifying_handshake(host: str, port: int, ca_file: str | None, timeout: float,
                        deadline: Deadline | None = None) -> JsonObject:
    """Whether the server's chain and hostname verify against the CA, as a strict client would see it."""
    context = ssl.create_default_context(cafile=ca_file)
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                handshake_guard(raw, timeout, f"the verifying TLS handshake with {host}:{port}", deadline), \
                context.wrap_socket(raw, server_hostname=host) as tls:
            return {"ok": True, "protocol": str(tls.version())}
    except ssl.SSLCertVerificationError as exc:
        return {"ok": False, "error": str(exc.verify_message or exc)}
    except (OSError, ssl.SSLError) as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


class TlsCollector:
    name = "tls"
    roles = frozenset(Role)
    commands: tuple[str, ...] = ()  # reads the session's own TLS socket
    provides: tuple[str, ...] = ("tls.handshake",)

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        return ctx.target.tls.enabled

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        try:
            handshake = self._handshake(session)
        except Exception as exc:
            return {"tls.handshake": Fact(error=classify_error(exc, "tls-handshake"))}
        tls = ctx.target.tls
        handshake["clientVerifies"] = tls.verify
        handshake["verification"] = verifying_handshake(
            session.node.address.host,
            session.node.address.port,
            str(tls.ca_file) if tls.ca_file else None,
            session.timeouts.connect_s,
            session.deadline,
        )
        return {"tls.handshake": Fact(value=handshake)}

    @staticmethod
    def _handshake(session: NodeSession) -> JsonObject:
        pool = session.client.connection_pool
        connection: Any = pool.get_connection()
        try:
            sock = getattr(connection._sock, "raw", connection._sock)  # under the BoundedSocket
            if not isinstance(sock, ssl.SSLSocket):
                raise ssl.SSLError("the connection is not TLS")
            der = sock.getpeercert(binary_form=True)
            cipher = sock.cipher()
            out: JsonObject = {
                "protocol": str(sock.version()),
                "cipher": cipher[0] if cipher else None,
                "certificate": describe_certificate(der, dt.datetime.now(dt.UTC)) if der else None,
            }
            return out
        finally:
            pool.release(connection)
