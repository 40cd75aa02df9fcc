"""boto3 for the audit: one session, clients with timeouts and bounded retries, errors as facts.

Every API call goes through `AwsApi.call` or `AwsApi.pages`. A failure raises `AwsCallFailed`
carrying the FactError the collector stores: an AccessDenied names the IAM action that would make
the call possible ("elasticache:DescribeReplicationGroups"), a timeout is a timeout, and the
message is scrubbed of known secrets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
from botocore import exceptions as bexc
from botocore.config import Config

from redis_audit.aws.resource import AwsSettings
from redis_audit.collect.base import Deadline
from redis_audit.jsonvalue import JsonValue
from redis_audit.secret import scrub
from redis_audit.snapshot import FactError, FactErrorKind

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 15.0
MAX_ATTEMPTS = 2  # the first call and one retry: a control plane that does not answer costs seconds, not minutes

DENIED_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
    "UnauthorizedAccess", "InvalidClientTokenId", "UnrecognizedClientException", "ExpiredToken",
    "ExpiredTokenException", "AuthFailure", "SignatureDoesNotMatch",
})


class AwsCallFailed(Exception):
    """An API call failed; `error` is the reason, ready to store as an unavailable fact."""

    def __init__(self, error: FactError) -> None:
        super().__init__(error.describe())
        self.error = error


def client_config(deadline: Deadline | None = None) -> Config:
    """Timeouts and bounded retries for every client; shortened so that no call outlives the deadline."""
    connect, read = CONNECT_TIMEOUT_S, READ_TIMEOUT_S
    if deadline is not None:
        left = max(0.1, deadline.remaining())
        connect, read = min(connect, left), min(read, left)
    return Config(connect_timeout=connect, read_timeout=read,
                  retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"})


def open_session(settings: AwsSettings) -> boto3.session.Session:
    """The boto3 session for the run (the usual credential chain, or the named profile)."""
    return boto3.session.Session(region_name=settings.region, profile_name=settings.profile)


class AwsApi:
    """The clients of one run, created on first use, all with the same timeouts and retries."""

    def __init__(self, session: boto3.session.Session, deadline: Deadline | None = None) -> None:
        self._session = session
        self._deadline = deadline
        self._clients: dict[str, Any] = {}

    @classmethod
    def open(cls, settings: AwsSettings, deadline: Deadline | None = None) -> AwsApi:
        return cls(open_session(settings), deadline)

    @property
    def region(self) -> str | None:
        name: str | None = self._session.region_name
        return name

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, config=client_config(self._deadline))
        return self._clients[service]

    def call(self, service: str, method: str, **params: Any) -> dict[str, Any]:
        """One API call; raises AwsCallFailed with the reason."""
        client = self.client(service)
        self._check_deadline(client, method)
        try:
            response: dict[str, Any] = getattr(client, method)(**params)
        except Exception as exc:
            raise AwsCallFailed(classify(exc, iam_action(client, method))) from None
        response.pop("ResponseMetadata", None)
        return response

    def pages(self, service: str, method: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item under `key` across the pages of a paginated call."""
        client = self.client(service)
        paginator = client.get_paginator(method)
        try:
            for page in paginator.paginate(**params):
                self._check_deadline(client, method)
                yield from page.get(key, [])
        except AwsCallFailed:
            raise
        except Exception as exc:
            raise AwsCallFailed(classify(exc, iam_action(client, method))) from None

    def _check_deadline(self, client: Any, method: str) -> None:
        if self._deadline is not None and self._deadline.remaining() <= 0:
            raise AwsCallFailed(FactError(FactErrorKind.TIMEOUT, iam_action(client, method),
                                          "the run's deadline passed before the call"))


def iam_action(client: Any, method: str) -> str:
    """The IAM action of a client method: ("elasticache", "describe_users") -> "elasticache:DescribeUsers"."""
    service = client.meta.service_model.service_name
    operation = client.meta.method_to_api_mapping.get(method, method)
    return f"{service}:{operation}"


def classify(exc: BaseException, action: str) -> FactError:
    """The reason an API call failed, as a fact error; `action` is the IAM action."""
    message = scrub(exc)
    if isinstance(exc, bexc.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in DENIED_CODES:
            return FactError(FactErrorKind.DENIED, action, message)
        return FactError(FactErrorKind.ERROR, action, message)
    if isinstance(exc, bexc.NoCredentialsError | bexc.PartialCredentialsError | bexc.ProfileNotFound):
        return FactError(FactErrorKind.DENIED, action, f"no usable AWS credentials: {message}")
    if isinstance(exc, bexc.ConnectTimeoutError | bexc.ReadTimeoutError):
        return FactError(FactErrorKind.TIMEOUT, action, message)
    if isinstance(exc, bexc.EndpointConnectionError | bexc.ConnectionError):
        return FactError(FactErrorKind.UNREACHABLE, action, message)
    if isinstance(exc, bexc.NoRegionError):
        return FactError(FactErrorKind.ERROR, action, "no AWS region: pass --aws-region or set AWS_DEFAULT_REGION")
    return FactError(FactErrorKind.ERROR, action, f"{type(exc).__name__}: {message}")


def rfc3339(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def number_text(value: float) -> str:
    """A float as the report's text form: 80.0 -> "80", 0.5 -> "0.5" (reports carry no floats)."""
    return str(int(value)) if value.is_integer() else repr(value)


def jsonable(value: Any) -> JsonValue:
    """An API response in the report's JSON subset: datetimes as RFC 3339, floats as text."""
    if isinstance(value, dt.datetime):
        return rfc3339(value)
    if isinstance(value, float):
        return number_text(value)
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)
