"""Security Hub options of `run` and `render`: `--format asff` and `--upload-asff`.

The account and region of the findings: --asff-account-id/--asff-region, else the deployment's ARN in
the report, else (when AWS is used anyway: an AWS target or --upload-asff) the caller's account (STS).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import click

from redis_audit.aws.resource import AwsSettings
from redis_audit.exitcodes import UsageError
from redis_audit.jsonvalue import JsonObject
from redis_audit.output.asff import AsffAccount, account_of

NAMES = ("upload_asff", "asff_account_id", "asff_region")


@dataclasses.dataclass(frozen=True)
class AsffOptions:
    upload: bool = False
    account_id: str | None = None
    region: str | None = None


def asff_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--upload-asff", is_flag=True, help="Import the findings into AWS Security Hub "
                     "(BatchImportFindings, 100 per call); a re-run updates them, resolved ones are archived. "
                     "Any finding Security Hub refuses exits 6."),
        click.option("--asff-account-id", metavar="ID", help="AWS account of the ASFF findings (default: the "
                     "deployment's ARN, else the caller's account)."),
        click.option("--asff-region", metavar="REGION", help="Security Hub region of the ASFF findings (default: "
                     "the deployment's ARN, else the AWS region)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def pop_asff_options(kwargs: dict[str, Any]) -> AsffOptions:
    values = {name: kwargs.pop(name, None) for name in NAMES}
    account = values["asff_account_id"]
    if account is not None and not re.fullmatch(r"\d{12}", account):
        raise UsageError(f"--asff-account-id: an AWS account id is 12 digits, got {account!r}")
    return AsffOptions(bool(values["upload_asff"]), account, values["asff_region"])


def render_account(report: JsonObject, options: AsffOptions, settings: AwsSettings | None) -> AsffAccount | None:
    """The account for `--format asff`: the options, the report's ARN, or (AWS in use) the caller's."""
    from_arn = account_of(report)
    if options.account_id:
        region = options.region or (from_arn.region if from_arn else None) or (settings.region if settings else None)
        if not region:
            raise UsageError("--format asff: give the Security Hub region with --asff-region")
        return AsffAccount(options.account_id, region, from_arn.partition if from_arn else "aws")
    if from_arn is not None:
        return dataclasses.replace(from_arn, region=options.region) if options.region else from_arn
    if settings is None:
        return None  # the renderer says which options to give
    from redis_audit.aws.clients import AwsApi
    from redis_audit.aws.securityhub import resolve_account

    return resolve_account(AwsApi.open(settings), report, None, options.region)


def upload(report: JsonObject, options: AsffOptions, settings: AwsSettings, envelope_sha256: str | None) -> None:
    """Import the report's findings; a refused finding or a failed call raises UploadFailed (exit 6)."""
    from redis_audit.aws.clients import AwsApi
    from redis_audit.aws.securityhub import resolve_account, upload_findings
    from redis_audit.aws.upload import UploadFailed

    settings = dataclasses.replace(settings, region=options.region or settings.region)
    account = resolve_account(AwsApi.open(settings), report, options.account_id, options.region)
    # The ProductArn names the importing region: Security Hub must be called there.
    result = upload_findings(AwsApi.open(dataclasses.replace(settings, region=account.region)), report, account,
                             envelope_sha256)
    for failed in result.failed[:20]:
        click.echo(f"redis-audit: Security Hub refused {failed.id}: {failed.code}: {failed.message}", err=True)
    if result.failed:
        raise UploadFailed(f"--upload-asff: Security Hub refused {len(result.failed)} of "
                           f"{result.imported + len(result.failed)} findings")
    click.echo(f"Security Hub: {result.imported} findings imported into account {account.account_id} "
               f"({account.region}), {result.archived_gone} findings of earlier runs archived", err=True)
