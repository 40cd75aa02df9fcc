"""Pure parts: the probe's policies, the FO checks without a probe run, the CLI's refusals."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from redis_audit.cli.main import _register_commands, cli
from redis_audit.guard import FAILOVER_CANARY, FAILOVER_CONTROL, READ_ONLY, CommandNotAllowed


@pytest.mark.parametrize("args", [("RPUSH", "rl:user:1", "1"), ("DEL", "__redis_audit:failover:x", "rl:1"),
                                  ("SET", "__redis_audit:failover:x", "1"), ("FLUSHALL",)])
def test_canary_policy_never_touches_application_keys(args: tuple[str, ...]) -> None:
    with pytest.raises(CommandNotAllowed):
        (FAILOVER_CANARY if args[0] == "RPUSH" else FAILOVER_CONTROL).check(args)


def test_policies_are_separate_and_takeover_is_never_allowed() -> None:
    FAILOVER_CONTROL.check(("CLUSTER", "FAILOVER", "FORCE"))
    with pytest.raises(CommandNotAllowed):
        FAILOVER_CONTROL.check(("CLUSTER", "FAILOVER", "TAKEOVER"))
    for command in (("CLIENT", "PAUSE", "1000", "WRITE"), ("REPLICAOF", "h", "1"), ("SENTINEL", "FAILOVER", "m")):
        with pytest.raises(CommandNotAllowed):
            READ_ONLY.check(command)
        with pytest.raises(CommandNotAllowed):
            FAILOVER_CANARY.check(command)


def test_cli_needs_allow_failover_and_a_terminal_or_yes() -> None:
    _register_commands()
    runner = CliRunner()
    result = runner.invoke(cli, ["probe", "failover", "redis://127.0.0.1:1"], standalone_mode=False)
    assert "--allow-failover" in str(result.exception)
    result = runner.invoke(cli, ["probe", "failover", "redis://127.0.0.1:1", "--allow-failover"],
                           standalone_mode=False)
    assert "without --yes" in str(result.exception)


def test_aws_canary_tells_servers_behind_one_endpoint_apart_by_run_id() -> None:
    from redis_audit.failover.aws_canary import _old_and_new
    from redis_audit.failover.model import WriteRecord

    old, new = "ep:6379 (aaaa)", "ep:6379 (bbbb)"
    records = [WriteRecord(1, 0, 0, 10, "ack", node=old), WriteRecord(2, 0, 0, 120, "ack", node=old),
               WriteRecord(3, 0, 0, 130, "error", "connection-error", node="ep:6379"),
               WriteRecord(4, 0, 0, 140, "ack", node=new)]
    assert _old_and_new(records, trigger_us=100) == (old, new)
    assert _old_and_new(records[:2], trigger_us=100) == (old, None)


def test_stale_acks_after_promotion_come_from_the_canary_not_from_role() -> None:
    from redis_audit.failover.analysis import stale_ack_metrics
    from redis_audit.failover.model import Clock, WriteRecord

    clock = Clock()
    clock.trigger_us = 0
    old = "10.0.0.1:6379"
    records = [WriteRecord(1, 0, 0, 50_000, "ack", node=old), WriteRecord(2, 0, 0, 250_000, "ack", node=old),
               WriteRecord(3, 0, 0, 400_000, "ack", node=old), WriteRecord(4, 0, 0, 500_000, "error", node=old),
               WriteRecord(5, 0, 0, 600_000, "ack", node="10.0.0.2:6379")]
    assert stale_ack_metrics(records, clock, old, promoted_ms=100) == {
        "staleAcksAfterPromotion": 2, "staleAckAfterPromotionMs": 300}
    assert stale_ack_metrics(records, clock, old, promoted_ms=None)["staleAcksAfterPromotion"] is None


class _Processes:
    """A stand-in for whoever started the processes (the sandbox in production): it owns none."""

    where = "the processes of this test"

    def process(self, address: object) -> None:
        return None


def test_crash_sim_signals_only_a_process_it_was_handed() -> None:
    from redis_audit.failover.model import Clock, Mode, ProbeAborted, ProbeOptions, Timeline
    from redis_audit.failover.preflight import Plan
    from redis_audit.failover.trigger import Trigger
    from redis_audit.topology import Address, DeploymentKind

    plan = Plan(DeploymentKind.SENTINEL, "sandbox-crash", Address("127.0.0.1", 1), [])
    for options, reason in ((ProbeOptions(mode=Mode.CRASH_SIM), "needs --sandbox-state"),
                            (ProbeOptions(mode=Mode.CRASH_SIM, crash_sim=_Processes()), "never signals")):
        trigger = Trigger(None, plan, options, Clock(), Timeline())  # type: ignore[arg-type]  # no access needed
        with pytest.raises(ProbeAborted, match=reason):
            trigger.prepare()
        assert trigger.frozen is None
