"""`run` options for AWS-managed deployments, and turning them into a Target (or an S3 upload).

run.py calls three functions: `aws_options` (the decorator), `pop_aws_options`, and
`resolve_target` / `upload_if_asked`. Everything AWS-specific stays here and in redis_audit/aws/.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from redis_audit.aws.resource import AwsKind, AwsResource, AwsSecretRefs, AwsSettings
from redis_audit.cli.options import build_target
from redis_audit.exitcodes import UsageError
from redis_audit.report import Report, target_name
from redis_audit.target import Credentials, Target

AWS_OPTION_NAMES = (
    "aws_replication_group", "aws_serverless_cache", "memorydb_cluster", "aws_region", "aws_profile",
    "password_secret", "password_secret_key", "aws_app_secret", "upload", "upload_kms_key",
)
RESOURCE_OPTIONS = {
    "aws_replication_group": (AwsKind.REPLICATION_GROUP, "--aws-replication-group"),
    "aws_serverless_cache": (AwsKind.SERVERLESS, "--aws-serverless-cache"),
    "memorydb_cluster": (AwsKind.MEMORYDB, "--memorydb-cluster"),
}


def aws_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The AWS options of `run`."""
    options = [
        click.option("--aws-replication-group", metavar="ID", help="Audit this ElastiCache replication group: "
                     "control plane plus the discovered endpoint (TARGET then optional; given, it overrides the "
                     "endpoint, e.g. through a tunnel)."),
        click.option("--aws-serverless-cache", metavar="NAME", help="Audit this ElastiCache Serverless cache."),
        click.option("--memorydb-cluster", metavar="NAME", help="Audit this MemoryDB cluster."),
        click.option("--aws-region", metavar="REGION", help="AWS region (default: the boto3 chain)."),
        click.option("--aws-profile", metavar="NAME", help="AWS named profile (default: the boto3 chain)."),
        click.option("--password-secret", metavar="ARN", help="Read the data-node password from this Secrets "
                     "Manager secret (plain string, or JSON; never written anywhere). Its metadata is audited "
                     "(SECRET-001/002)."),
        click.option("--password-secret-key", metavar="KEY", help="JSON key of --password-secret (default: "
                     "password, auth_token or authToken)."),
        click.option("--aws-app-secret", metavar="ARN", multiple=True, help="Also audit this secret's metadata "
                     "(the application's credential; SECRET-001/002). Repeatable; the value is never read."),
        click.option("--upload", metavar="S3URL", help="Store the written report (--output) in s3://BUCKET/PREFIX/ "
                     "with SSE-KMS, as PREFIX/<target>/<UTC time>-report.json. A failed upload exits 6."),
        click.option("--upload-kms-key", metavar="KEY", help="KMS key for --upload (default: the bucket's "
                     "aws/s3 key)."),
    ]
    for option in reversed(options):
        command = option(command)

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return command(*args, **kwargs)

    return wrapper


@dataclasses.dataclass(frozen=True)
class AwsOptions:
    resource: AwsResource | None
    secrets: AwsSecretRefs | None  # --password-secret and --aws-app-secret, whose metadata is audited
    settings: AwsSettings
    password_secret: str | None
    password_secret_key: str | None
    upload: str | None
    upload_kms_key: str | None


def pop_aws_options(kwargs: dict[str, Any], output: Path | None) -> AwsOptions:
    """Take the AWS options out of the command's keyword arguments and check they fit together."""
    values = {name: kwargs.pop(name, None) for name in AWS_OPTION_NAMES}
    named = [(RESOURCE_OPTIONS[k], v) for k in RESOURCE_OPTIONS if (v := values[k])]
    if len(named) > 1:
        raise UsageError("give one of --aws-replication-group, --aws-serverless-cache, --memorydb-cluster")
    settings = AwsSettings(values["aws_region"], values["aws_profile"])
    arns = tuple(dict.fromkeys([*([values["password_secret"]] if values["password_secret"] else []),
                                *(values["aws_app_secret"] or ())]))
    resource = AwsResource(named[0][0][0], str(named[0][1]), settings) if named else None
    secrets = AwsSecretRefs(arns, settings) if arns else None
    if values["password_secret_key"] and not values["password_secret"]:
        raise UsageError("--password-secret-key needs --password-secret")
    if values["upload_kms_key"] and not values["upload"]:
        raise UsageError("--upload-kms-key needs --upload")
    if values["upload"]:
        from redis_audit.aws.upload import S3Location

        S3Location.parse(values["upload"])
        if output is None:
            raise UsageError("--upload stores the written report: give --output FILE too")
    return AwsOptions(resource, secrets, settings, values["password_secret"], values["password_secret_key"],
                      values["upload"], values["upload_kms_key"])


def resolve_target(url: str | None, target_opts: dict[str, Any], aws: AwsOptions) -> Target:
    """The Target: from TARGET, or from the endpoint the control plane names; with the AWS resource and the
    named secrets attached (a self-hosted TARGET with --password-secret gets its secret judged too)."""
    if aws.resource is None and aws.secrets is None:
        if not url:
            raise UsageError("missing TARGET (or --from-snapshot FILE, or --aws-replication-group ID, ...)")
        return build_target(url, target_opts)
    from redis_audit.aws.clients import AwsCallFailed
    from redis_audit.aws.endpoint import discover_endpoint
    from redis_audit.node_trust import with_allowed_hosts

    api = _open_api(aws.settings)
    target: Target | None = build_target(url, target_opts) if url else None
    if target is None and aws.resource is None:
        raise UsageError("missing TARGET (or --aws-replication-group ID, ...)")
    if target is None and aws.resource is not None:
        try:
            endpoint = discover_endpoint(api, aws.resource)
            target = with_allowed_hosts(build_target(endpoint.url(), target_opts), endpoint.members)
        except AwsCallFailed as exc:
            click.echo(f"redis-audit: warning: no endpoint for {aws.resource.describe()}: {exc.error.describe()}; "
                       "the wire checks will be skipped", err=True)
            target = Target(kind="redis", seeds=(), name=target_opts.get("deployment_name"))
    assert target is not None
    if aws.password_secret:
        if target_opts.get("password_env") or target_opts.get("password_file"):
            raise UsageError("give --password-secret or --password-env/--password-file, not both")
        from redis_audit.aws.secrets import fetch_password

        password = fetch_password(api, aws.password_secret, aws.password_secret_key)
        target = dataclasses.replace(target, credentials=Credentials(target.credentials.user, password))
    return dataclasses.replace(target, aws=aws.resource, aws_secrets=aws.secrets)


def upload_if_asked(aws: AwsOptions, output: Path | None, report: Report) -> None:
    """Store the written report in S3 when --upload was given; a failure raises UploadFailed (exit 6)."""
    if not aws.upload or output is None:
        return
    from redis_audit.aws.upload import S3Location, upload_report

    location = S3Location.parse(aws.upload)
    when = dt.datetime.now(dt.UTC)
    stored = upload_report(_open_api(aws.settings), output, location, target_name(report.snapshot), when,
                           aws.upload_kms_key)
    click.echo(f"Report stored in {stored}")


def _open_api(settings: AwsSettings) -> Any:
    from botocore.exceptions import ProfileNotFound

    from redis_audit.aws.clients import AwsApi

    try:
        return AwsApi.open(settings)
    except ProfileNotFound as exc:
        raise UsageError(f"--aws-profile: {exc}") from None
