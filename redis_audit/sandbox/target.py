"""How the engine addresses a sandbox: its URL, TLS files and a user's credentials."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from redis_audit.files import write_file
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


def sandbox_cli_args(sandbox: Sandbox, workdir: Path, user: str = "auditor") -> list[str]:
    """`run`'s target and credential options for a sandbox, as a user would type them.

    The passwords go to files in workdir (0600), never onto the command line.
    """
    args = [sandbox.info.target_url]
    if sandbox.info.auditor_user:
        data, sentinel = workdir / f"{user}.pw", workdir / f"{user}.sentinel.pw"
        for path, password in ((data, sandbox.password(user)), (sentinel, sandbox.sentinel_password(user))):
            write_file(path, password, what="sandbox password file", mode=0o600)
        args += ["--user", user, "--password-file", str(data), "--sentinel-user", user,
                 "--sentinel-password-file", str(sentinel)]
    if sandbox.info.ca_file:
        args += ["--tls-ca", str(sandbox.info.ca_file), "--tls-cert", str(sandbox.info.client_cert_file),
                 "--tls-key", str(sandbox.info.client_key_file)]
    return args
