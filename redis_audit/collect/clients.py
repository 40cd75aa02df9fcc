"""CLIENT LIST, asked once per node: application clients by name (CLI-003/CLI-004) and the
principals replication and Sentinel links use (ACL-003). No addresses are kept."""

from __future__ import annotations

from collections import Counter
from statistics import median
from typing import Any

from redis_audit.collect.base import CollectContext, NodeSession, classify_error
from redis_audit.facts.values import as_int
from redis_audit.jsonvalue import JsonObject, JsonValue
from redis_audit.snapshot import Fact
from redis_audit.topology import DATA_ROLES

MAX_CLIENT_NAMES = 200


def client_rows(reply: Any) -> list[dict[str, str]]:
    return [dict(part.partition("=")[::2] for part in line.split(" ") if "=" in part)
            for line in str(reply).splitlines() if line.strip()]


def clients_by_name(rows: list[dict[str, str]]) -> JsonValue:
    """CLIENT LIST grouped by client name: count, ages and idle times (s), last commands."""
    groups: dict[str, list[dict[str, str]]] = {}
    for fields in rows:
        flags = fields.get("flags", "")
        if "S" in flags or "M" in flags:
            continue  # replicas and primaries talking to this node are not application clients
        groups.setdefault(fields.get("name", ""), []).append(fields)
    names = sorted(groups, key=lambda n: -len(groups[n]))
    by_name: JsonObject = {}
    for name in names[:MAX_CLIENT_NAMES]:
        members = groups[name]
        ages = [as_int(m.get("age")) for m in members]
        idles = [as_int(m.get("idle")) for m in members]
        cmds = Counter(m.get("cmd", "") for m in members)
        by_name[name] = {
            "count": len(members),
            "ageMedianS": int(median(ages)),
            "ageMinS": min(ages),
            "idleMedianS": int(median(idles)),
            "users": sorted({m.get("user", "") for m in members})[:10],
            "cmds": dict(cmds.most_common(10)),
        }
    others = sum(len(groups[n]) for n in names[MAX_CLIENT_NAMES:])
    return {"total": sum(len(g) for g in groups.values()), "byName": by_name, "otherNames": others}


def client_principals(rows: list[dict[str, str]]) -> JsonValue:
    """From CLIENT LIST, only which users the replication and Sentinel links use (no addresses)."""
    replica_users: set[str] = set()
    sentinel_users: set[str] = set()
    total = 0
    for fields in rows:
        total += 1
        user = fields.get("user", "")
        if "S" in fields.get("flags", ""):
            replica_users.add(user)
        if fields.get("name", "").startswith("sentinel-"):
            sentinel_users.add(user)
    return {"clients": total, "replicaUsers": sorted(replica_users), "sentinelUsers": sorted(sentinel_users)}




class ClientListCollector:
    """One CLIENT LIST per node, two facts: `clients` and `clients.principals`."""

    name = "clients"
    roles = DATA_ROLES
    commands: tuple[str, ...] = ("client|list",)
    provides: tuple[str, ...] = ("clients", "clients.principals")

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        return session.node.role in self.roles

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        try:
            rows = client_rows(session.call("CLIENT", "LIST"))
        except Exception as exc:  # denied or unreachable: both facts say why
            failed = Fact(error=classify_error(exc, "client|list"))
            return {"clients": failed, "clients.principals": failed}
        return {"clients": Fact(value=clients_by_name(rows)), "clients.principals": Fact(value=client_principals(rows))}
