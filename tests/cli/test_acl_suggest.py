"""`acl suggest` gives a rule the server accepts: by default every supported server, with TARGET that server's own
version. Applied with ACL SETUSER on real Redis 7.0 and Valkey 9, and audited with."""

from __future__ import annotations

import pytest

from redis_audit.audit import AuditOptions, collect_snapshot
from redis_audit.cli.main import main
from redis_audit.sandbox import SandboxSpec
from redis_audit.secret import Secret
from redis_audit.target import Credentials, Target, TlsOptions
from redis_audit.topology import Address
from tests.checks.support import profile

PASSWORD = "suggested-auditor-password-0123456789"


def _suggested(capsys, *args: str) -> tuple[str, str]:
    assert main(["acl", "suggest", "--user", "suggested", *args]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("ACL SETUSER suggested")]
    data, sentinel = lines
    return data, sentinel


def _apply(client, line: str) -> None:
    tokens = line.replace(">CHANGE-ME", f">{PASSWORD}").split()[2:]  # after 'ACL SETUSER'
    assert client.execute_command("ACL", "SETUSER", *tokens) in ("OK", b"OK", True)


def _audit_as_suggested(node) -> None:
    target = Target("redis", (Address(node.host, node.port),), TlsOptions(),
                    Credentials("suggested", Secret(PASSWORD)))
    snap = collect_snapshot(target, AuditOptions(profile(latency={"local_probe": False}), deadline_s=60))
    assert not snap.topology.unreachable, snap.topology.unreachable
    facts = snap.nodes[node.address].facts
    for name in ("info", "config", "acl.users", "acl.list", "slowlog", "clients"):
        assert facts[name].ok, (name, facts[name].error)


@pytest.mark.parametrize("engine", ["redis", "valkey"])
def test_the_default_rule_is_accepted_and_audits(sandboxes, capsys, engine):
    sb = sandboxes.get(SandboxSpec(topology="standalone", engine=engine))
    node = sb.info.nodes[0]
    data, _ = _suggested(capsys)
    assert "+client|setinfo" not in data and "+acl|dryrun" not in data
    _apply(sb.admin_client(node), data)
    _audit_as_suggested(node)


@pytest.mark.parametrize(("engine", "setinfo"), [("redis", False), ("valkey", True)])
def test_target_version_decides_the_rule(sandboxes, capsys, monkeypatch, engine, setinfo):
    sb = sandboxes.get(SandboxSpec(topology="standalone", engine=engine))
    node = sb.info.nodes[0]
    monkeypatch.setenv("ADMIN_PW", sb.password("admin"))
    data, sentinel = _suggested(capsys, f"redis://admin@{node.address}", "--password-env", "ADMIN_PW")
    assert ("+client|setinfo" in data) is setinfo and "+acl|dryrun" in data and "%R~*" in data
    assert "+sentinel|ckquorum" in sentinel
    _apply(sb.admin_client(node), data)
    _audit_as_suggested(node)


def test_an_unreachable_target_is_one_line(capsys):
    assert main(["acl", "suggest", "redis://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "cannot read the version" in err and len(err.strip().splitlines()) == 1
