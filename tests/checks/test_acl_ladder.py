"""ACL-002's ladder on real Redis and Valkey: narrow PASSes, wide WARNs, no least privilege at all FAILs."""

from __future__ import annotations

import pytest

from redis_audit.model import Status
from redis_audit.sandbox import SandboxSpec
from tests.checks.support import profile, snapshot
from tests.judging import run_check

QUIET = {"latency": {"local_probe": False}, "keyspace": {"enabled": False}}
PROFILE = {"application": {"user": "app", "key_prefixes": ["rl:", "rlz:"]}, **QUIET}

LADDER = [
    # (the application user's rule after 'reset on >pw', ACL-002's status)
    ("~rl:* ~rlz:* resetchannels -@all +get +evalsha", Status.PASS),
    ("~rl:* resetchannels +@all", Status.PASS),  # commands are ACL-001's to judge; the keys are scoped
    ("~* resetchannels -@all +get +set +evalsha", Status.WARN),  # every key, a few commands
    ("%R~* resetchannels +@all", Status.WARN),  # reads every key, writes none
    ("~rl:* &* -@all +get", Status.WARN),  # every channel
    ("~* +@all", Status.FAIL),
    ("allkeys allcommands", Status.FAIL),
    ("~* resetchannels +@all -@dangerous", Status.FAIL),  # every data command on every key
    ("~* resetchannels +@all -@dangerous -@admin", Status.FAIL),
    ("%RW~* resetchannels -@all +@write", Status.FAIL),
    ("~* resetchannels -@all +@keyspace +get", Status.FAIL),
    ("~rl:* resetchannels -@all +get (~* +@all)", Status.FAIL),  # a selector grants it all
]


@pytest.mark.parametrize("engine", ["redis", "valkey"])
def test_acl_002_ladder(fresh_sandbox, engine):
    sb = fresh_sandbox(SandboxSpec(topology="standalone", engine=engine))
    admin = sb.admin_client(sb.info.nodes_with_role("primary")[0])
    seen = []
    for rule, wanted in LADDER:
        admin.execute_command("ACL", "SETUSER", "app", "reset", "on", f">{sb.password('app')}", *rule.split())
        snap = snapshot(sb, profile(**QUIET))
        found = run_check("ACL-002", snap, PROFILE)
        assert [f.status for f in found] == [wanted], (rule, [f.message for f in found])
        seen.append(found[0].message)
    assert all("no least privilege" in m for m, (_, s) in zip(seen, LADDER, strict=True) if s is Status.FAIL)
