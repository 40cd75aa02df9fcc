"""The control-plane collector against moto (and Stubber where moto lacks an API or a field)."""

from __future__ import annotations

import boto3
from botocore.validate import validate_parameters

from redis_audit.aws.collector import AwsControlPlaneCollector
from redis_audit.aws.resource import AwsKind, AwsResource, AwsSecretRefs
from redis_audit.collect.base import CollectContext, Deadline
from redis_audit.jsonvalue import ensure_canonical
from redis_audit.profile import Profile
from redis_audit.target import Target
from redis_audit.topology import DeploymentKind, Topology

from . import world
from .conftest import StubbedApi


def collect(api: StubbedApi, resource: AwsResource | None, secrets: AwsSecretRefs | None = None) -> dict:
    ctx = CollectContext(Target(kind="redis", seeds=(), aws=resource, aws_secrets=secrets),
                         Topology(DeploymentKind.UNKNOWN), Profile())
    facts = AwsControlPlaneCollector(lambda r, d: api).collect(ctx, Deadline.after(30))
    ensure_canonical({k: f.to_json() for k, f in facts.items()})
    assert set(facts) <= set(AwsControlPlaneCollector.provides)  # what checks may need is what it declares
    return facts


def test_replication_group_facts(moto, api):
    built = world.build(api)
    facts = collect(api, AwsResource(AwsKind.REPLICATION_GROUP, "rl"))
    assert {k for k, f in facts.items() if not f.ok} == set()
    assert facts["aws.replication_group"].value["TransitEncryptionMode"] == "required"
    assert facts["aws.kms_key"].value["Arn"] == built["key"]["Arn"]
    assert facts["aws.kms_key_rotation"].value["KeyRotationEnabled"] is True
    assert facts["aws.parameters"].value == {"group": "limiter-params", "values": {
        "maxmemory-policy": "allkeys-lru", "reserved-memory-percent": "25"}}
    assert {u["UserName"] for u in facts["aws.users"].value} == {"default", "app"}
    assert facts["aws.network"].value["subnets"][0]["InternetGatewayRoutes"] == []
    assert len(facts["aws.alarms"].value["alarms"]) == 6
    assert facts["aws.alarms"].value["alarms"][0]["Threshold"] in ("80", "0", "5", "1", "50000")


def test_public_subnet_is_seen_through_the_route_table(moto, api):
    world.build(api, public=True)
    facts = collect(api, AwsResource(AwsKind.REPLICATION_GROUP, "rl"))
    routes = facts["aws.network"].value["subnets"][0]["InternetGatewayRoutes"]
    assert routes and routes[0]["GatewayId"].startswith("igw-")


def test_access_denied_names_the_iam_action(api):
    api.stub_error("elasticache", "describe_replication_groups", "AccessDenied", "not authorized")
    facts = collect(api, AwsResource(AwsKind.REPLICATION_GROUP, "rl"))
    error = facts["aws.replication_group"].error
    assert error is not None and error.kind == "denied"
    assert "grant elasticache:DescribeReplicationGroups" in error.describe()


def test_serverless_and_memorydb_through_stubber(api):
    serverless = {"ServerlessCacheName": "sl", "ARN": "arn:aws:elasticache:us-east-1:1:serverlesscache:sl",
                  "Engine": "valkey", "FullEngineVersion": "8.0", "SubnetIds": [], "SecurityGroupIds": [],
                  "UserGroupId": "ug", "Endpoint": {"Address": "sl.cache", "Port": 6379}}
    api.stub("elasticache", "describe_serverless_caches", {"ServerlessCaches": [serverless]})
    api.stub("elasticache", "describe_user_groups", {"UserGroups": [{"UserGroupId": "ug", "UserIds": []}]})
    facts = collect(api, AwsResource(AwsKind.SERVERLESS, "sl"))
    assert facts["aws.serverless_cache"].value["UserGroupId"] == "ug"
    cluster = {"Name": "m", "ARN": "arn:aws:memorydb:us-east-1:1:cluster/m", "ACLName": "limiter", "TLSEnabled": True,
               "ParameterGroupName": "pg", "Shards": [{"Name": "0001", "Nodes": [
                   {"Name": "m-0001-001", "AvailabilityZone": "us-east-1a"},
                   {"Name": "m-0001-002", "AvailabilityZone": "us-east-1b"}]}]}
    api.stub("memorydb", "describe_clusters", {"Clusters": [cluster]})
    api.stub("memorydb", "describe_acls", {"ACLs": [{"Name": "limiter", "UserNames": ["app"]}]})
    api.stub("memorydb", "describe_users", {"Users": [{"Name": "app", "AccessString": "on ~rl:* +@all",
                                                       "Authentication": {"Type": "password", "PasswordCount": 1}}]})
    api.stub("memorydb", "describe_parameters", {"Parameters": [{"Name": "maxmemory-policy", "Value": "allkeys-lru"}]})
    facts = collect(api, AwsResource(AwsKind.MEMORYDB, "m"))
    assert facts["aws.memorydb_acl"].value["Name"] == "limiter"
    assert facts["aws.parameters"].value["values"] == {"maxmemory-policy": "allkeys-lru"}
    for stubber in api.stubbers.values():
        stubber.assert_no_pending_responses()
    model = api.client("memorydb").meta.service_model.operation_model("DescribeClusters")
    validate_parameters({"ClusterName": "m", "ShowShardDetails": True}, model.input_shape)


def test_secrets_of_a_self_hosted_target_are_described_without_any_control_plane_call(moto, api):
    sm = boto3.client("secretsmanager")
    arn = sm.create_secret(Name="redis/app", SecretString="do-not-read-me")["ARN"]
    facts = collect(api, None, AwsSecretRefs((arn,)))
    assert set(facts) == {"aws.secrets"}
    assert facts["aws.secrets"].value[0]["ARN"] == arn
    assert "do-not-read-me" not in repr({k: f.to_json() for k, f in facts.items()})
