"""`redis-audit probe ...`: active measurements (latency, failover). Each probe is its own module."""

from __future__ import annotations

import click


@click.group()
def probe() -> None:
    """Active probes: measure what clients see (latency) or what a failover costs."""
