import click


@click.group()
def sandbox() -> None:
    """Local sandbox deployments (placeholder until the sandbox lands)."""
