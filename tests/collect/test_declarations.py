"""Collectors declare what they send and provide; `acl suggest` is derived from those declarations."""

from __future__ import annotations

from redis_audit.acl import auditor_acl_rule, suggest_rule
from redis_audit.cli.main import main
from redis_audit.collect import declared_collectors, deployment_collectors, node_collectors
from redis_audit.facts.names import FACT_NAMES, RUN_INPUT_FACTS
from redis_audit.guard import READ_ONLY
from redis_audit.registry import all_checks, discover_packs
from redis_audit.snapshot import NO_PASSWORD


def test_every_declared_command_is_on_the_read_only_allowlist():
    for collector in declared_collectors():
        assert set(collector.commands) <= READ_ONLY.allowed, collector.name


def test_the_fact_vocabulary_is_what_collectors_the_session_and_the_run_inputs_declare():
    declared = {fact for c in node_collectors() for fact in c.provides} | {NO_PASSWORD} | RUN_INPUT_FACTS
    declared |= {fact for c in deployment_collectors() for fact in c.provides}
    assert declared == FACT_NAMES


def test_every_fact_the_builtin_checks_need_has_a_collector():
    provided = {fact for c in node_collectors() for fact in c.provides}
    provided |= {c.name for c in deployment_collectors()} | RUN_INPUT_FACTS
    builtin = [c for c in all_checks(discover_packs()) if c.source == "builtin"]
    needs = {f for c in builtin for f in c.meta.needs if not f.startswith("aws.")}  # control plane: no Redis ACL
    assert needs <= provided


def test_suggestion_follows_the_needs_and_the_version():
    collectors = node_collectors()
    only_info = suggest_rule(["info"], collectors, (7, 0))
    assert "+info" in only_info.tokens and "+config|get" not in only_info.tokens
    assert only_info.tokens[:3] == ["resetkeys", "resetchannels", "-@all"]
    dryrun = suggest_rule(["acl.dryrun"], collectors, (7, 0))
    assert "+acl|dryrun" in dryrun.tokens
    assert "+acl|dryrun" not in suggest_rule(["acl.dryrun"], collectors, (6, 2)).tokens
    sentinel = suggest_rule(["sentinel.ckquorum", "config"], collectors, (7, 0), sentinel=True)
    assert "+sentinel|ckquorum" in sentinel.tokens and "+config|get" not in sentinel.tokens
    assert suggest_rule(["no.such.fact"], collectors, (7, 0)).unprovided == ["no.such.fact"]


def test_the_census_gets_its_key_commands_and_a_read_only_key_pattern():
    census = suggest_rule(["keyspace.census"], declared_collectors(), (7, 0))
    for command in ("+scan", "+pttl", "+type", "+memory|usage", "+memory|stats", "+zcard"):
        assert command in census.tokens
    assert "%R~*" in census.tokens and "resetkeys" not in census.tokens
    assert "~*" in suggest_rule(["keyspace.census"], declared_collectors(), (6, 2)).tokens


def test_cli_prints_data_and_sentinel_rules(capsys):
    assert main(["acl", "suggest", "--user", "auditor", "--server-version", "7.0"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("ACL SETUSER auditor")]
    assert len(lines) == 2
    assert "+acl|dryrun" in lines[0] and "+sentinel|ckquorum" in lines[1]
    assert "+config|get" in lines[0] and "+config|get" not in lines[1]


def test_the_sandbox_auditor_rule_still_covers_the_suggestion():
    granted = set(auditor_acl_rule((7, 0)))
    needs = {f for c in all_checks(discover_packs()) for f in c.meta.needs}
    assert set(suggest_rule(needs, declared_collectors(), (7, 0)).tokens) - {"resetkeys", "%R~*"} <= granted
