"""Small readers shared by the built-in checks (pure functions over snapshot facts)."""

from __future__ import annotations

from typing import Any

from redis_audit.snapshot import NodeSnapshot


def as_int(text: str | None, default: int = 0) -> int:
    try:
        return int(str(text))
    except (TypeError, ValueError):
        return default


def acl_users(node: NodeSnapshot) -> dict[str, dict[str, Any]]:
    """ACL GETUSER per user, or parsed from ACL LIST when GETUSER was denied."""
    if node.has("acl.users"):
        users = node.fact("acl.users")
        return {k: v for k, v in users.items() if isinstance(v, dict)} if isinstance(users, dict) else {}
    rules = node.fact("acl.list")  # raises FactUnavailable when neither was collected
    parsed: dict[str, dict[str, Any]] = {}
    for rule in rules if isinstance(rules, list) else []:
        tokens = str(rule).split()
        if len(tokens) >= 2 and tokens[0] == "user":
            flags = [t for t in tokens[2:] if t in ("on", "off", "nopass", "skip-sanitize-payload")]
            commands = " ".join(t for t in tokens[2:] if t[:1] in "+-")
            passwords = sum(1 for t in tokens[2:] if t.startswith(("#", ">")))
            parsed[tokens[1]] = {"flags": flags, "commands": commands, "passwordCount": passwords}
    return parsed


def flags_of(user: dict[str, Any]) -> list[str]:
    flags = user.get("flags")
    return [str(f) for f in flags] if isinstance(flags, list) else []
