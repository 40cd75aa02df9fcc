"""A moto-backed ElastiCache replication group, plus Stubber answers for what moto lacks
(describe_cache_clusters' CacheParameterGroup/SecurityGroups, describe_cache_parameters, describe_user_groups)."""

from __future__ import annotations

from typing import Any

import boto3

from .conftest import StubbedApi


def build(api: StubbedApi, *, public: bool = False, primary_port: int | None = None) -> dict[str, Any]:
    """The group "rl"; with `primary_port`, its primary endpoint is 127.0.0.1:primary_port (a real server)."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    if public:
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    sg = ec2.create_security_group(GroupName="redis", Description="redis", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])
    kms = boto3.client("kms")
    key = kms.create_key(Description="redis at rest")["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    ec = boto3.client("elasticache")
    ec.create_cache_subnet_group(CacheSubnetGroupName="private", CacheSubnetGroupDescription="d", SubnetIds=[subnet])
    ec.create_user(UserId="new-default", UserName="default", Engine="redis", AccessString="off -@all",
                   NoPasswordRequired=True)
    ec.create_user(UserId="app", UserName="app", Engine="redis", AccessString="on ~rl:* +@all",
                   Passwords=["a-long-enough-password"])
    group = ec.create_replication_group(
        ReplicationGroupId="rl", ReplicationGroupDescription="limiter", Engine="redis", EngineVersion="7.1",
        CacheNodeType="cache.t4g.small", ReplicasPerNodeGroup=1, AutomaticFailoverEnabled=True, MultiAZEnabled=True,
        PreferredCacheClusterAZs=["us-east-1a", "us-east-1b"], TransitEncryptionEnabled=True,
        TransitEncryptionMode="required", AtRestEncryptionEnabled=True, KmsKeyId=key["Arn"],
        SnapshotRetentionLimit=7, AutoMinorVersionUpgrade=True, UserGroupIds=["limiter-users"],
        CacheSubnetGroupName="private", SecurityGroupIds=[sg], CacheParameterGroupName="limiter-params",
        **({"Port": primary_port} if primary_port else {}),
    )["ReplicationGroup"]
    if primary_port:
        point_primary_endpoint_at_loopback("rl")
    cw = boto3.client("cloudwatch")
    for metric, threshold in (("DatabaseMemoryUsagePercentage", 80.0), ("Evictions", 0.0), ("ReplicationLag", 5.0),
                              ("EngineCPUUtilization", 80.0), ("CurrConnections", 50000.0),
                              ("AuthenticationFailures", 1.0)):
        cw.put_metric_alarm(AlarmName=f"rl-{metric}", MetricName=metric, Namespace="AWS/ElastiCache",
                            Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=threshold,
                            ComparisonOperator="GreaterThanThreshold",
                            Dimensions=[{"Name": "CacheClusterId", "Value": "rl-001"}],
                            AlarmActions=["arn:aws:sns:us-east-1:123456789012:oncall"])
    for member in group["MemberClusters"]:
        api.stub("elasticache", "describe_cache_clusters", {"CacheClusters": [{
            "CacheClusterId": member, "ReplicationGroupId": "rl", "Engine": "redis", "EngineVersion": "7.1.0",
            "CacheParameterGroup": {"CacheParameterGroupName": "limiter-params", "ParameterApplyStatus": "in-sync"},
            "CacheSubnetGroupName": "private", "SecurityGroups": [{"SecurityGroupId": sg, "Status": "active"}]}]},
            {"CacheClusterId": member})
    api.stub("elasticache", "describe_cache_parameters", {"Parameters": [
        {"ParameterName": "maxmemory-policy", "ParameterValue": "allkeys-lru"},
        {"ParameterName": "reserved-memory-percent", "ParameterValue": "25"}]},
        {"CacheParameterGroupName": "limiter-params"})
    api.stub("elasticache", "describe_user_groups", {"UserGroups": [{
        "UserGroupId": "limiter-users", "Status": "active", "Engine": "redis", "UserIds": ["app", "new-default"],
        "ReplicationGroups": ["rl"]}]}, {"UserGroupId": "limiter-users"})
    return {"group": group, "key": key, "sg": sg, "subnet": subnet}


def point_primary_endpoint_at_loopback(group_id: str) -> None:
    """moto names the endpoint master.<id>.<random>.use1.cache.amazonaws.com; the API cannot change it,
    so this sets moto's own record, and describe_replication_groups then answers 127.0.0.1."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.elasticache.models import elasticache_backends

    group = elasticache_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].replication_groups[group_id]
    for node_group in group.node_groups:
        node_group["primary_endpoint"]["address"] = "127.0.0.1"
