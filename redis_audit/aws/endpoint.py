"""The data-plane endpoint of a managed deployment, discovered from its control plane."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from redis_audit.aws.clients import AwsApi, AwsCallFailed
from redis_audit.aws.resource import AwsKind, AwsResource
from redis_audit.snapshot import FactError, FactErrorKind


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    tls: bool  # TransitEncryptionEnabled / TLSEnabled; serverless caches always use TLS
    # Node endpoints the control plane lists: the audit may send its credentials there (node_trust.py).
    members: tuple[str, ...] = ()

    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://{self.host}:{self.port}"


def discover_endpoint(api: AwsApi, resource: AwsResource) -> Endpoint:
    """The endpoint clients use: the configuration endpoint (cluster mode) or the primary endpoint.

    Raises AwsCallFailed with the reason when the control plane does not name one.
    """
    if resource.kind is AwsKind.REPLICATION_GROUP:
        group = api.call("elasticache", "describe_replication_groups",
                         ReplicationGroupId=resource.id)["ReplicationGroups"][0]
        groups = group.get("NodeGroups") or [{}]
        found = group.get("ConfigurationEndpoint") or groups[0].get("PrimaryEndpoint")
        endpoint = _endpoint(found, bool(group.get("TransitEncryptionEnabled")), resource)
        return dataclasses.replace(endpoint, members=_member_hosts(groups))
    if resource.kind is AwsKind.SERVERLESS:
        cache = api.call("elasticache", "describe_serverless_caches",
                         ServerlessCacheName=resource.id)["ServerlessCaches"][0]
        return _endpoint(cache.get("Endpoint"), True, resource)
    cluster = api.call("memorydb", "describe_clusters", ClusterName=resource.id)["Clusters"][0]
    return _endpoint(cluster.get("ClusterEndpoint"), bool(cluster.get("TLSEnabled")), resource)


def _member_hosts(node_groups: list[Any]) -> tuple[str, ...]:
    hosts = []
    for group in node_groups:
        endpoints = [group.get("PrimaryEndpoint"), group.get("ReaderEndpoint"),
                     *(m.get("ReadEndpoint") for m in group.get("NodeGroupMembers") or [] if isinstance(m, dict))]
        hosts += [str(e["Address"]) for e in endpoints if isinstance(e, dict) and e.get("Address")]
    return tuple(dict.fromkeys(hosts))


def _endpoint(found: Any, tls: bool, resource: AwsResource) -> Endpoint:
    if not isinstance(found, dict) or not found.get("Address"):
        raise AwsCallFailed(FactError(FactErrorKind.ERROR, "endpoint",
                                      f"{resource.describe()} has no endpoint yet (is it still creating?)"))
    return Endpoint(str(found["Address"]), int(found.get("Port") or 6379), tls)
