"""TLS: clients are forced onto TLS, and verify the server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from redis_audit.check import CheckContext
from redis_audit.model import Finding, Severity
from redis_audit.snapshot import FactUnavailable, NodeSnapshot
from redis_audit.topology import Role

from ._facts import as_int
from .pack import PACK

ALL_ROLES = frozenset(Role)


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ports(node: NodeSnapshot) -> tuple[int | None, int | None]:
    """(tls-port, port) from CONFIG GET, or (None, INFO tcp_port) when CONFIG is unavailable."""
    try:
        return as_int(node.config("tls-port")), as_int(node.config("port"))
    except FactUnavailable:
        return None, as_int(node.info("server", "tcp_port"))


@PACK.check(
    id="TLS-001",
    title="Clients are forced onto TLS",
    severity=Severity.CRITICAL,
    category="tls",
    verifies="tls-port is set, the plaintext port is 0, and a plaintext connection to the node really fails.",
    risk="A plaintext port lets passwords and limiter data cross the network unencrypted, even when a TLS "
    "port also exists.",
    remediation="Set tls-port, port 0, tls-replication yes (and tls-cluster yes); connect clients with rediss://.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/security/encryption/",),
    needs=("config", "probe.plaintext"),
    roles=ALL_ROLES,
)
def tls_forced(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    if not ctx.snapshot.target.tls:
        # The audit itself got in over plaintext: that is the proof.
        tls_port, port = _ports(node) if node.role is not Role.SENTINEL else (None, None)
        yield ctx.failed(node, "the node serves plaintext clients (this audit connected without TLS)",
                         observed={"auditedOverTls": False, "tlsPort": tls_port, "port": port},
                         expected={"tlsPort": "> 0", "port": 0})
        return
    probe = node.fact("probe.plaintext")
    attempts: list[Any] = probe.get("attempts", []) if isinstance(probe, dict) else []
    served = [a for a in attempts if isinstance(a, dict) and a.get("answered")]
    port = probe.get("plaintextPort") if isinstance(probe, dict) else None
    observed = {"auditedOverTls": True, "plaintextPort": port,
                "plaintextAttempts": [{"address": a.get("address"), "answered": a.get("answered"),
                                       "reply": a.get("reply")} for a in attempts if isinstance(a, dict)]}
    if served:
        where = ", ".join(str(a.get("address")) for a in served)
        yield ctx.failed(node, f"a plaintext client was answered at {where}", observed=observed,
                         expected="plaintext connections fail")
    elif port:
        yield ctx.warned(node, f"plaintext port {port} is configured, though the probe got no answer",
                         observed=observed, expected={"port": 0})
    else:
        yield ctx.passed(node, "TLS only: plaintext port closed and a plaintext connection failed",
                         observed=observed)


@PACK.check(
    id="TLS-003",
    title="The server certificate verifies: chain, hostname and expiry",
    severity=Severity.HIGH,
    category="tls",
    verifies="The audit verified the server certificate (no --tls-insecure), the chain and hostname verify "
    "against the CA, and the certificate is not close to expiry.",
    risk="A client that does not verify the server certificate can be intercepted; an expiring certificate "
    "takes the service down on the day it lapses.",
    remediation="Verify certificates in every client (ssl_cert_reqs=required with the CA bundle), issue "
    "certificates whose SAN matches the endpoint, and renew well before notAfter.",
    needs=("tls.handshake",),
    roles=ALL_ROLES,
)
def certificate_verifies(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    if not ctx.snapshot.target.tls:
        yield ctx.skipped(node, "the target does not use TLS (see TLS-001)")
        return
    handshake = node.fact("tls.handshake")
    hs = handshake if isinstance(handshake, dict) else {}
    cert = _table(hs.get("certificate"))
    verification = _table(hs.get("verification"))
    days_left = int(cert.get("secondsToExpiry", 0)) // 86400 if cert else None
    observed = {"clientVerifies": hs.get("clientVerifies"), "chainAndHostname": verification,
                "notAfter": cert.get("notAfter") if cert else None, "daysToExpiry": days_left,
                "protocol": hs.get("protocol")}
    if not ctx.snapshot.target.tls_verify:
        yield ctx.failed(node, "certificate verification was turned off for this audit (--tls-insecure)",
                         observed=observed, expected="certificate verification on")
    elif not verification.get("ok"):
        yield ctx.failed(node, f"certificate does not verify: {verification.get('error')}", observed=observed)
    elif days_left is not None and days_left < 7:
        yield ctx.failed(node, f"certificate expires in {days_left} days", observed=observed,
                         expected=">= 7 days")
    elif days_left is not None and days_left < 30:
        yield ctx.warned(node, f"certificate expires in {days_left} days", observed=observed,
                         expected=">= 30 days")
    else:
        yield ctx.passed(node, f"certificate verifies; {days_left} days to expiry", observed=observed)
