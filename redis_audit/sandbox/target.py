"""How the engine addresses a sandbox: its URL, TLS files and a user's credentials."""

from __future__ import annotations

from typing import TYPE_CHECKING

from redis_audit.secret import Secret
from redis_audit.target import Credentials, Target, TlsOptions, parse_url

if TYPE_CHECKING:
    from redis_audit.sandbox.core import Sandbox


def sandbox_target(sandbox: Sandbox, user: str | None = "auditor", *, name: str | None = None) -> Target:
    """A Target for auditing the sandbox as `user` (the bad preset has no users: no credentials)."""
    info = sandbox.info
    parsed = parse_url(info.target_url)
    has_users = info.auditor_user is not None and user is not None
    credentials = Credentials(user, Secret(sandbox.password(user))) if has_users and user else Credentials()
    sentinel_credentials = Credentials()
    if has_users and user and parsed.kind == "sentinel":
        sentinel_credentials = Credentials(user, Secret(sandbox.sentinel_password(user)))
    tls = TlsOptions(
        enabled=parsed.tls,
        ca_file=info.ca_file,
        cert_file=info.client_cert_file,
        key_file=info.client_key_file,
    )
    return Target(
        kind=parsed.kind,
        seeds=parsed.seeds,
        tls=tls,
        credentials=credentials,
        sentinel_credentials=sentinel_credentials,
        master_name=parsed.master_name,
        name=name,
    )
