"""Which discovered nodes the audit may send its credentials to.

A seed's INFO replication (`slave0:ip=...,port=...`), a Sentinel's replica and peer lists and a
cluster's shard map are what the servers *say*; anyone who can write to a seed's configuration
(`replica-announce-ip`) or run a rogue replica can make them say any address. The auditor's AUTH
goes only to nodes the operator vouched for: the seeds' hosts (any port of a seed host), the
profile's `[target] allowed_hosts` (names, addresses, CIDRs), the node endpoints the AWS control
plane lists, or, on TLS with certificate and host-name verification, a node whose certificate the
handshake verifies before any credential is sent — for a name under a seed's own domain, or for
any name when the operator pinned the CA (`--tls-ca`): with only the system's public CAs, a
certificate for a name the attacker chose proves nothing. Any other node is not contacted at all
and is reported (AUDIT-001) with the address that advertised it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError

from redis_audit.target import Target
from redis_audit.topology import Address

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allowed(entry: str) -> IpNetwork | str:
    """One `[target] allowed_hosts` entry: a network (an address is a /32 or /128) or a host name."""
    text = entry.strip()
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        pass
    name = text.lower().rstrip(".")
    if not name or any(c.isspace() or c in "/[]@" for c in name):
        raise ValueError(f"{entry!r} is neither a host name, an address nor a CIDR")
    return name


@lru_cache(maxsize=256)
def _addresses(host: str) -> frozenset[str]:
    """The addresses a name resolves to (the address itself for an address); empty when it does not."""
    try:
        return frozenset({str(ipaddress.ip_address(host))})
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return frozenset()
    return frozenset(str(ipaddress.ip_address(str(info[4][0]).split("%")[0])) for info in infos)


@dataclass(frozen=True)
class NodeTrust:
    names: frozenset[str]  # seed and allowed host names, lower case
    addresses: frozenset[str]  # what they resolve to, and allowed addresses
    networks: tuple[IpNetwork, ...]
    tls_verified: bool  # TLS with certificate and host-name verification
    ca_pinned: bool  # ... against a CA the operator gave (--tls-ca)
    seed_domains: tuple[str, ...]  # "cache.example.com" for a seed "redis-1.cache.example.com"

    @classmethod
    def for_target(cls, target: Target) -> NodeTrust:
        names: set[str] = set()
        networks: list[IpNetwork] = []
        for host in [*(a.host for a in target.seeds), *target.allowed_hosts]:
            parsed = parse_allowed(host)
            if isinstance(parsed, str):
                names.add(parsed)
            else:
                networks.append(parsed)
        addresses = {ip for name in names for ip in _addresses(name)}
        domains = tuple(sorted({name.split(".", 1)[1] for name in (a.host.lower() for a in target.seeds)
                                if name.count(".") >= 2 and not _is_address(name)}))
        return cls(frozenset(names), frozenset(addresses), tuple(networks), target.tls.enabled and target.tls.verify,
                   target.tls.ca_file is not None, domains)

    def allows(self, address: Address) -> bool:
        host = address.host.lower().rstrip(".")
        if host in self.names:
            return True
        if self.tls_verified and (self.ca_pinned or any(host.endswith("." + d) for d in self.seed_domains)):
            return True  # the handshake verifies the certificate for this name before AUTH is sent
        resolved = _addresses(host)
        if resolved & self.addresses:
            return True
        return any(ipaddress.ip_address(ip) in network for ip in resolved for network in self.networks)

    def refusal(self, address: Address, advertised_by: str) -> str:
        """Why a node is not contacted: for AUDIT-001, naming who advertised it."""
        return (f"not contacted (the audit's credentials go only to expected hosts): advertised by {advertised_by}, "
                f"outside the seeds' hosts and [target] allowed_hosts; add {address.host} (or its network) to "
                "[target] allowed_hosts to audit it")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def with_allowed_hosts(target: Target, hosts: Iterable[str]) -> Target:
    """The target with more hosts the operator vouched for (profile, control plane)."""
    import dataclasses

    extra = tuple(h for h in hosts if h not in target.allowed_hosts)
    return dataclasses.replace(target, allowed_hosts=target.allowed_hosts + extra) if extra else target


class CredentialScoped:
    """Mixed into a redis-py connection class by `scoped`: a connection that carries credentials does not
    even open to a host outside its scope. Discovery already leaves such nodes out; this covers what
    follows addresses later (the failover probe's trigger and canaries, redirected to whatever a
    Sentinel or a MOVED reply names)."""

    credential_scope: NodeTrust | None = None
    host: str
    port: int
    password: str | None

    def _connect(self) -> Any:
        scope, address = self.credential_scope, Address(self.host, int(self.port))
        if scope is not None and self.password is not None and not scope.allows(address):
            raise RedisConnectionError(scope.refusal(address, "a server after discovery (a Sentinel or a redirect)"))
        return super()._connect()  # type: ignore[misc]


def scoped(connection_class: type[Any], scope: NodeTrust) -> type[Any]:
    """`connection_class` whose credentials go only where `scope` allows (usable wherever redis-py
    takes a connection class: pools, Sentinel-managed pools, cluster clients)."""
    return type(f"Scoped{connection_class.__name__}", (CredentialScoped, connection_class),
                {"credential_scope": scope})
