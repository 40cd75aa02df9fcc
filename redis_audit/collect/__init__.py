"""Collectors: the only code that reads facts from the network. Each one is small and read-only.

The collector modules are imported when the lists are asked for, not with the package: a command that
needs one helper (``collect.base``, ``collect.keyspace``) does not pay for all of them (cryptography, boto3...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis_audit.collect.base import Collector, Declared, DeploymentCollector


def node_collectors() -> list[Collector]:
    """Per-node collectors, in order (INFO first: it tells whether the node answers at all)."""
    from redis_audit.collect.acl import AclCollector
    from redis_audit.collect.clients import ClientListCollector
    from redis_audit.collect.host import SwapCollector
    from redis_audit.collect.keyslots import LimiterKeySampler
    from redis_audit.collect.latency import LatencyCollector
    from redis_audit.collect.probes import PlaintextProbe, UnauthenticatedProbe
    from redis_audit.collect.replication import ReplicationRateCollector
    from redis_audit.collect.security import (
        AclDryRunCollector,
        CommandInfoCollector,
        SentinelUnauthenticatedProbe,
        TlsProtocolProbe,
    )
    from redis_audit.collect.server import ConfigCollector, InfoCollector
    from redis_audit.collect.tls import TlsCollector
    from redis_audit.collect.topology_facts import ClusterCollector, SentinelCollector

    return [
        InfoCollector(),
        ConfigCollector(),
        AclCollector(),
        ClusterCollector(),
        SentinelCollector(),
        TlsCollector(),
        UnauthenticatedProbe(),
        PlaintextProbe(),
        LatencyCollector(),
        ClientListCollector(),
        TlsProtocolProbe(),
        AclDryRunCollector(),
        CommandInfoCollector(),
        SentinelUnauthenticatedProbe(),
        LimiterKeySampler(),
        SwapCollector(),
        ReplicationRateCollector(),  # last: it waits ha.write_rate_sample_ms between two samples
    ]


def deployment_collectors() -> list[DeploymentCollector]:
    """Run-wide collectors (control plane, probes from this host)."""
    from redis_audit.aws.collector import AwsControlPlaneCollector
    from redis_audit.collect.keyspace import KeyspaceCensusCollector
    from redis_audit.collect.latency import LocalLatencyProbe

    return [AwsControlPlaneCollector(), LocalLatencyProbe(), KeyspaceCensusCollector()]


def declared_collectors() -> list[Declared]:
    """Every collector that talks to data nodes or Sentinels: the per-node ones and the keyspace census."""
    from redis_audit.collect.keyspace import KeyspaceCensusCollector

    return [*node_collectors(), KeyspaceCensusCollector()]
