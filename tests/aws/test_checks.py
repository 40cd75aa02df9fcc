"""Every AWS evaluator: a passing and a failing control plane (facts as the collector stores them)."""

from __future__ import annotations

import pytest

from redis_audit.judge import judge
from redis_audit.profile import Profile, profile_from_mapping
from redis_audit.registry import all_checks, discover_packs

from .facts import DENIED, facts, snapshot_of, statuses

OPEN_SG = [{"GroupId": "sg-1", "IpPermissions": [
    {"IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6380, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}]
NO_ALARMS = {"dimensionValues": ["rl"], "alarms": []}

CASES = [
    ("TLS-001", {}, {"aws.replication_group.TransitEncryptionMode": "preferred"}),
    ("TLS-001", {}, {"aws.replication_group.TransitEncryptionEnabled": False}),
    ("AUTH-001", {}, {"aws.users": [{"UserId": "default", "UserName": "default", "Status": "active",
                                     "AccessString": "on ~* +@all", "Authentication": {"Type": "no-password"}}]}),
    ("AUTH-001", {}, {"aws.replication_group.UserGroupIds": []}),
    ("AUTH-002", {}, {"aws.replication_group.UserGroupIds": []}),
    ("ENC-001", {}, {"aws.replication_group.AtRestEncryptionEnabled": False}),
    ("ENC-001", {}, {"aws.kms_key_rotation": {"KeyRotationEnabled": False}}),
    ("HA-001", {}, {"aws.replication_group.NodeGroups": [{"NodeGroupId": "0001", "NodeGroupMembers": [
        {"CacheClusterId": "rl-001", "CurrentRole": "primary", "PreferredAvailabilityZone": "a"}]}]}),
    ("HA-003", {}, {"aws.replication_group.MultiAZ": "disabled"}),
    ("HA-004", {}, {"aws.replication_group.AutomaticFailover": "disabled"}),
    ("PERS-004", {}, {"aws.replication_group.SnapshotRetentionLimit": 1}),
    ("SEC-002", {}, {"aws.cache_clusters": [{"CacheClusterId": "rl-001", "EngineVersion": "5.0.6"}]}),
    ("SEC-003", {}, {"aws.replication_group.AutoMinorVersionUpgrade": False}),
    ("NET-003", {}, {"aws.network": {"subnetGroup": "x", "subnets": [
        {"SubnetId": "subnet-1", "InternetGatewayRoutes": [{"Destination": "0.0.0.0/0", "GatewayId": "igw-1"}]}]}}),
    ("NET-004", {}, {"aws.security_groups": OPEN_SG}),
    ("SECRET-001", {}, {"aws.secrets": [{"SecretId": "s", "Name": "s", "DeletedDate": "2026-01-20T00:00:00Z"}]}),
    ("SECRET-002", {}, {"aws.secrets": [{"SecretId": "s", "RotationEnabled": False}]}),
    ("SECRET-002", {}, {"aws.secrets": [{"SecretId": "s", "RotationEnabled": True,
                                         "LastRotatedDate": "2025-06-01T00:00:00Z"}]}),
    ("MON-002", {}, {"aws.alarms": NO_ALARMS}),
    ("MEM-002", {}, {"aws.parameters": {"group": "pg", "values": {"reserved-memory-percent": "0",
                                                                   "maxmemory-policy": "allkeys-lru"}}}),
    ("MEM-004", {}, {"aws.parameters": {"group": "default.redis7", "values": {"maxmemory-policy": "volatile-lru"}}}),
]


@pytest.mark.parametrize(("check_id", "good", "bad"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_control_plane_pass_and_fail(check_id, good, bad):
    assert set(statuses(snapshot_of(facts(**good)), check_id)) == {"PASS"}
    assert "FAIL" in statuses(snapshot_of(facts(**bad)), check_id)


def test_memorydb_open_access_acl_fails_and_a_real_acl_passes():
    cluster = {"Name": "m", "ARN": "arn:aws:memorydb:us-east-1:123456789012:cluster/m", "ACLName": "open-access",
               "TLSEnabled": True, "Shards": [], "AutoMinorVersionUpgrade": True}
    values = facts(**{"aws.resource": {"kind": "aws-memorydb", "id": "m"}, "aws.memorydb_cluster": cluster})
    assert statuses(snapshot_of(values), "AUTH-001") == ["FAIL"]
    assert statuses(snapshot_of(values), "AUTH-002") == ["FAIL"]
    cluster["ACLName"] = "limiter-acl"
    values["aws.memorydb_cluster"] = cluster
    assert statuses(snapshot_of(values), "AUTH-002") == ["PASS"]


def test_key_outside_the_approved_list_fails():
    profile = profile_from_mapping({"aws": {"approved_kms_key_ids": ["arn:aws:kms:us-east-1:1:key/other"]}})
    assert statuses(snapshot_of(facts()), "ENC-001", profile) == ["FAIL"]


def test_loose_alarm_threshold_fails():
    values = facts()
    values["aws.alarms"]["alarms"][0]["Threshold"] = "95"
    assert "FAIL" in statuses(snapshot_of(values), "MON-002")


def test_denied_describe_skips_with_the_iam_action():
    values = facts()
    del values["aws.replication_group"]
    snap = snapshot_of(values, {"aws.replication_group": DENIED})
    checks = [c for c in all_checks(discover_packs()) if c.id in ("ENC-001", "TLS-001")]
    findings = [r.finding for r in judge(snap, Profile(), checks) if r.finding.resource != "deployment"
                or "grant" in r.finding.message]
    assert findings and all(f.status == "SKIP" for f in findings)
    assert all("grant elasticache:DescribeReplicationGroups" in f.message for f in findings)


def test_self_hosted_snapshot_skips_the_aws_only_checks():
    snap = snapshot_of({})
    assert statuses(snap, "ENC-001") == [] or set(statuses(snap, "ENC-001")) == {"SKIP"}


def test_only_skips_that_need_no_action_are_marked_not_applicable():
    """Renderings fold `notApplicable` SKIPs away from what needs attention; a missing input stays in view."""
    snap = snapshot_of({})
    checks = [c for c in all_checks(discover_packs()) if c.id in ("ENC-001", "SECRET-001", "CLU-001")]
    skipped = {r.finding.check_id: r.finding for r in judge(snap, Profile(), checks)}
    assert skipped["ENC-001"].evidence.get("notApplicable") is True  # an AWS check, self-hosted deployment
    assert skipped["CLU-001"].evidence.get("notApplicable") is True  # a cluster check, another topology
    assert "notApplicable" not in skipped["SECRET-001"].evidence  # no secret named: the user can fix that
