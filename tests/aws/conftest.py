"""No test reaches real AWS: fake credentials, a fixed region, and an unroutable endpoint for anything
that is not mocked (moto intercepts before the endpoint is used; an un-mocked call fails fast)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from redis_audit.aws.clients import AwsApi, client_config

UNROUTABLE = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", UNROUTABLE)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every API it supports. moto intercepts by AWS hostname, so the unroutable endpoint is
    lifted here; inside mock_aws every AWS request is answered by moto (or refused), never sent."""
    from moto import mock_aws

    monkeypatch.delenv("AWS_ENDPOINT_URL")
    with mock_aws():
        yield


class Routed:
    """A client whose listed methods go to a Stubber-backed client (APIs moto lacks), the rest to moto."""

    def __init__(self, real: Any, stubbed: Any, methods: set[str]) -> None:
        self._real, self._stubbed, self._methods = real, stubbed, methods
        self.meta = real.meta

    def get_paginator(self, method: str) -> Any:
        return (self._stubbed if method in self._methods else self._real).get_paginator(method)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stubbed if name in self._methods else self._real, name)


class StubbedApi(AwsApi):
    """An AwsApi over one boto3 session, with some (service, method) pairs answered by Stubbers."""

    def __init__(self) -> None:
        super().__init__(boto3.session.Session(region_name="us-east-1"))
        self.stubbers: dict[str, Stubber] = {}
        self._stub_clients: dict[str, Any] = {}
        self._methods: dict[str, set[str]] = {}

    def stub(self, service: str, method: str, response: dict[str, Any], params: dict[str, Any] | None = None) -> None:
        if service not in self.stubbers:
            client = boto3.client(service, region_name="us-east-1", config=client_config())
            self._stub_clients[service] = client
            self.stubbers[service] = Stubber(client)
            self.stubbers[service].activate()
        self._methods.setdefault(service, set()).add(method)
        self.stubbers[service].add_response(method, response, params)

    def stub_error(self, service: str, method: str, code: str, message: str = "denied") -> None:
        self.stub(service, method, {})  # registers the client and method
        stubber = self.stubbers[service]
        stubber._queue.pop()  # replace the placeholder with the error
        stubber.add_client_error(method, service_error_code=code, service_message=message, http_status_code=400)

    def client(self, service: str) -> Any:
        real = super().client(service)
        if service in self._stub_clients:
            return Routed(real, self._stub_clients[service], self._methods[service])
        return real


@pytest.fixture
def api(fake_aws: None) -> Iterator[StubbedApi]:
    made = StubbedApi()
    yield made
    for stubber in made.stubbers.values():
        stubber.deactivate()
