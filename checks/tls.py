"""TLS: clients are forced onto TLS, and verify the server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from redis_audit.check import CheckContext
from redis_audit.facts.values import as_int
from redis_audit.jsonvalue import JsonObject, as_object
from redis_audit.model import Finding, Severity
from redis_audit.snapshot import FactUnavailable, NodeSnapshot
from redis_audit.topology import DeploymentKind, Role
from redis_audit.wording import plural

from ._facts import optional, unless_required
from .pack import PACK

ALL_ROLES = frozenset(Role)


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
@unless_required("require_tls")
def tls_forced(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    if not ctx.snapshot.target.tls:
        # The audit itself got in over plaintext: that is the proof.
        tls_port, port = _ports(node) if node.role is not Role.SENTINEL else (None, None)
        yield ctx.failed(node, "the node serves plaintext clients (this audit connected without TLS)",
                         observed={"auditedOverTls": False, "tlsPort": tls_port, "port": port},
                         expected={"tlsPort": "> 0", "port": 0})
        return
    probe = node.fact("probe.plaintext")
    configured = optional(lambda: _ports(node)) if node.role is not Role.SENTINEL else None
    attempts: list[Any] = probe.get("attempts", []) if isinstance(probe, dict) else []
    served = [a for a in attempts if isinstance(a, dict) and a.get("answered")]
    port = probe.get("plaintextPort") if isinstance(probe, dict) else None
    if port == node.address.port or (configured is not None and configured[1] == 0):
        port = None  # INFO tcp_port names the TLS port when port is 0; CONFIG GET port 0 settles it
    observed = {"auditedOverTls": True, "plaintextPort": port,
                "plaintextAttempts": [{"address": a.get("address"), "answered": a.get("answered"),
                                       "reply": a.get("reply")} for a in attempts if isinstance(a, dict)],
                "configured": None if configured is None else {"tlsPort": configured[0], "port": configured[1]}}
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
    "against the CA, and the certificate is not close to expiry: WARN under tls.cert_warn_days (30), FAIL "
    "under tls.cert_fail_days (7). The catalogue proposes these numbers; renewal lead time is a team decision, "
    "so both are profile settings.",
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
    warn_days, fail_days = ctx.profile.tls.cert_warn_days, ctx.profile.tls.cert_fail_days
    handshake = node.fact("tls.handshake")
    hs = as_object(handshake)
    cert = as_object(hs.get("certificate"))
    verification = as_object(hs.get("verification"))
    days_left = int(cert.get("secondsToExpiry", 0)) // 86400 if cert else None
    observed = {"clientVerifies": hs.get("clientVerifies"), "chainAndHostname": verification,
                "notAfter": cert.get("notAfter") if cert else None, "daysToExpiry": days_left,
                "protocol": hs.get("protocol")}
    if not ctx.snapshot.target.tls_verify:
        yield ctx.failed(node, "certificate verification was turned off for this audit (--tls-insecure)",
                         observed=observed, expected="certificate verification on")
    elif not verification.get("ok"):
        yield ctx.failed(node, f"certificate does not verify: {verification.get('error')}", observed=observed)
    elif days_left is not None and days_left < fail_days:
        yield ctx.failed(node, f"certificate expires in {plural(days_left, 'day')}", observed=observed,
                         expected=f">= {plural(fail_days, 'day')}")
    elif days_left is not None and days_left < warn_days:
        yield ctx.warned(node, f"certificate expires in {plural(days_left, 'day')}", observed=observed,
                         expected=f">= {plural(warn_days, 'day')}")
    else:
        left = plural(days_left, "day") if days_left is not None else "unknown time"
        yield ctx.passed(node, f"certificate verifies; {left} to expiry", observed=observed)


@PACK.check(
    id="TLS-002",
    title="The TLS protocol floor is 1.2: TLS 1.0 and 1.1 handshakes are refused",
    severity=Severity.HIGH,
    category="tls",
    verifies="An active probe offers the node a TLS 1.0 and a TLS 1.1 handshake (with OpenSSL's security level "
    "lowered on the client, so that a refusal comes from the server) and both are refused, while a TLS 1.2 "
    "handshake succeeds. Where this host cannot offer the old protocols at all, CONFIG GET tls-protocols must "
    "list only TLSv1.2/TLSv1.3 (empty means that default).",
    risk="TLS 1.0/1.1 are formally deprecated and have known downgrade weaknesses; a server that accepts them "
    "lets a weak client (or an attacker forcing a downgrade) talk to it.",
    remediation='tls-protocols "TLSv1.2 TLSv1.3" in the server configuration (CONFIG SET tls-protocols ...), '
    "on data nodes and Sentinels.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/security/encryption/",),
    needs=("probe.tls_protocols", "config"),
    roles=ALL_ROLES,
)
def protocol_floor(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    if not ctx.snapshot.target.tls:
        yield ctx.skipped(node, "the target does not use TLS (see TLS-001)")
        return
    probe = as_object(node.fact("probe.tls_protocols"))
    attempts = [a for a in probe.get("attempts", []) if isinstance(a, dict)]
    legacy = [a for a in attempts if a.get("protocol") in _LEGACY]
    control = next((a for a in attempts if a.get("protocol") == "TLSv1.2"), {})
    configured = optional(lambda: node.config("tls-protocols")) if node.role is not Role.SENTINEL else None
    observed = {"handshakes": attempts, "tlsProtocols": configured}
    expected = {"TLSv1": "refused", "TLSv1.1": "refused", "TLSv1.2": "accepted"}
    accepted = [str(a.get("protocol")) for a in legacy if a.get("accepted")]
    if accepted:
        yield ctx.failed(node, f"the server completed a {' and a '.join(accepted)} handshake", observed=observed,
                         expected=expected)
        return
    untested = [str(a.get("protocol")) for a in legacy if a.get("refusedBy") != "server"]
    if not untested and control.get("accepted"):
        yield ctx.passed(node, "TLS 1.0 and 1.1 handshakes were refused by the server; TLS 1.2 was accepted",
                         observed=observed, expected=expected)
    elif not untested:
        yield ctx.warned(node, "old protocols were refused, but so was the TLS 1.2 control handshake: the refusal "
                         "may not be about the protocol", observed=observed, expected=expected)
    elif configured is not None:
        listed = [p for p in configured.split() if p in _LEGACY]
        if listed:
            yield ctx.failed(node, f"tls-protocols enables {', '.join(listed)}", observed=observed,
                             expected={"tlsProtocols": "TLSv1.2 TLSv1.3"})
        else:
            yield ctx.passed(node, f"tls-protocols is {configured or 'the default (TLSv1.2 TLSv1.3)'}; this host "
                             f"could not offer {', '.join(untested)} itself", observed=observed)
    else:
        yield ctx.skipped(node, f"this host could not offer {', '.join(untested)} and CONFIG GET tls-protocols "
                          "is unavailable; grant +config|get or probe from a host whose OpenSSL allows them",
                          observed=observed)


_LEGACY = ("TLSv1", "TLSv1.1")


@PACK.check(
    id="TLS-004",
    title="Replication, cluster bus and Sentinel links are encrypted too",
    severity=Severity.HIGH,
    category="tls",
    verifies="Wherever clients use TLS: tls-replication yes on every data node of a replicated deployment, "
    "tls-cluster yes in a cluster; a Sentinel reaches its data nodes over TLS (they have no plaintext port "
    "and the Sentinel sees the primary up; Sentinel's own tls-replication cannot be read remotely).",
    risk="With client TLS only, the full dataset and every write still cross the network in clear text between "
    "primary and replicas, cluster nodes or Sentinels.",
    remediation="tls-replication yes (data nodes and Sentinels) and tls-cluster yes in cluster mode, with port 0.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/security/encryption/",),
    needs=("config", "sentinel.master"),
    roles=ALL_ROLES,
)
def links_encrypted(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    if not ctx.snapshot.target.tls:
        yield ctx.skipped(node, "clients do not use TLS here (see TLS-001): no link is encrypted")
        return
    if node.role is Role.SENTINEL:
        yield _sentinel_links(ctx, node)
        return
    kind = ctx.snapshot.topology.kind
    settings = {"tls-replication": node.config("tls-replication")}
    if kind is DeploymentKind.CLUSTER:
        settings["tls-cluster"] = node.config("tls-cluster")
    elif kind is DeploymentKind.STANDALONE:
        yield ctx.passed(node, "standalone: no replication or cluster link to encrypt", observed=settings)
        return
    plain = sorted(k for k, v in settings.items() if v != "yes")
    if plain:
        yield ctx.failed(node, f"client TLS is on but {', '.join(f'{k} is not yes' for k in plain)}",
                         observed=settings, expected=dict.fromkeys(settings, "yes"))
    else:
        yield ctx.passed(node, "replication (and cluster bus) links use TLS", observed=settings,
                         expected=dict.fromkeys(settings, "yes"))


def _sentinel_links(ctx: CheckContext, node: NodeSnapshot) -> Finding:
    master = as_object(node.fact("sentinel.master"))
    flags = str(master.get("flags", "")).split(",")
    plaintext_ports: dict[str, int | None] = {str(d.address): _plaintext_port(d) for d in ctx.snapshot.data_nodes()}
    observed: JsonObject = {"primaryFlags": list(flags), "dataNodePlaintextPorts": dict(plaintext_ports)}
    down = [f for f in flags if f in ("s_down", "o_down", "disconnected")]
    open_ports = sorted(a for a, p in plaintext_ports.items() if p)
    unknown = sorted(a for a, p in plaintext_ports.items() if p is None)
    if down:
        return ctx.failed(node, f"the Sentinel does not reach the primary ({', '.join(down)}): its links may not "
                          "speak TLS (tls-replication no on the Sentinel?)", observed=observed)
    if open_ports:
        return ctx.warned(node, f"data nodes also listen in plaintext ({', '.join(open_ports)}): the Sentinel "
                          "may be using those", observed=observed, expected={"dataNodePlaintextPorts": 0})
    if unknown:
        return ctx.skipped(node, "cannot tell whether data nodes listen in plaintext (CONFIG GET port denied)")
    return ctx.passed(node, "data nodes are TLS-only and the Sentinel sees the primary up: its links use TLS",
                      observed=observed)


def _plaintext_port(node: NodeSnapshot) -> int | None:
    try:
        return as_int(node.config("port"))
    except FactUnavailable:
        return None
