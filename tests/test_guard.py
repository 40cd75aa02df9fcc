"""The read-only guard refuses anything outside its allowlist before a byte is sent."""

import pytest

from redis_audit.acl import auditor_acl_rule
from redis_audit.guard import READ_ONLY, CommandNotAllowed, command_key


@pytest.mark.parametrize(
    ("args", "key"),
    [(("GET", "k"), "get"), (("CONFIG", "GET", "x"), "config|get"), ((b"client", b"LIST"), "client|list"),
     (("CONFIG GET", "x"), "config|get"), (("info",), "info")],
)
def test_command_key(args, key):
    assert command_key(args) == key


@pytest.mark.parametrize("args", [("FLUSHALL",), ("CONFIG", "SET", "maxmemory", "1"), ("SET", "k", "v"),
                                  ("DEBUG", "SLEEP", "0"), ("SHUTDOWN",), ("ACL", "SETUSER", "x"),
                                  ("SENTINEL", "FAILOVER", "m"), ("CLIENT", "KILL", "ID", "1"), ("EVAL", "x", "0")])
def test_writes_and_admin_commands_are_refused(args):
    with pytest.raises(CommandNotAllowed):
        READ_ONLY.check(args)


def test_auditor_rule_is_version_aware():
    assert "+client|setinfo" not in auditor_acl_rule((7, 0))
    assert "+client|setinfo" in auditor_acl_rule((7, 2))
    assert "+cluster|shards" not in auditor_acl_rule((6, 2))
    assert "%R~*" in auditor_acl_rule((7, 0)) and "~*" in auditor_acl_rule((6, 2))
    assert all(not token.startswith("+@") for token in auditor_acl_rule((7, 2)))
