"""The target: which deployment to audit, how to reach it, and with which credentials.

Supported forms:
  redis://[user[:password]@]host:port              plaintext
  rediss://[user[:password]@]host:port             TLS
  redis+sentinel://host:port,host:port/MASTERNAME   Sentinels (rediss+sentinel:// for TLS)
A cluster is addressed by any seed node; discovery detects cluster mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from redis_audit.exitcodes import UsageError
from redis_audit.secret import Secret
from redis_audit.snapshot import TargetInfo
from redis_audit.topology import Address

if TYPE_CHECKING:
    from redis_audit.aws.resource import AwsResource, AwsSecretRefs

SCHEMES = {
    "redis": ("redis", False),
    "rediss": ("redis", True),
    "redis+sentinel": ("sentinel", False),
    "rediss+sentinel": ("sentinel", True),
}
DEFAULT_PORTS = {"redis": 6379, "sentinel": 26379}


@dataclass(frozen=True)
class TlsOptions:
    enabled: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    verify: bool = True  # --tls-insecure turns this off, and the audit reports it

    def validate(self) -> None:
        for label, path in (("--tls-ca", self.ca_file), ("--tls-cert", self.cert_file), ("--tls-key", self.key_file)):
            if path is not None and not path.is_file():
                raise UsageError(f"{label}: no such file: {path}")
        if (self.cert_file is None) != (self.key_file is None):
            raise UsageError("--tls-cert and --tls-key must be given together")


@dataclass(frozen=True)
class Credentials:
    user: str | None = None
    password: Secret | None = None


@dataclass(frozen=True)
class Target:
    kind: str  # "redis" or "sentinel"
    seeds: tuple[Address, ...]
    tls: TlsOptions = field(default_factory=TlsOptions)
    credentials: Credentials = field(default_factory=Credentials)
    sentinel_credentials: Credentials = field(default_factory=Credentials)
    master_name: str | None = None
    name: str | None = None  # a deployment name for the report
    aws: AwsResource | None = None  # an AWS-managed deployment: its control plane is audited too
    aws_secrets: AwsSecretRefs | None = None  # Secrets Manager secrets whose metadata is audited
    # Hosts besides the seeds the credentials may go to (profile [target] allowed_hosts, the AWS control
    # plane's node endpoints): names, addresses or CIDRs. See node_trust.py.
    allowed_hosts: tuple[str, ...] = ()

    def url(self) -> str:
        """The target URL without any credentials."""
        scheme = ("rediss" if self.tls.enabled else "redis") + ("+sentinel" if self.kind == "sentinel" else "")
        hosts = ",".join(str(a) for a in self.seeds)
        user = f"{self.credentials.user}@" if self.credentials.user else ""
        suffix = f"/{self.master_name}" if self.master_name else ""
        return f"{scheme}://{user}{hosts}{suffix}"

    def info(self) -> TargetInfo:
        return TargetInfo(
            url=self.url(),
            kind=str(self.aws.kind) if self.aws else self.kind,
            seeds=tuple(str(a) for a in self.seeds),
            tls=self.tls.enabled,
            tls_verify=self.tls.verify,
            user=self.credentials.user,
            master_name=self.master_name,
            name=self.name or (self.aws.id if self.aws else None),
        )


@dataclass(frozen=True)
class ParsedUrl:
    kind: str
    tls: bool
    seeds: tuple[Address, ...]
    user: str | None
    password: Secret | None
    master_name: str | None


def parse_url(url: str) -> ParsedUrl:
    """Parse a target URL; a malformed one is a UsageError with the reason (never echoing a password)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        raise UsageError(
            "target must start with redis://, rediss://, redis+sentinel:// or rediss+sentinel://"
        )
    kind, tls = SCHEMES[scheme.lower()]
    userinfo, at, hostpart = rest.rpartition("@")
    if not at:
        hostpart = rest
    hosts, _, path = hostpart.partition("/")
    user: str | None = None
    password: Secret | None = None
    if userinfo:
        raw_user, colon, raw_password = userinfo.partition(":")
        user = unquote(raw_user) or None
        if colon:
            password = Secret(unquote(raw_password))
    seeds = tuple(_parse_host(h, DEFAULT_PORTS[kind]) for h in hosts.split(",") if h.strip())
    if not seeds:
        raise UsageError("target has no host")
    if kind == "redis" and len(seeds) > 1:
        raise UsageError("a redis:// target takes one seed node; discovery finds the others")
    master_name = unquote(path.strip("/")) or None
    if kind == "sentinel" and not master_name:
        raise UsageError("a Sentinel target needs the master name: redis+sentinel://host:port,.../MASTERNAME")
    if kind == "redis" and master_name is not None and not master_name.isdigit():
        raise UsageError(f"unexpected path {master_name!r} in a redis:// target (only a database number)")
    return ParsedUrl(kind, tls, seeds, user, password, master_name if kind == "sentinel" else None)


def _parse_host(text: str, default_port: int) -> Address:
    text = text.strip()
    # urlsplit validates the host syntax (brackets for IPv6) and the port range.
    try:
        parts = urlsplit(f"//{text}")
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"bad host:port {text!r}: {exc}") from None
    host = parts.hostname
    if not host:
        raise UsageError(f"bad host:port {text!r}")
    return Address(host, port or default_port)
