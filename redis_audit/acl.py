"""The least-privilege ACL rule for the auditor user, derived from what the engine sends."""

from __future__ import annotations

from redis_audit.guard import DATA_NODE_READ_COMMANDS, SENTINEL_READ_COMMANDS, acl_rule_tokens


def auditor_acl_rule(version: tuple[int, int] = (7, 0), *, sentinel: bool = False) -> list[str]:
    """ACL SETUSER tokens (without the user name, 'on' or password) for a read-only auditor.

    Data nodes also get read access to keys (TTL, TYPE and MEMORY USAGE need it for the
    keyspace census); '%R~*' keeps it read-only on 7.0+, while 6.x only knows '~*'.
    """
    commands = SENTINEL_READ_COMMANDS if sentinel else DATA_NODE_READ_COMMANDS
    tokens = acl_rule_tokens(commands, version)
    if not sentinel:
        key_rule = "%R~*" if version >= (7, 0) else "~*"
        tokens = [t if t != "resetkeys" else key_rule for t in tokens]
    return tokens


def auditor_acl_line(user: str, version: tuple[int, int] = (7, 0), *, sentinel: bool = False) -> str:
    """An `ACL SETUSER` command line an operator can paste (password left as a placeholder)."""
    rule = " ".join(auditor_acl_rule(version, sentinel=sentinel))
    return f"ACL SETUSER {user} reset on >CHANGE-ME {rule}"
