"""`redis-audit probe failover`: fail the primary over once, deliberately, and measure what clients lose.

The only command that changes a deployment, and only with --allow-failover (plus --yes, or a
confirmation typed on a terminal). It uses an operator credential of its own (--failover-user,
--failover-password-env/-file and the Sentinel equivalents): the auditor user cannot pause or fail over.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from redis_audit import files
from redis_audit.audit import failover_findings
from redis_audit.cli.options import build_target, pop_target_options, read_secret, target_options
from redis_audit.deadline import Deadline
from redis_audit.exitcodes import ExitCode, UsageError
from redis_audit.failover import AwsTarget, Mode, ProbeOptions
from redis_audit.failover.model import CrashSim
from redis_audit.failover.probe import CLEANUP_RESERVE_S
from redis_audit.jsonvalue import JsonObject
from redis_audit.model import Status
from redis_audit.node_trust import with_allowed_hosts
from redis_audit.output.sanitize import visible_json
from redis_audit.profile import Profile, load_profile
from redis_audit.run_inputs import FailoverRequest, run_failover
from redis_audit.target import Credentials, Target

FAILOVER_OPTION_NAMES = (
    "failover_user", "failover_password_env", "failover_password_file", "failover_sentinel_user",
    "failover_sentinel_password_env", "failover_sentinel_password_file", "mode", "shard", "budget", "force",
    "crash_signal", "sandbox_state", "wait_replicas", "failover_aws_service", "failover_aws_id",
    "failover_aws_region", "failover_aws_confirm", "yes",
)


def failover_options(prefix: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The probe's options, shared by `probe failover` and `run --allow-failover`.

    On `run`, prefix="failover-" turns --mode, --shard, --budget, --yes... into --failover-mode and so on,
    so that they cannot be mistaken for options of the audit itself; the parameter names stay the same.
    """

    def option(name: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        flag = name if name.startswith("failover-") else f"{prefix}{name}"
        return click.option(f"--{flag}", name.replace("-", "_"), **kwargs)

    options = [
        option("failover-user", help="Operator ACL user on data nodes (needs CLIENT PAUSE, REPLICAOF, "
               "CLUSTER FAILOVER, and the canary keys __redis_audit:failover:*)."),
        option("failover-password-env", metavar="VAR", help="Read the operator password from VAR."),
        option("failover-password-file", type=click.Path(path_type=Path)),
        option("failover-sentinel-user", help="Operator user on Sentinels (SENTINEL FAILOVER)."),
        option("failover-sentinel-password-env", metavar="VAR"),
        option("failover-sentinel-password-file", type=click.Path(path_type=Path)),
        option("mode", type=click.Choice([str(m) for m in Mode]), default=str(Mode.SWITCHOVER),
               show_default=True, help="switchover: lossless handover; plain: SENTINEL FAILOVER alone; "
               "crash-sim: a primary that dies (sandbox or AWS only)."),
        option("shard", help="Cluster: shard id, primary node id or address; AWS: node group / shard."),
        option("budget", type=click.IntRange(min=10), help="Seconds the probe may take (profile: "
               "failover.budget_s)."),
        option("force", is_flag=True, help="Cluster only: CLUSTER FAILOVER FORCE (never TAKEOVER)."),
        option("crash-signal", type=click.Choice(["stop", "kill"]), default="stop", show_default=True),
        option("sandbox-state", type=click.Path(path_type=Path, file_okay=False),
               help="crash-sim: the state directory of a sandbox redis-audit started."),
        option("wait-replicas", type=click.IntRange(min=0), default=0, show_default=True,
               help="Follow each canary write with WAIT N 100; count it acked only if satisfied."),
        option("failover-aws-service", type=click.Choice(["elasticache", "memorydb"]),
               help="Trigger through AWS (TestFailover / FailoverShard) instead of Redis commands."),
        option("failover-aws-id", help="ElastiCache ReplicationGroupId or MemoryDB cluster name."),
        option("failover-aws-region"),
        option("failover-aws-confirm", metavar="ID", help="AWS failovers count against quotas: with --yes, "
               "type the ReplicationGroupId / cluster name back here (the extra confirmation)."),
        option("yes", is_flag=True, help="Do not ask for confirmation (needed without a terminal)."),
    ]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for add in reversed(options):
            command = add(command)
        return command

    return decorate


def pop_failover_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {name: kwargs.pop(name, None) for name in FAILOVER_OPTION_NAMES}


def operator_target(target: Target, opts: dict[str, Any]) -> Target:
    """The target with the operator's credentials (falling back to the ones given for the audit)."""
    password = read_secret(opts.get("failover_password_env"), opts.get("failover_password_file"), "failover-")
    sentinel_password = read_secret(opts.get("failover_sentinel_password_env"),
                                    opts.get("failover_sentinel_password_file"), "failover-sentinel-")
    data = Credentials(opts.get("failover_user") or target.credentials.user,
                       password or target.credentials.password)
    sentinel = Credentials(opts.get("failover_sentinel_user") or target.sentinel_credentials.user,
                           sentinel_password or target.sentinel_credentials.password)
    return dataclasses.replace(target, credentials=data, sentinel_credentials=sentinel)


def probe_options(opts: dict[str, Any], profile: Profile) -> ProbeOptions:
    section = profile.failover
    aws = None
    if opts.get("failover_aws_service"):
        if not opts.get("failover_aws_id") or not opts.get("shard"):
            raise UsageError("--failover-aws-service needs --failover-aws-id and --shard (node group / shard)")
        aws = AwsTarget(opts["failover_aws_service"], opts["failover_aws_id"], opts["shard"],
                        opts.get("failover_aws_region"), daily_quota=section.aws_test_failover_quota)
    return ProbeOptions(
        mode=Mode(opts.get("mode") or Mode.SWITCHOVER),
        budget_s=float(opts.get("budget") or section.budget_s),
        shard=opts.get("shard"),
        canary_rate_hz=section.canary_rate_hz,
        read_timeout_ms=section.canary_read_timeout_ms,
        connect_timeout_ms=section.canary_connect_timeout_ms,
        max_replica_lag_s=section.max_replica_lag_s,
        force=bool(opts.get("force")),
        crash_signal=opts.get("crash_signal") or "stop",
        crash_sim=_sandbox_processes(opts.get("sandbox_state")),
        wait_replicas=int(opts.get("wait_replicas") or 0),
        aws=aws,
    )


def _sandbox_processes(state_dir: Path | None) -> CrashSim | None:
    """--sandbox-state: the processes crash-sim may signal, those of a sandbox redis-audit started."""
    if state_dir is None:
        return None
    from redis_audit.cli.sandbox import crash_sim  # start-up time: the sandbox package loads cryptography

    return crash_sim(state_dir)


def confirm(target: Target, options: ProbeOptions, assume_yes: bool, aws_confirm: str | None = None) -> None:
    """Ask on a terminal; refuse without one unless --yes. AWS needs an extra confirmation that --yes does
    not give (it counts against quotas and replaces a node): the resource id typed back, on the terminal
    or with --failover-aws-confirm."""
    what = f"fail over {target.url()} ({options.mode}{', shard ' + options.shard if options.shard else ''})"
    aws = options.aws
    if aws is not None:
        what = f"fail over {aws.service} {aws.resource_id} (shard {aws.shard}) through the AWS API"
    if not assume_yes:
        if not sys.stdin.isatty():
            raise UsageError(f"refusing to {what} without --yes: stdin is not a terminal")
        click.confirm(f"This will {what}. Continue?", abort=True)
    if aws is None:
        return
    if aws_confirm is None and not assume_yes:
        aws_confirm = click.prompt(f"{aws.service} failovers count against AWS quotas (TestFailover: 15 shards per "
                                   f"rolling 24 h) and replace a node. Type {aws.resource_id} to continue")
    if aws_confirm != aws.resource_id:
        raise UsageError(f"refusing to {what}: the extra confirmation is missing or wrong (pass "
                         f"--failover-aws-confirm {aws.resource_id}, or type it at the prompt)")


def refuse_without_consent(opts: dict[str, Any], yes_flag: str = "--yes") -> None:
    """Without --yes, consent is typed on a terminal: with none, refuse before anything else starts."""
    if not opts.get("yes") and not sys.stdin.isatty():
        raise UsageError(f"refusing to fail over without {yes_flag}: stdin is not a terminal")


def prepare(target: Target, opts: dict[str, Any], profile: Profile) -> FailoverRequest:
    """The probe's options and operator target, confirmed: nothing has touched the deployment yet."""
    options = probe_options(opts, profile)
    operator = with_allowed_hosts(operator_target(target, opts), profile.target.allowed_hosts)
    confirm(operator, options, bool(opts.get("yes")), opts.get("failover_aws_confirm"))
    return FailoverRequest(operator, options)


@click.command("failover")
@click.argument("target")
@target_options
@failover_options()
@click.option("--allow-failover", is_flag=True, help="Required: this probe fails the primary over.")
@click.option("--profile", type=click.Path(path_type=Path), help="Profile TOML ([failover] section).")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--output", type=click.Path(path_type=Path), help="Write the result here instead of stdout.")
@click.option("--deadline", type=click.FloatRange(min=1), metavar="SECONDS",
              help="Seconds the whole probe may take, whatever the servers do; its steps end "
                   f"{CLEANUP_RESERVE_S:g} s (or a third of the deadline) before, for the clean-up. "
                   f"Default: the budget + {CLEANUP_RESERVE_S:g} s.")
def failover(target: str, allow_failover: bool, profile: Path | None, output_format: str, output: Path | None,
             deadline: float | None, **kwargs: Any) -> int:
    """Fail TARGET's primary over once, deliberately, and measure what clients see and lose."""
    if not allow_failover:
        raise UsageError("the failover probe changes the deployment: pass --allow-failover to run it")
    opts = pop_failover_options(kwargs)
    if output is not None:
        files.check_destination(output, "--output")  # before the deployment is touched
    loaded = load_profile(profile)
    base = build_target(target, pop_target_options(kwargs))
    wall = Deadline.after(deadline or probe_options(opts, loaded).budget_s + CLEANUP_RESERVE_S, "failover probe")
    try:
        result = run_failover(prepare(base, opts, loaded), wall)
    finally:
        wall.close()
    findings = failover_findings(result, loaded, base)
    text = (json.dumps({"result": result, "findings": findings}, indent=2, sort_keys=True) + "\n"
            if output_format == "json" else render_table(result, findings))
    if output is None:
        click.echo(text, nl=False)
    else:
        files.write_file(output, text, what="--output")
        click.echo(f"Failover probe {result.get('status')}; result written to {output}")
    if result.get("status") != "completed":  # why, in one line, wherever the result went
        reasons = "; ".join(str(r) for r in _list(result.get("reasons"))) or "no reason recorded"
        left = "; ".join(str(c) for c in _list(result.get("cleanup")))
        click.echo(f"redis-audit: failover probe {result.get('status')}: {reasons}"
                   + (f" (left behind: {left})" if left else ""), err=True)
    return exit_status(result, findings)


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def exit_status(result: JsonObject, findings: list[JsonObject]) -> int:
    status = result.get("status")
    if status == "interrupted":
        return int(ExitCode.INTERRUPTED)
    if status == "aborted" or (status == "refused" and result.get("inconclusive")):
        return int(ExitCode.INCONCLUSIVE)
    if status == "refused" or any(f.get("status") == str(Status.FAIL) for f in findings):
        return int(ExitCode.NOT_READY)
    return int(ExitCode.READY)


def render_table(result: JsonObject, findings: list[JsonObject]) -> str:
    result, findings = visible_json(result), visible_json(findings)  # server error texts, shown, never run
    metrics = result.get("metrics") if isinstance(result.get("metrics"), dict) else {}
    assert isinstance(metrics, dict)
    lines = [f"Failover probe: {result.get('status')} ({result.get('mode')}, {result.get('method', '-')})"]
    if result.get("oldPrimary"):
        lines.append(f"  primary {result.get('oldPrimary')} -> {result.get('newPrimary')}")
    for reason in result.get("reasons") or []:  # type: ignore[union-attr]
        lines.append(f"  ! {reason}")
    for key in ("promotionMs", "sentinelSwitchMs", "clusterViewMs", "writeGapMaxMs", "writeUnavailableTotalMs",
                "firstAckOnNewPrimaryMs", "ackedWritesLost", "staleAckWindow", "staleAcksAfterPromotion", "lostByNode",
                "indeterminateWrites", "errorsByClass", "convergedMs", "fullResyncs", "partialResyncs"):
        if key in metrics:
            lines.append(f"  {key}: {json.dumps(metrics[key], sort_keys=True)}")
    for problem in [*(result.get("unhealthy") or []), *(result.get("cleanup") or [])]:  # type: ignore[misc]
        lines.append(f"  NOT HEALTHY: {problem}")
    for finding in findings:
        lines.append(f"{finding.get('status'):5} {finding.get('checkId')}  {finding.get('message')}")
    return "\n".join(lines) + "\n"
