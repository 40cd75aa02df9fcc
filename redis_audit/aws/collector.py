"""The AWS control-plane collector: describe calls only, stored as `aws.*` deployment facts.

Facts (each a value, or the reason it is unavailable, naming the IAM action to grant):
  aws.resource            {kind, id, region}
  aws.replication_group   describe_replication_groups → ReplicationGroups[0]     (ElastiCache)
  aws.cache_clusters      describe_cache_clusters, one per member cluster         (ElastiCache)
  aws.serverless_cache    describe_serverless_caches → ServerlessCaches[0]        (Serverless)
  aws.memorydb_cluster    memorydb describe_clusters (with shard details)         (MemoryDB)
  aws.memorydb_acl        memorydb describe_acls for the cluster's ACLName         (MemoryDB)
  aws.parameters          {group, values: {name: value}} from describe_cache_parameters / describe_parameters
  aws.user_groups         describe_user_groups for the attached group ids         (ElastiCache)
  aws.users               describe_users for the group/ACL members (access strings, auth type; no passwords)
  aws.network             {subnetGroup, vpcId, subnets: [{SubnetId, AvailabilityZone, RouteTableId,
                           InternetGatewayRoutes}]} from the subnet group and ec2 route tables
  aws.security_groups     ec2 describe_security_groups → SecurityGroups
  aws.kms_key             kms describe_key → KeyMetadata (at-rest key)
  aws.kms_key_rotation    kms get_key_rotation_status
  aws.alarms              {namespace, dimensions, alarms: [...]} cloudwatch describe_alarms on this cluster
  aws.secrets             [describe_secret per --password-secret / --aws-app-secret ARN] (never a value);
                          also for a self-hosted target, which then has no other aws.* fact

Secret values are never read here: `secretsmanager:GetSecretValue` belongs to the credential path
(secrets.py) only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from redis_audit.aws.resource import AwsKind, AwsResource, AwsSettings
from redis_audit.collect.base import CollectContext, Deadline
from redis_audit.jsonvalue import JsonObject, JsonValue, as_object, as_objects
from redis_audit.snapshot import Fact

if TYPE_CHECKING:
    from redis_audit.aws.clients import AwsApi

EC = "elasticache"
MDB = "memorydb"
# Alarm dimensions that name a cluster, by CloudWatch namespace.
ALARM_DIMENSIONS = {
    "AWS/ElastiCache": ("CacheClusterId", "ReplicationGroupId", "clusterId"),
    "AWS/MemoryDB": ("ClusterName",),
}
NOT_APPLICABLE: JsonObject = {}


class AwsControlPlaneCollector:
    """The control plane of an AWS-managed target, and the metadata of the Secrets Manager secrets named
    for any target (a self-hosted one with --password-secret too: SECRET-001/002 judge it either way)."""

    name = "aws"
    provides: tuple[str, ...] = (
        "aws.resource", "aws.replication_group", "aws.cache_clusters", "aws.parameters", "aws.network",
        "aws.user_groups", "aws.users", "aws.serverless_cache", "aws.memorydb_cluster", "aws.memorydb_acl",
        "aws.security_groups", "aws.kms_key", "aws.kms_key_rotation", "aws.alarms", "aws.secrets",
    )

    def __init__(self, api_factory: Callable[[AwsSettings, Deadline], AwsApi] | None = None) -> None:
        self._api_factory = api_factory

    def applies(self, ctx: CollectContext) -> bool:
        return ctx.target.aws is not None or ctx.target.aws_secrets is not None

    def collect(self, ctx: CollectContext, deadline: Deadline) -> dict[str, Fact]:
        resource, secrets = ctx.target.aws, ctx.target.aws_secrets
        if resource is not None:
            settings = resource.settings
        elif secrets is not None:
            settings = secrets.settings
        else:
            return {}
        if self._api_factory is not None:
            api = self._api_factory(settings, deadline)
        else:
            from redis_audit.aws.clients import AwsApi  # boto3 loads only for AWS targets and secrets

            api = AwsApi.open(settings, deadline)
        return _Collection(api, resource, secrets.arns if secrets else ()).run()


class _Collection:
    """One run of the collector: the facts so far, and the call that fills each one."""

    def __init__(self, api: AwsApi, resource: AwsResource | None, secret_arns: tuple[str, ...]) -> None:
        self.api = api
        self._resource = resource
        self.secret_arns = secret_arns
        self.facts: dict[str, Fact] = {}

    @property
    def resource(self) -> AwsResource:
        assert self._resource is not None, "a control-plane call without an AWS resource"
        return self._resource

    def fact(self, name: str, build: Callable[[], JsonValue]) -> JsonValue | None:
        """Build one fact; a failed call stores the reason and returns None."""
        from redis_audit.aws.clients import AwsCallFailed, jsonable

        try:
            value = jsonable(build())
        except AwsCallFailed as exc:
            self.facts[name] = Fact(error=exc.error)
            return None
        self.facts[name] = Fact(value=value)
        return value

    def run(self) -> dict[str, Fact]:
        if self._resource is not None:
            self._control_plane(self._resource)
        self._secrets()
        return self.facts

    def _control_plane(self, resource: AwsResource) -> None:
        kind = resource.kind
        self.facts["aws.resource"] = Fact(value={"kind": str(kind), "id": resource.id, "region": self.api.region})
        if kind is AwsKind.REPLICATION_GROUP:
            self._replication_group()
        elif kind is AwsKind.SERVERLESS:
            self._serverless()
        else:
            self._memorydb()

    # -- ElastiCache node-based --------------------------------------------------------------------
    def _replication_group(self) -> None:
        rid = self.resource.id
        group = self.fact("aws.replication_group", lambda: self.api.call(
            EC, "describe_replication_groups", ReplicationGroupId=rid)["ReplicationGroups"][0])
        if not isinstance(group, dict):
            return
        members = [str(m) for m in _list(group.get("MemberClusters"))]
        clusters = _list(self.fact("aws.cache_clusters", lambda: [
            self.api.call(EC, "describe_cache_clusters", CacheClusterId=m)["CacheClusters"][0] for m in members]))
        first = as_object(clusters[0]) if clusters else None
        if first:
            pg = as_object(first.get("CacheParameterGroup")).get("CacheParameterGroupName")
            if pg:
                self.fact("aws.parameters", lambda: {"group": pg, "values": {
                    p["ParameterName"]: p.get("ParameterValue") for p in self.api.pages(
                        EC, "describe_cache_parameters", "Parameters", CacheParameterGroupName=pg)}})
            subnet_group = first.get("CacheSubnetGroupName")
            if subnet_group:
                self.fact("aws.network", lambda: self._subnet_group_network(str(subnet_group)))
            sg_ids = [str(s.get("SecurityGroupId")) for s in as_objects(first.get("SecurityGroups")) if s]
            self._security_groups(sg_ids)
        self._user_groups([str(g) for g in _list(group.get("UserGroupIds"))])
        self._kms(group.get("KmsKeyId"))
        self._alarms("AWS/ElastiCache", {rid, *members})

    def _subnet_group_network(self, name: str) -> JsonObject:
        found = self.api.call(EC, "describe_cache_subnet_groups", CacheSubnetGroupName=name)["CacheSubnetGroups"][0]
        ids = [s["SubnetIdentifier"] for s in found.get("Subnets", [])]
        return {"subnetGroup": name, "vpcId": found.get("VpcId"), "subnets": self._subnets(ids)}

    def _user_groups(self, ids: list[str]) -> None:
        if not ids:
            self.facts["aws.user_groups"] = Fact(value=[])
            self.facts["aws.users"] = Fact(value=[])
            return
        groups = self.fact("aws.user_groups", lambda: [
            self.api.call(EC, "describe_user_groups", UserGroupId=g)["UserGroups"][0] for g in ids])
        if groups is None:
            return  # the AUTH checks skip with the user-group fact's reason
        user_ids = sorted({str(u) for g in _list(groups) for u in _list(as_object(g).get("UserIds"))})
        self.fact("aws.users", lambda: [
                self.api.call(EC, "describe_users", UserId=u)["Users"][0] for u in user_ids])

    # -- ElastiCache Serverless ----------------------------------------------------------------------
    def _serverless(self) -> None:
        name = self.resource.id
        cache = self.fact("aws.serverless_cache", lambda: self.api.call(
            EC, "describe_serverless_caches", ServerlessCacheName=name)["ServerlessCaches"][0])
        if not isinstance(cache, dict):
            return
        subnet_ids = [str(s) for s in _list(cache.get("SubnetIds"))]
        self.fact("aws.network", lambda: {"subnetGroup": None, "vpcId": None, "subnets": self._subnets(subnet_ids)})
        self._security_groups([str(s) for s in _list(cache.get("SecurityGroupIds"))])
        group = cache.get("UserGroupId")
        self._user_groups([str(group)] if group else [])
        self._kms(cache.get("KmsKeyId"))
        self._alarms("AWS/ElastiCache", {name})

    # -- MemoryDB ------------------------------------------------------------------------------------
    def _memorydb(self) -> None:
        name = self.resource.id
        cluster = self.fact("aws.memorydb_cluster", lambda: self.api.call(
            MDB, "describe_clusters", ClusterName=name, ShowShardDetails=True)["Clusters"][0])
        if not isinstance(cluster, dict):
            return
        acl_name = cluster.get("ACLName")
        if acl_name:
            acl = self.fact("aws.memorydb_acl", lambda: self.api.call(
                MDB, "describe_acls", ACLName=acl_name)["ACLs"][0])
            users = [str(u) for u in _list(as_object(acl).get("UserNames"))]
            if isinstance(acl, dict):
                self.fact("aws.users", lambda: [
                    self.api.call(MDB, "describe_users", UserName=u)["Users"][0] for u in users])
        pg = cluster.get("ParameterGroupName")
        if pg:
            self.fact("aws.parameters", lambda: {"group": pg, "values": {
                p["Name"]: p.get("Value") for p in self.api.pages(
                    MDB, "describe_parameters", "Parameters", ParameterGroupName=pg)}})
        subnet_group = cluster.get("SubnetGroupName")
        if subnet_group:
            self.fact("aws.network", lambda: self._memorydb_network(str(subnet_group)))
        self._security_groups([str(as_object(s).get("SecurityGroupId")) for s in _list(cluster.get("SecurityGroups"))
                               if as_object(s)])
        self._kms(cluster.get("KmsKeyId"))
        self._alarms("AWS/MemoryDB", {name})

    def _memorydb_network(self, name: str) -> JsonObject:
        found = self.api.call(MDB, "describe_subnet_groups", SubnetGroupName=name)["SubnetGroups"][0]
        ids = [s["Identifier"] for s in found.get("Subnets", [])]
        return {"subnetGroup": name, "vpcId": found.get("VpcId"), "subnets": self._subnets(ids)}

    # -- Shared: EC2, KMS, CloudWatch, Secrets Manager -------------------------------------------------
    def _subnets(self, ids: list[str]) -> list[JsonObject]:
        """Each subnet with its effective route table (explicit association, else the VPC's main table)."""
        if not ids:
            return []
        subnets = self.api.call("ec2", "describe_subnets", SubnetIds=ids)["Subnets"]
        vpcs = sorted({s["VpcId"] for s in subnets})
        tables = list(self.api.pages("ec2", "describe_route_tables", "RouteTables",
                                     Filters=[{"Name": "vpc-id", "Values": vpcs}]))
        out: list[JsonObject] = []
        for subnet in subnets:
            table = _route_table_of(subnet, tables)
            routes = [r for r in (table or {}).get("Routes", []) if str(r.get("GatewayId", "")).startswith("igw-")]
            out.append({
                "SubnetId": subnet["SubnetId"],
                "AvailabilityZone": subnet.get("AvailabilityZone"),
                "VpcId": subnet.get("VpcId"),
                "MapPublicIpOnLaunch": subnet.get("MapPublicIpOnLaunch"),
                "RouteTableId": (table or {}).get("RouteTableId"),
                "InternetGatewayRoutes": [
                    {"Destination": r.get("DestinationCidrBlock") or r.get("DestinationIpv6CidrBlock")
                     or r.get("DestinationPrefixListId"), "GatewayId": r.get("GatewayId")} for r in routes],
            })
        return out

    def _security_groups(self, ids: list[str]) -> None:
        if not ids:
            self.facts["aws.security_groups"] = Fact(value=[])
            return
        self.fact("aws.security_groups", lambda: [
            {k: g.get(k) for k in ("GroupId", "GroupName", "VpcId", "IpPermissions")}
            for g in self.api.pages("ec2", "describe_security_groups", "SecurityGroups", GroupIds=ids)])

    def _kms(self, key_id: Any) -> None:
        if not key_id:
            return  # no customer key named: ENC-001 judges the encryption fields themselves
        meta = as_object(self.fact("aws.kms_key", lambda: {
            k: v for k, v in self.api.call("kms", "describe_key", KeyId=str(key_id))["KeyMetadata"].items()
            if k in ("KeyId", "Arn", "KeyManager", "KeyState", "Enabled", "Origin", "KeySpec", "CreationDate")}))
        rotation_key = str(meta.get("KeyId")) if meta else str(key_id)
        self.fact("aws.kms_key_rotation", lambda: self.api.call("kms", "get_key_rotation_status", KeyId=rotation_key))

    def _alarms(self, namespace: str, names: Iterable[str]) -> None:
        wanted = set(names)
        dimensions = ALARM_DIMENSIONS[namespace]

        def matching() -> JsonObject:
            alarms = []
            for alarm in self.api.pages("cloudwatch", "describe_alarms", "MetricAlarms", AlarmTypes=["MetricAlarm"]):
                dims = {d.get("Name"): d.get("Value") for d in alarm.get("Dimensions", [])}
                if alarm.get("Namespace") == namespace and any(dims.get(d) in wanted for d in dimensions):
                    alarm.pop("StateReasonData", None)
                    alarms.append(alarm)
            return {"namespace": namespace, "dimensionValues": sorted(wanted), "alarms": alarms}

        self.fact("aws.alarms", matching)

    def _secrets(self) -> None:
        from redis_audit.aws.clients import AwsCallFailed, jsonable

        if not self.secret_arns:
            return
        entries: list[JsonValue] = []
        for arn in self.secret_arns:
            try:
                found = self.api.call("secretsmanager", "describe_secret", SecretId=arn)
            except AwsCallFailed as exc:
                entries.append({"SecretId": arn, "error": exc.error.to_json()})
                continue
            keep = ("ARN", "Name", "KmsKeyId", "RotationEnabled", "RotationLambdaARN", "RotationRules",
                    "LastRotatedDate", "LastChangedDate", "CreatedDate", "NextRotationDate", "DeletedDate",
                    "OwningService")
            entries.append(jsonable({"SecretId": arn, **{k: found[k] for k in keep if k in found}}))
        self.facts["aws.secrets"] = Fact(value=entries)


def _route_table_of(subnet: dict[str, Any], tables: list[dict[str, Any]]) -> dict[str, Any] | None:
    main = None
    for table in tables:
        if table.get("VpcId") != subnet.get("VpcId"):
            continue
        for assoc in table.get("Associations", []):
            if assoc.get("SubnetId") == subnet["SubnetId"]:
                return table
            if assoc.get("Main"):
                main = table
    return main


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
