"""Scheduled compliance runs: store the written report in S3, encrypted with SSE-KMS.

A failed upload raises UploadFailed (exit code 6, UPLOAD_FAILED): the report stays on disk, the
verdict line was printed, but the run is not recorded, so a scheduler must see it fail.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from redis_audit.aws.clients import AwsApi, AwsCallFailed
from redis_audit.exitcodes import AuditError, ExitCode, UsageError


class UploadFailed(AuditError):
    """The report was written but could not be stored: one line, exit code 6."""

    exit_code = ExitCode.UPLOAD_FAILED


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # "" or ending in "/"

    @classmethod
    def parse(cls, url: str) -> S3Location:
        match = re.fullmatch(r"s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(/.*)?", url)
        if not match:
            raise UsageError(f"--upload: expected s3://BUCKET/PREFIX/, got {url!r}")
        prefix = (match.group(2) or "/").lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return cls(match.group(1), prefix)

    def url(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{key or self.prefix}"


def object_key(location: S3Location, target: str, when: dt.datetime, suffix: str) -> str:
    """PREFIX/<target>/<UTC time>-report<suffix>: sortable by time under one folder per target."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", target).strip("_") or "target"
    stamp = when.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{location.prefix}{safe}/{stamp}-report{suffix}"


def upload_report(api: AwsApi, path: Path, location: S3Location, target: str, when: dt.datetime,
                  kms_key: str | None = None) -> str:
    """Upload the file with SSE-KMS; returns the s3:// URL. Raises UploadFailed with the reason."""
    key = object_key(location, target, when, path.suffix or ".json")
    params: dict[str, str] = {"ServerSideEncryption": "aws:kms"}
    if kms_key:
        params["SSEKMSKeyId"] = kms_key
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise UploadFailed(f"--upload: cannot read {path}: {exc.strerror}") from None
    content_type = "application/json" if path.suffix == ".json" else "application/octet-stream"
    try:
        api.call("s3", "put_object", Bucket=location.bucket, Key=key, Body=body, ContentType=content_type, **params)
    except AwsCallFailed as exc:
        raise UploadFailed(f"--upload: the report was not stored in {location.url(key)}: "
                           f"{exc.error.describe()}") from None
    return location.url(key)
