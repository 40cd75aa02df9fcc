"""`redis-audit run`: audit a deployment (or a saved snapshot) and report the verdict."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from redis_audit import files
from redis_audit.audit import AuditOptions, add_inputs, collect_snapshot, judge_snapshot, now
from redis_audit.cli import asff_options as asff
from redis_audit.cli.aws_options import aws_options, pop_aws_options, resolve_target, upload_if_asked
from redis_audit.cli.options import pop_target_options, target_options
from redis_audit.cli.probe_failover import (
    failover_options,
    pop_failover_options,
    prepare,
    probe_options,
    refuse_without_consent,
)
from redis_audit.cli.signed import (
    PinnedKey,
    render,
    sarif_location_option,
    signed_context,
    source_file,
    subject_name,
    verify_command,
)
from redis_audit.client import Timeouts
from redis_audit.deadline import Deadline
from redis_audit.exitcodes import ExitCode, UsageError
from redis_audit.failover.probe import CLEANUP_RESERVE_S
from redis_audit.limits import SIGNOFF, apply_limits
from redis_audit.output import RenderOptions, SourceFile, renderers
from redis_audit.output.asff import AsffAccount
from redis_audit.output.sanitize import visible
from redis_audit.probes.results import load_results
from redis_audit.profile import MODES, SIGNED_MODES, Profile, resolve_profile
from redis_audit.provenance import Evidence, check_snapshot_age, live_evidence, read_snapshot
from redis_audit.recompute import recompute_decision
from redis_audit.registry import ALL, BUILTIN, LoadedPack, PackSelection, choose_packs, load_packs
from redis_audit.report import Report, target_name
from redis_audit.run_inputs import RunInputs
from redis_audit.signing.errors import InvalidReport, SigningError
from redis_audit.signing.sign import sign_report
from redis_audit.signing.signers import Signer, insecure_keyids, signer_from_spec
from redis_audit.signing.verify import verify_envelope
from redis_audit.verdict import exit_code
from redis_audit.waivers import WaiverFile, load_waivers
from redis_audit.waivers import warnings as waiver_warnings

FC = TypeVar("FC", bound=Callable[..., Any])


def format_option(default: str = "table") -> Callable[[FC], FC]:
    return click.option("--format", "output_format", default=default, show_default=True,
                        type=click.Choice(sorted(renderers())), help="Report format.")


def render_report(report: Report, output_format: str, *, only_attention: bool = False, tty: bool = False,
                  asff_account: AsffAccount | None = None, source: SourceFile | None = None) -> str:
    """The report in one format; colour only on a terminal, and never with NO_COLOR."""
    color = tty and "NO_COLOR" not in os.environ
    return renderers()[output_format](report.to_json(), RenderOptions(only_attention=only_attention, color=color,
                                                                      asff=asff_account, source=source))


def write_text(path: Path, text: str, option: str = "--output") -> None:
    files.write_file(path, text, what=option)  # atomic; never through a symlink, never onto an input


def write_report(report: Report, output_format: str, output: Path | None, only_attention: bool,
                 asff_account: AsffAccount | None = None, source: SourceFile | None = None) -> None:
    """Render the report to the file, or to stdout; with a file, print a short verdict on stdout."""
    if output is None:
        click.echo(render_report(report, output_format, only_attention=only_attention, tty=sys.stdout.isatty(),
                                 asff_account=asff_account, source=source), nl=False)
        return
    write_text(output, render_report(report, output_format, only_attention=only_attention, asff_account=asff_account,
                                     source=source))
    click.echo(summary_line(report))
    click.echo(f"Report written to {output}")


def summary_line(report: Report) -> str:
    verdict = report.verdict
    blockers = ", ".join(sorted({b.check_id for b in verdict.blockers}))
    suffix = f" (blockers: {blockers})" if blockers else ""
    return f"Verdict: {verdict.decision}{suffix}"


@click.command()
@click.argument("target", required=False)
@target_options
@click.option("--profile", metavar="builtin:NAME|FILE",
              help="builtin:signoff, builtin:default, or a profile TOML file (default: builtin:default, the rollout's "
                   "numbers). A bare built-in name means the built-in, never a file.")
@format_option()
@click.option("--output", type=click.Path(path_type=Path), help="Write the report here instead of stdout.")
@click.option("--deadline", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds the whole run may take, whatever the servers do (connect, TLS, every command, "
                   "the census, the probes): then the nodes not finished are ERROR findings and the report "
                   "is written. With --allow-failover the default grows by the probe's budget and clean-up.")
@click.option("--connect-timeout", type=click.FloatRange(min=0.05), default=2.0, show_default=True)
@click.option("--command-timeout", type=click.FloatRange(min=0.05), default=3.0, show_default=True)
@click.option("--save-snapshot", type=click.Path(path_type=Path), help="Also write the collected facts here.")
@click.option("--from-snapshot", type=click.Path(path_type=Path), help="Judge a saved snapshot; no network.")
@click.option("--only-attention", is_flag=True, help="Hide PASS rows in the table.")
@aws_options
@asff.asff_options
@click.option("--probe-results", type=click.Path(path_type=Path), multiple=True, metavar="FILE",
              help="A `probe latency --format json` result from an app pod (repeat for several pods).")
@click.option("--allow-failover", is_flag=True, help="Also run the failover probe (changes the deployment!).")
@failover_options(prefix="failover-")
@click.option("--sign-with", "sign_with", multiple=True, metavar="KEY",
              help="Sign the report: a private key file or kms:ARN_OR_ALIAS; repeat for a multi-signature "
                   "envelope. --output then receives the DSSE envelope.")
@click.option("--insecure-key-permissions", is_flag=True,
              help="Sign with a private key file that group or others can read (refused otherwise, as ssh does); "
                   "the signed report records the key.")
@click.option("--run-mode", "run_mode", type=click.Choice(MODES),
              help="local (default: exploration, unsigned allowed), pre-promotion, signoff or scheduled "
                   "(these three must be signed); recorded as run.mode. Default: the profile's report.mode.")
@click.option("--waivers", "waivers_file", type=click.Path(path_type=Path), help="Waiver file (TOML).")
@click.option("--report-only", is_flag=True, help="Exit 0 for NOT_READY (scheduled compliance runs); "
              "errors, inconclusive audits and signing failures still exit non-zero.")
@sarif_location_option
@click.option("--packs", "packs_spec", metavar="builtin|all|FILE",
              help="Which check packs may load: the built-in pack only, every installed pack, or the built-in pack "
                   "and the packs whose digest FILE lists (any other installed pack is refused). A pack is code "
                   "running in this process. Default: builtin in signoff mode, else all.")
def run(target: str | None, profile: str | None, output_format: str, output: Path | None, deadline: float,
        connect_timeout: float, command_timeout: float, save_snapshot: Path | None, from_snapshot: Path | None,
        only_attention: bool, sign_with: tuple[str, ...], run_mode: str | None, waivers_file: Path | None,
        report_only: bool, probe_results: tuple[Path, ...], allow_failover: bool, sarif_location: Path | None,
        insecure_key_permissions: bool, packs_spec: str | None, **kwargs: Any) -> int:
    """Audit TARGET (redis://, rediss://, redis+sentinel://HOST:PORT,.../MASTER), or an AWS-managed
    deployment (--aws-replication-group, --aws-serverless-cache, --memorydb-cluster), and print the verdict."""
    context = click.get_current_context()
    started = time.monotonic()  # from here on, nothing of this run outlives its deadline
    failover_opts = pop_failover_options(kwargs)
    if allow_failover:
        if from_snapshot is not None:
            raise UsageError("--allow-failover needs a live TARGET, not --from-snapshot")
        refuse_without_consent(failover_opts, "--failover-yes")
    target_opts = pop_target_options(kwargs)
    aws_opts = pop_aws_options(kwargs, output)
    asff_opts = asff.pop_asff_options(kwargs)
    aws_in_use = aws_opts.resource is not None or asff_opts.upload
    if output_format == "asff" and not (asff_opts.account_id or aws_in_use or from_snapshot):
        raise UsageError("--format asff of a self-hosted deployment: give --asff-account-id ID and --asff-region R "
                         "(or --upload-asff, which uses the caller's account)")
    resolved = resolve_profile(profile)
    loaded_profile = resolved.profile
    if allow_failover and context.get_parameter_source("deadline") is ParameterSource.DEFAULT:
        deadline += probe_options(failover_opts, loaded_profile).budget_s + CLEANUP_RESERVE_S
    wall = Deadline(started + deadline, deadline)
    context.call_on_close(wall.close)
    pods = tuple(load_results(probe_results))  # before connecting: a bad file is a usage error
    mode = run_mode or loaded_profile.report.mode
    limited = apply_limits(loaded_profile, mode).profile  # in signoff mode, the built-in floor
    # Before the audit: a run that cannot sign does not start.
    signers = _signers(sign_with, mode, output, insecure_key_permissions)
    public_keys = [_public_key_path(spec) for spec in sign_with]
    for destination, option in ((output, "--output"), (save_snapshot, "--save-snapshot")):
        if destination is not None:  # before the audit: a run that cannot write its report does not start
            files.check_destination(destination, option)
    waiver_file = _waivers(waivers_file, limited, mode)
    packs = _packs(packs_spec, mode)  # before the audit, and before an untrusted pack's code runs
    evidence: Evidence | None = None
    if from_snapshot is not None:
        if target:
            raise UsageError("give either TARGET or --from-snapshot, not both")
        snapshot, evidence = read_snapshot(from_snapshot, now())
        check_snapshot_age(evidence, mode, limited.report.max_snapshot_age_hours, limited.validity_hours(mode),
                           now(), signing=bool(signers))
        add_inputs(snapshot, RunInputs(pods))
    else:
        options = AuditOptions(loaded_profile, deadline, Timeouts(connect_timeout, command_timeout))
        built = resolve_target(target, target_opts, aws_opts)
        # Confirmed before the audit starts; the engine runs it after the read-only collection.
        failover = prepare(built, failover_opts, loaded_profile) if allow_failover else None
        snapshot = collect_snapshot(built, options, wall, RunInputs(pods, failover))
    saved_sha256 = None
    if save_snapshot is not None:
        data = snapshot.to_bytes()
        files.write_file(save_snapshot, data, what="--save-snapshot")
        saved_sha256 = hashlib.sha256(data).hexdigest()
    if evidence is None:
        evidence = live_evidence(snapshot, saved_sha256)
    report = judge_snapshot(snapshot, loaded_profile, packs, mode=mode, waiver_file=waiver_file, evidence=evidence,
                            origin=resolved.origin)
    report.insecure_keys = insecure_keyids(signers)
    for warning in waiver_warnings(report.waivers):
        click.echo(f"redis-audit: warning: {visible(warning)}", err=True)
    account = asff.render_account(report.to_json(), asff_opts, aws_opts.settings if aws_in_use else None) \
        if output_format == "asff" else None
    profile_file = Path(resolved.origin.path) if resolved.origin.path is not None else None
    envelope = output if signers else None  # an unsigned --output is the rendering itself
    source = source_file([sarif_location, profile_file, waivers_file, envelope], target_name(report.snapshot))
    envelope_sha256 = None
    if signers:
        assert output is not None
        envelope_sha256 = write_signed(report, signers, output, output_format, only_attention, public_keys, account,
                                       source)
    else:
        write_report(report, output_format, output, only_attention, account, source)
    upload_if_asked(aws_opts, output, report)
    if asff_opts.upload:
        asff.upload(report.to_json(), asff_opts, aws_opts.settings, envelope_sha256)
    if report.verdict.incomplete:
        for reason in report.verdict.reasons:
            click.echo(f"redis-audit: incomplete: {visible(reason)}", err=True)
    return run_exit_code(report, report_only)


def run_exit_code(report: Report, report_only: bool) -> int:
    """The verdict's exit code; --report-only turns NOT_READY (1) into 0 and never touches 2 and above."""
    code = exit_code(report.verdict.decision)
    return int(ExitCode.READY) if report_only and code == ExitCode.NOT_READY else int(code)


def _signers(specs: tuple[str, ...], mode: str, output: Path | None, allow_insecure: bool) -> list[Signer]:
    if not specs:
        if mode in SIGNED_MODES:
            raise SigningError(f"a {mode} run must be signed: add --sign-with KEY (or kms:ARN) and --output FILE")
        return []
    if output is None:
        raise UsageError("--sign-with needs --output FILE for the signed envelope")
    signers = [signer_from_spec(spec, allow_insecure) for spec in specs]
    for signer in signers:
        for warning in signer.warnings:
            click.echo(f"redis-audit: warning: {visible(warning)}", err=True)
    return signers


def _waivers(path: Path | None, limited: Profile, mode: str) -> WaiverFile | None:
    """The waiver file, each waiver within the mode's horizon (in signoff mode, the sign-off floor's)."""
    if path is None:
        return None
    return load_waivers(path, now(), limited.report.max_waiver_days,
                        "the sign-off limit" if mode == SIGNOFF else "report.max_waiver_days")


def _packs(spec: str | None, mode: str) -> list[LoadedPack]:
    """The packs the run may load: PackNotAllowed (exit 2) for a pack the selection does not trust."""
    if spec == ALL and mode == SIGNOFF:
        raise UsageError("--packs all: a signoff run loads the built-in pack, or packs whose digests a trusted "
                         "list names (--packs FILE)")
    selection = PackSelection.parse(spec or (BUILTIN if mode == SIGNOFF else ALL))
    chosen, left_out = choose_packs(selection)
    for pack in left_out:
        click.echo(f"redis-audit: note: check pack {pack.describe()} not loaded (--packs {selection.kind})",
                   err=True)
    return load_packs(chosen)


def _public_key_path(spec: str) -> Path | None:
    """keys generate's public key next to a local private key (signing-key.pem → signing-key.pub.pem)."""
    if spec.startswith("kms:"):
        return None
    private = Path(spec.removeprefix("file:"))
    public = private.with_name(private.name.removesuffix(".pem") + ".pub.pem")
    if not public.is_file():
        return None
    files.note_input(public, "the public key of --sign-with")
    return public


def write_signed(report: Report, signers: list[Signer], output: Path, output_format: str,
                 only_attention: bool, public_keys: list[Path | None] | None = None,
                 asff_account: AsffAccount | None = None, source: SourceFile | None = None) -> str:
    """Sign, check the envelope verifies (as `verify` will), write it, then render from the verified payload.
    Returns the envelope's sha256."""
    data = sign_report(report.to_json(), subject_name(target_name(report.snapshot)), signers).to_bytes()
    paths = public_keys or [None] * len(signers)
    keys = [PinnedKey(path or Path(f"{signer.keyid.removeprefix('sha256:')[:16]}.pub.pem"), signer.public_key())
            for signer, path in zip(signers, paths, strict=True)]
    try:
        verified = verify_envelope(data, [k.key for k in keys], threshold=len(keys),
                                   recompute_verdict=recompute_decision)
    except InvalidReport as exc:  # a bug, never the user's fault: refuse to emit it
        raise SigningError(f"the signed report does not verify: {exc.reason}") from None
    write_bytes(output, data)
    context = signed_context(data, verified, keys, output)
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    click.echo(render(verified.predicate, output_format, only_attention=only_attention, color=color,
                      signed=context, asff=asff_account, source=source), nl=False)
    # The rendering alone on stdout (`--format sarif > x.sarif` works); the rest is for the person running it.
    click.echo(summary_line(report), err=True)
    click.echo(f"Signed report ({len(signers)} signature{'s' if len(signers) > 1 else ''}) written to {output}",
               err=True)
    known = [p for p in paths if p is not None]
    click.echo("Verify: " + (verify_command(output, known, len(known)) if len(known) == len(signers)
                             else f"redis-audit verify {output} --key PUBLIC_KEY.pem"), err=True)
    return context.envelope_sha256


def write_bytes(path: Path, data: bytes) -> None:
    files.write_file(path, data, what="--output")
