"""Options shared by the commands that connect to a target, and turning them into a Target."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from redis_audit.exitcodes import UsageError
from redis_audit.secret import Secret
from redis_audit.target import Credentials, Target, TlsOptions, parse_url

PASSWORD_ON_COMMAND_LINE = (
    "warning: a password in the target URL is visible in the process list and shell history; "
    "use --password-env or --password-file"
)


def target_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Connection and credential options, in one place for every command that reaches a target."""
    return _with_target_options(command, ())


def target_options_except(*left_out: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """target_options but those named (by parameter), for a command whose own option uses the flag."""
    return lambda command: _with_target_options(command, left_out)


def _with_target_options(command: Callable[..., Any], left_out: tuple[str, ...]) -> Callable[..., Any]:
    options = [
        click.option("--user", "user", help="ACL user for data nodes (default: from the URL, else 'default')."),
        click.option("--password-env", metavar="VAR", help="Read the data-node password from this variable."),
        click.option("--password-file", type=click.Path(path_type=Path), help="Read the data-node password "
                     "from this file (first line)."),
        click.option("--sentinel-user", help="ACL user for Sentinels (they have their own credentials)."),
        click.option("--sentinel-password-env", metavar="VAR", help="Read the Sentinel password from this variable."),
        click.option("--sentinel-password-file", type=click.Path(path_type=Path),
                     help="Read the Sentinel password from this file."),
        click.option("--tls-ca", type=click.Path(path_type=Path), help="CA bundle to verify servers with."),
        click.option("--tls-cert", type=click.Path(path_type=Path), help="Client certificate (mutual TLS)."),
        click.option("--tls-key", type=click.Path(path_type=Path), help="Client private key (mutual TLS)."),
        click.option("--tls-insecure", is_flag=True, help="Do not verify server certificates (reported as a "
                     "finding)."),
        click.option("--name", "deployment_name", help="Deployment name for the report (default: the URL)."),
    ]
    for name, option in reversed(list(zip(TARGET_OPTION_NAMES, options, strict=True))):
        if name not in left_out:
            command = option(command)

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return command(*args, **kwargs)

    return wrapper


def read_secret(env: str | None, file: Path | None, prefix: str = "") -> Secret | None:
    """A password from an environment variable or a file; prefix is "" or "sentinel-" for messages."""
    if env and file:
        raise UsageError(f"give --{prefix}password-env or --{prefix}password-file, not both")
    if env:
        value = os.environ.get(env)
        if value is None:
            raise UsageError(f"--{prefix}password-env: variable {env} is not set")
        return Secret(value)
    if file:
        try:
            return Secret(file.read_text(encoding="utf-8").splitlines()[0] if file.stat().st_size else "")
        except OSError as exc:
            raise UsageError(f"--{prefix}password-file: cannot read {file}: {exc.strerror}") from None
    return None


def build_target(url: str, opts: dict[str, Any]) -> Target:
    """The Target from the URL and the shared options; warns about a password given on the command line."""
    parsed = parse_url(url)
    if parsed.password is not None:
        click.echo(PASSWORD_ON_COMMAND_LINE, err=True)
    password = read_secret(opts.get("password_env"), opts.get("password_file")) or parsed.password
    sentinel_password = read_secret(opts.get("sentinel_password_env"), opts.get("sentinel_password_file"),
                                    "sentinel-")
    tls = TlsOptions(
        enabled=parsed.tls,
        ca_file=opts.get("tls_ca"),
        cert_file=opts.get("tls_cert"),
        key_file=opts.get("tls_key"),
        verify=not opts.get("tls_insecure"),
    )
    if (tls.ca_file or tls.cert_file) and not tls.enabled:
        raise UsageError("TLS options were given for a plaintext target: use rediss://")
    tls.validate()
    user = opts.get("user") or parsed.user
    return Target(
        kind=parsed.kind,
        seeds=parsed.seeds,
        tls=tls,
        credentials=Credentials(user, password),
        sentinel_credentials=Credentials(opts.get("sentinel_user"), sentinel_password),
        master_name=parsed.master_name,
        name=opts.get("deployment_name"),
    )


TARGET_OPTION_NAMES = (
    "user", "password_env", "password_file", "sentinel_user", "sentinel_password_env",
    "sentinel_password_file", "tls_ca", "tls_cert", "tls_key", "tls_insecure", "deployment_name",
)


def pop_target_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {name: kwargs.pop(name, None) for name in TARGET_OPTION_NAMES}
