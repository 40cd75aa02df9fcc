"""Small readers shared by the built-in checks (pure functions over snapshot facts)."""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from redis_audit.check import CheckContext
from redis_audit.facts.parse import parse_info_fields
from redis_audit.facts.values import as_int
from redis_audit.jsonvalue import JsonObject, as_object
from redis_audit.model import Finding, Status
from redis_audit.profile import Profile
from redis_audit.snapshot import FactUnavailable, NodeSnapshot, Snapshot
from redis_audit.topology import Address, Node
from redis_audit.wording import plural

T = TypeVar("T")


def acl_users(node: NodeSnapshot) -> dict[str, dict[str, Any]]:
    """ACL GETUSER per user, or parsed from ACL LIST when GETUSER was denied."""
    if node.has("acl.users"):
        users = node.fact("acl.users")
        return {k: v for k, v in as_object(users).items() if isinstance(v, dict)}
    rules = node.fact("acl.list")  # raises FactUnavailable when neither was collected
    parsed: dict[str, dict[str, Any]] = {}
    for rule in rules if isinstance(rules, list) else []:
        tokens = str(rule).split()
        if len(tokens) >= 2 and tokens[0] == "user":
            flags = [t for t in tokens[2:] if t in ("on", "off", "nopass", "skip-sanitize-payload")]
            commands = " ".join(t for t in tokens[2:] if t[:1] in "+-")
            passwords = sum(1 for t in tokens[2:] if t.startswith(("#", ">")))
            keys = " ".join(t for t in tokens[2:] if t.startswith(("~", "%")) or t == "allkeys")
            channels = " ".join(t for t in tokens[2:] if t.startswith("&") or t == "allchannels")
            parsed[tokens[1]] = {"flags": flags, "commands": commands, "passwordCount": passwords,
                                 "keys": keys, "channels": channels}
    return parsed


def flags_of(user: dict[str, Any]) -> list[str]:
    flags = user.get("flags")
    return [str(f) for f in flags] if isinstance(flags, list) else []


def optional(read: Callable[[], T]) -> T | None:
    """A fact that only adds evidence: None when it is unavailable."""
    try:
        return read()
    except FactUnavailable:
        return None


def node_at(snapshot: Snapshot, address: Address) -> Node | None:
    """The topology's node (role, shard, primary) at an address."""
    return next((n for n in snapshot.topology.all_nodes() if n.address == address), None)


def count_field(text: str | None, key: str = "count") -> int:
    """An INFO compound value ('count=3,...' or 'keys=10,expires=2') field as an int."""
    return as_int(parse_info_fields(text or "").get(key))


def replica_lag(snapshot: Snapshot, replica: NodeSnapshot) -> int | None:
    """The lag (seconds since the replica's last ACK) that its primary reports for it, if known."""
    node = node_at(snapshot, replica.address)
    primary = snapshot.node(node.primary) if node is not None and node.primary is not None else None
    if primary is None or not primary.has("info"):
        return None
    for key, text in primary.info_section("replication").items():
        if key.startswith("slave") and key[5:].isdigit():
            fields = parse_info_fields(text)
            if as_int(fields.get("port")) == replica.address.port:
                return as_int(fields.get("lag"), -1) if "lag" in fields else None
    return None


def failure_domain(snapshot: Snapshot, profile: Profile, address: Address) -> tuple[str, str]:
    """(domain, source): a zone from the profile's host map or the node's availability zone, else the host."""
    zones = profile.ha.host_zones
    for key in (str(address), address.host):
        if key in zones:
            return zones[key], "profile"
    node = snapshot.node(address)
    if node is not None:
        zone = optional(lambda: node.config("availability-zone")) or optional(
            lambda: node.info("server", "availability_zone"))
        if zone:
            return zone, "node"
    return f"host {address.host}", "host"


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def domain_spread(snapshot: Snapshot, profile: Profile, addresses: list[Address]) -> dict[str, Any]:
    """How a group of nodes spreads over failure domains: the evidence HA-003 and SEN-001 judge."""
    found = {str(a): failure_domain(snapshot, profile, a) for a in addresses}
    domains = sorted({d for d, _ in found.values()})
    sources = sorted({s for _, s in found.values()})
    return {
        "domains": domains,
        "bySource": sources,
        "members": {a: d for a, (d, _) in found.items()},
        "allLoopback": all(is_loopback(a.host) for a in addresses),
    }


def fact_or_none(node: NodeSnapshot, name: str) -> Any:
    """A fact's value when it was collected, else None (for facts that only add evidence)."""
    return node.fact(name) if node.has(name) else None


def spread_finding(ctx: CheckContext, resource: str, what: str, spread: dict[str, Any],
                    minimum: int = 2) -> Finding:
    """PASS when the group spans `minimum` failure domains; loopback-only groups WARN (cannot be judged)."""
    domains = spread["domains"]
    observed: JsonObject = dict(spread)
    expected: JsonObject = {"failureDomains": f">= {minimum}"}
    if len(domains) >= minimum:
        if spread["bySource"] == ["host"]:
            return ctx.warned(resource, f"{what} spans {plural(len(domains), 'host')}, but their zones are unknown: "
                              "map hosts to zones in [ha] host_zones", observed=observed, expected=expected)
        return ctx.passed(resource, f"{what} spans {plural(len(domains), 'failure domain')}", observed=observed,
                          expected=expected)
    if spread["bySource"] == ["host"] and spread["allLoopback"]:
        return ctx.warned(resource, f"{what} runs on loopback only: failure domains cannot be verified here; map "
                          "addresses to zones in [ha] host_zones", observed=observed, expected=expected)
    return ctx.failed(resource, f"{what} sits in {plural(len(domains), 'failure domain')}: {', '.join(domains)}",
                      observed=observed, expected=expected)


def unless_required(flag: str) -> Callable[[Callable[..., Iterable[Finding]]], Callable[..., Iterator[Finding]]]:
    """For a check the profile can declare not required (security.require_tls / require_auth = false): its
    FAILs become WARNs that say so, so a team's deliberate decision is recorded without hiding the finding."""

    def wrap(check: Callable[..., Iterable[Finding]]) -> Callable[..., Iterator[Finding]]:
        @functools.wraps(check)
        def judged(ctx: CheckContext, *args: Any) -> Iterator[Finding]:
            required = bool(getattr(ctx.profile.security, flag))
            for finding in check(ctx, *args):
                if required or finding.status is not Status.FAIL:
                    yield finding
                else:
                    yield dataclasses.replace(finding, status=Status.WARN,
                                              message=f"{finding.message} (not required: security.{flag} = false)")

        return judged

    return wrap
