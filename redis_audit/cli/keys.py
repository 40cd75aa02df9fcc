"""`redis-audit keys generate`: signing keys for the signed report.

`keys` means signing keys only. The census's old spellings, `keys TARGET` and `keys census TARGET`,
still run `census TARGET`, with the deprecation line, and are not listed in --help.
"""

from __future__ import annotations

from pathlib import Path

import click

from redis_audit.cli import deprecated
from redis_audit.signing.keys import ALGORITHMS, Algorithm, generate_keypair

OLD_CENSUS = "census"


class KeysGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = args[0] if args else None
        if first is not None and not first.startswith("-") and first not in self.commands:
            if not ctx.resilient_parsing:
                old = "keys census TARGET" if first == OLD_CENSUS else "keys TARGET"
                deprecated.warn(f"redis-audit {old}", "redis-audit census TARGET")
            if first != OLD_CENSUS:
                args = [OLD_CENSUS, *args]
        return super().parse_args(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == OLD_CENSUS:  # not in list_commands: hidden from --help
            from redis_audit.cli.census import census

            return census
        return super().get_command(ctx, cmd_name)


@click.group(cls=KeysGroup)
def keys() -> None:
    """Signing keys for the signed report (keys generate --output-dir DIR)."""


@keys.command("generate")
@click.option(
    "--output-dir",
    "output_dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Directory for signing-key.pem (mode 0600) and signing-key.pub.pem.  [required]",
)
@deprecated.old_option("--out", "--output-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--algorithm",
    type=click.Choice(ALGORITHMS),
    default="ed25519",
    show_default=True,
    help="ed25519, or p256 for ECDSA P-256 (the same algorithm as the KMS keys).",
)
@click.option("--insecure-key-permissions", is_flag=True,
              help="Write into a directory anyone may write to (refused otherwise: another user could swap the key).")
def generate(output_dir: Path | None, deprecated_out: Path | None, algorithm: Algorithm,
             insecure_key_permissions: bool) -> None:
    """Write a new private key (0600) and its public key; never overwrites an existing key."""
    directory = deprecated.either(output_dir, deprecated_out, "--output-dir", "--out")
    if directory is None:
        raise click.UsageError("Missing option '--output-dir'.", click.get_current_context())
    paths = generate_keypair(directory, algorithm, insecure_key_permissions)
    click.echo(str(paths.private_key))
    click.echo(str(paths.public_key))
