"""`redis-audit keys generate`: a local signing key pair for the signed readiness report."""

from __future__ import annotations

from pathlib import Path

import click

from redis_audit.signing.keys import ALGORITHMS, Algorithm, generate_keypair


@click.group()
def keys() -> None:
    """Manage signing keys."""


@keys.command("generate")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for signing-key.pem (mode 0600) and signing-key.pub.pem.",
)
@click.option(
    "--algorithm",
    type=click.Choice(ALGORITHMS),
    default="ed25519",
    show_default=True,
    help="ed25519, or p256 for ECDSA P-256 (the same algorithm as the KMS keys).",
)
def generate(out_dir: Path, algorithm: Algorithm) -> None:
    """Write a new private key and its public key; never overwrites an existing key."""
    paths = generate_keypair(out_dir, algorithm)
    click.echo(str(paths.private_key))
    click.echo(str(paths.public_key))
