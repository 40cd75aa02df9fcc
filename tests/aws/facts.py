"""A good ElastiCache replication group as `aws.*` facts (the shapes the collector stores)."""

from __future__ import annotations

import copy
from typing import Any

from redis_audit.judge import judge
from redis_audit.profile import Profile
from redis_audit.registry import all_checks, discover_packs
from redis_audit.snapshot import Fact, FactError, FactErrorKind, Snapshot, TargetInfo
from redis_audit.topology import DeploymentKind, Topology

ARN = "arn:aws:elasticache:us-east-1:123456789012:replicationgroup:rl"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1111-2222"

GOOD: dict[str, Any] = {
    "aws.resource": {"kind": "aws-elasticache", "id": "rl", "region": "us-east-1"},
    "aws.replication_group": {
        "ReplicationGroupId": "rl", "ARN": ARN, "Engine": "redis", "TransitEncryptionEnabled": True,
        "TransitEncryptionMode": "required", "AtRestEncryptionEnabled": True, "KmsKeyId": KEY,
        "AutomaticFailover": "enabled", "MultiAZ": "enabled", "SnapshotRetentionLimit": 7,
        "AutoMinorVersionUpgrade": True, "UserGroupIds": ["ug"], "AuthTokenEnabled": False,
        "MemberClusters": ["rl-001", "rl-002"],
        "NodeGroups": [{"NodeGroupId": "0001", "PrimaryEndpoint": {"Address": "h", "Port": 6379},
                        "NodeGroupMembers": [
                            {"CacheClusterId": "rl-001", "CurrentRole": "primary", "PreferredAvailabilityZone": "a"},
                            {"CacheClusterId": "rl-002", "CurrentRole": "replica", "PreferredAvailabilityZone": "b"}]}],
    },
    "aws.cache_clusters": [{"CacheClusterId": "rl-001", "EngineVersion": "7.1.0"}],
    "aws.parameters": {"group": "pg", "values": {"maxmemory-policy": "allkeys-lru", "reserved-memory-percent": "25"}},
    "aws.user_groups": [{"UserGroupId": "ug", "UserIds": ["app", "new-default"]}],
    "aws.users": [
        {"UserId": "new-default", "UserName": "default", "Status": "active", "AccessString": "off -@all",
         "Authentication": {"Type": "no-password"}},
        {"UserId": "app", "UserName": "app", "Status": "active", "AccessString": "on ~rl:* +@all",
         "Authentication": {"Type": "password", "PasswordCount": 1}},
    ],
    "aws.network": {"subnetGroup": "private", "vpcId": "vpc-1", "subnets": [
        {"SubnetId": "subnet-1", "RouteTableId": "rtb-1", "InternetGatewayRoutes": []}]},
    "aws.security_groups": [{"GroupId": "sg-1", "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}]}],
    "aws.kms_key": {"KeyId": "1111-2222", "Arn": KEY, "KeyManager": "CUSTOMER", "KeyState": "Enabled"},
    "aws.kms_key_rotation": {"KeyRotationEnabled": True},
    "aws.alarms": {"dimensionValues": ["rl", "rl-001"], "alarms": [
        {"AlarmName": f"rl-{m}", "MetricName": m, "Threshold": t, "ComparisonOperator": "GreaterThanThreshold",
         "ActionsEnabled": True, "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:oncall"]}
        for m, t in (("DatabaseMemoryUsagePercentage", "80"), ("Evictions", "0"), ("ReplicationLag", "10"),
                     ("EngineCPUUtilization", "75"), ("CurrConnections", "50000"),
                     ("AuthenticationFailures", "5"))]},
    "aws.secrets": [{"SecretId": "s", "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:s",
                     "Name": "s", "KmsKeyId": KEY, "RotationEnabled": True,
                     "RotationRules": {"AutomaticallyAfterDays": 30}, "LastRotatedDate": "2026-01-10T00:00:00Z"}],
}


def facts(**changes: Any) -> dict[str, Any]:
    """The good facts with changes: {"aws.x": value} replaces, {"aws.x.Field": value} sets one field."""
    data = copy.deepcopy(GOOD)
    for dotted, value in changes.items():
        name = dotted.replace("__", ".")
        fact, _, field = name.rpartition(".")
        if fact in data and name not in data:
            data[fact][field] = value
        else:
            data[name] = value
    return data


def snapshot_of(values: dict[str, Any], errors: dict[str, FactError] | None = None) -> Snapshot:
    deployment = {k: Fact(value=v) for k, v in values.items()}
    deployment.update({k: Fact(error=e) for k, e in (errors or {}).items()})
    return Snapshot(TargetInfo("redis://", "aws-elasticache", (), True, True, None, name="rl"),
                    Topology(DeploymentKind.UNKNOWN), {}, "2026-02-01T00:00:00Z", "2026-02-01T00:00:01Z",
                    "test", deployment)


def statuses(snapshot: Snapshot, check_id: str, profile: Profile | None = None) -> list[str]:
    checks = [c for c in all_checks(discover_packs()) if c.id == check_id]
    results = judge(snapshot, profile or Profile(), checks)
    return [str(r.finding.status) for r in results if r.finding.resource != "deployment"
            or ("no reachable" not in r.finding.message and "no primary" not in r.finding.message)]


DENIED = FactError(FactErrorKind.DENIED, "elasticache:DescribeReplicationGroups", "AccessDenied")
