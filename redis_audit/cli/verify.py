"""`redis-audit verify` and `redis-audit render`: trust a signed report, then show it.

verify exits 0 for a valid READY report, 1 for valid NOT_READY, 3 for valid INCONCLUSIVE (the audit
could not conclude: a gate must not promote, a scheduler may retry) and 5 for an invalid report.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import click

from redis_audit import files
from redis_audit.aws.resource import AwsSettings
from redis_audit.cli import asff_options as asff
from redis_audit.cli.run import write_text
from redis_audit.cli.signed import (
    Verified,
    acceptance_options,
    load_keys,
    parse_at,
    pop_acceptance,
    render,
    sarif_location_option,
    source_file,
    verify_file,
    verify_options,
)
from redis_audit.exitcodes import UsageError
from redis_audit.output import renderers
from redis_audit.output.sanitize import visible, visible_json
from redis_audit.output.view import View
from redis_audit.signing.dsse import INTOTO_PAYLOAD_TYPE, sign_envelope
from redis_audit.signing.signers import Signer, signer_from_spec
from redis_audit.signing.vsa import build_vsa
from redis_audit.verdict import Decision, exit_code


def summary(verified: Verified) -> list[str]:
    """What verify prints; every value from the report shows its control characters, never runs them."""
    view = View(visible_json(verified.report))
    ctx = verified.context
    lines = [f"VALID: signed readiness report for {verified.statement.subject.name}",
             f"Verdict:     {view.decision}",
             f"Valid until: {view.valid_until}   (mode {view.mode})",
             f"Evidence:    {view.evidence_line}",
             f"Profile:     {view.profile_name} {view.profile_digest}",
             *[f"             {line}" for line in view.limit_lines],
             f"Signed by:   {', '.join(ctx.signers)}",
             f"Envelope:    sha256:{ctx.envelope_sha256}"]
    insecure = view.run.get("insecureKeyPermissions")
    if isinstance(insecure, list) and insecure:
        lines.append(f"Warning:     signed with a key file readable by others (--insecure-key-permissions): "
                     f"{', '.join(map(str, insecure))}")
    lines += [f"Blocker:     {b['checkId']} {b['resource']}: {b['message']}" for b in view.blockers]
    for blocker in view.signoff:
        lines.append(f"Sign-off:    {blocker['title']}: {blocker['state']}")
    for state in ("applied", "expired", "unused"):
        ids = [str(w["id"]) for w in view.waiver_entries(state)]
        if ids:
            lines.append(f"Waivers {state}: {', '.join(ids)}")
    return [visible(line) for line in lines]  # the subject name and the signers' labels too


def decision_exit(report: View) -> int:
    return int(exit_code(Decision(report.decision)))


@click.command()
@click.argument("report", type=click.Path(path_type=Path))
@verify_options
@click.option("--emit-vsa", "emit_vsa", type=click.Path(path_type=Path), metavar="FILE",
              help="Also write a SLSA Verification Summary (in-toto Statement): PASSED for a READY report.")
@click.option("--vsa-sign-with", "vsa_sign_with", multiple=True, metavar="KEY",
              help="Sign the VSA (the verifier's key file or kms:ARN): FILE is then a DSSE envelope.")
@acceptance_options
def verify(report: Path, keys: tuple[Path, ...], threshold: int, expect_target: str | None, at: str | None,
           emit_vsa: Path | None, vsa_sign_with: tuple[str, ...], **policy: Any) -> int:
    """Verify a signed report (DSSE envelope) against trusted public keys, recompute its verdict, and apply
    the relying party's policy (--max-age, --require-live, trusted profiles and packs...)."""
    if vsa_sign_with and emit_vsa is None:
        raise UsageError("--vsa-sign-with needs --emit-vsa FILE")
    acceptance = pop_acceptance(policy)
    signers = [signer_from_spec(spec) for spec in vsa_sign_with]  # before verifying: a bad key is a usage error
    if emit_vsa is not None:
        files.check_destination(emit_vsa, "--emit-vsa")  # never through a symlink, never onto an input
    verified = verify_file(report, load_keys(keys), threshold, expect_target, parse_at(at), acceptance=acceptance)
    click.echo("\n".join(summary(verified)))
    if emit_vsa is not None:
        write_vsa(verified, report, emit_vsa, signers)
    return decision_exit(View(verified.report))


def write_vsa(verified: Verified, report: Path, path: Path, signers: list[Signer]) -> None:
    statement = build_vsa(verified.statement, report.name, dt.datetime.now(dt.UTC))
    data = sign_envelope(statement.to_bytes(), INTOTO_PAYLOAD_TYPE, signers).to_bytes() if signers \
        else statement.to_bytes()
    files.write_file(path, data, what="--emit-vsa")
    result = statement.predicate["verificationResult"]
    click.echo(f"VSA ({result}, {'signed' if signers else 'unsigned'}) written to {path}", err=True)


@click.command("render")
@click.argument("report", type=click.Path(path_type=Path))
@verify_options
@click.option("--format", "output_format", default="table", show_default=True, type=click.Choice(sorted(renderers())))
@click.option("--output", type=click.Path(path_type=Path), help="Write the rendering here instead of stdout.")
@click.option("--only-attention", is_flag=True, help="Hide PASS findings.")
@asff.asff_options
@sarif_location_option
@click.option("--aws-profile", metavar="NAME", help="AWS named profile for --upload-asff (default: the boto3 chain).")
@acceptance_options
def render_command(report: Path, keys: tuple[Path, ...], threshold: int, expect_target: str | None, at: str | None,
                   output_format: str, output: Path | None, only_attention: bool, aws_profile: str | None,
                   sarif_location: Path | None, **kwargs: Any) -> int:
    """Render a signed report, after verifying it (and the policy options): never from unsigned data. Exits as
    verify does."""
    asff_opts = asff.pop_asff_options(kwargs)
    verified = verify_file(report, load_keys(keys), threshold, expect_target, parse_at(at),
                           acceptance=pop_acceptance(kwargs))
    settings = AwsSettings(asff_opts.region, aws_profile)
    account = asff.render_account(verified.report, asff_opts, settings if asff_opts.upload else None) \
        if output_format == "asff" else None
    tty = output is None and sys.stdout.isatty()
    text = render(verified.report, output_format, only_attention=only_attention,
                  color=tty and "NO_COLOR" not in os.environ, signed=verified.context, asff=account,
                  source=source_file([sarif_location, report], View(verified.report).target))
    if output is None:
        click.echo(text, nl=False)
    else:
        write_text(output, text)
        click.echo(f"{output_format} rendering of verified {report} written to {output}", err=True)
    if asff_opts.upload:
        asff.upload(verified.report, asff_opts, settings, verified.context.envelope_sha256)
    return decision_exit(View(verified.report))
