"""ACL facts, with every password and password hash removed before they are kept."""

from __future__ import annotations

import re
from typing import Any

from redis_audit.collect.base import CollectContext, NodeSession
from redis_audit.facts.parse import pairs_to_dict, parse_info_fields, to_json
from redis_audit.jsonvalue import JsonObject, JsonValue
from redis_audit.snapshot import Fact
from redis_audit.topology import Role

# In ACL LIST rules: '#<sha256>' is a stored hash, '>pw' a clear password (from a config file).
_PASSWORD_TOKEN = re.compile(r"(?<!\S)([#>])\S+")


def redact_rule(rule: str) -> str:
    return _PASSWORD_TOKEN.sub(lambda m: f"{m.group(1)}<redacted>", rule)


def parse_getuser(reply: Any) -> JsonObject:
    user = pairs_to_dict(reply)
    passwords = user.pop("passwords", [])
    user["passwordCount"] = len(passwords) if isinstance(passwords, list) else 0
    selectors = user.get("selectors")
    if isinstance(selectors, list):  # each selector is a flat [k, v, ...] reply of its own
        user["selectors"] = [pairs_to_dict(s) for s in selectors]
    return user


def parse_acl_log(reply: Any) -> JsonValue:
    entries: list[JsonValue] = []
    for raw in reply if isinstance(reply, list) else []:
        entry = pairs_to_dict(raw)
        client = entry.pop("client-info", None)  # carries names, ids, buffers: noisy; keep only the source IP
        address = parse_info_fields(str(client).replace(" ", ",")).get("addr", "") if client else ""
        if address:
            entry["clientIp"] = address.rpartition(":")[0].strip("[]")
        entries.append(entry)
    return entries


class AclCollector:
    name = "acl"
    roles = frozenset(Role)
    commands: tuple[str, ...] = ("acl|whoami", "acl|list", "acl|log", "acl|users", "acl|getuser")
    provides: tuple[str, ...] = ("acl.whoami", "acl.list", "acl.log", "acl.users")

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool:
        return True

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]:
        facts = {
            "acl.whoami": session.attempt(to_json, "ACL", "WHOAMI"),
            "acl.list": session.attempt(lambda r: [redact_rule(str(x)) for x in r], "ACL", "LIST"),
            "acl.log": session.attempt(parse_acl_log, "ACL", "LOG", "128"),
        }
        names = session.attempt(to_json, "ACL", "USERS")
        if not names.ok:
            facts["acl.users"] = names
            return facts
        users: JsonObject = {}
        for name in names.value if isinstance(names.value, list) else []:
            one = session.attempt(parse_getuser, "ACL", "GETUSER", str(name))
            if not one.ok:
                facts["acl.users"] = one
                return facts
            users[str(name)] = one.value
        facts["acl.users"] = Fact(value=users)
        return facts
