"""`redis-audit keys`: the keyspace census (`keys TARGET`) and signing keys (`keys generate`)."""

from __future__ import annotations

from pathlib import Path

import click

from redis_audit.signing.keys import ALGORITHMS, Algorithm, generate_keypair


class KeysGroup(click.Group):
    """`keys TARGET` is the census; `keys generate` (or any other subcommand) is itself.

    Both issues' command lines hold: a first argument that names no subcommand is a target.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["census", *args]
        return super().parse_args(ctx, args)


@click.group(cls=KeysGroup)
def keys() -> None:
    """The keyspace census (keys TARGET ...) and signing keys (keys generate --out DIR)."""


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
@click.option("--insecure-key-permissions", is_flag=True,
              help="Write into a directory anyone may write to (refused otherwise: another user could swap the key).")
def generate(out_dir: Path, algorithm: Algorithm, insecure_key_permissions: bool) -> None:
    """Write a new private key (0600) and its public key; never overwrites an existing key."""
    paths = generate_keypair(out_dir, algorithm, insecure_key_permissions)
    click.echo(str(paths.private_key))
    click.echo(str(paths.public_key))
