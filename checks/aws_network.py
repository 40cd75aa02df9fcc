"""AWS control plane: the cluster sits in private subnets, and its port is not open to the internet."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from redis_audit.check import CheckContext
from redis_audit.jsonvalue import as_object
from redis_audit.model import Finding, Severity
from redis_audit.wording import plural

from ._aws import Managed, aws_check, items, managed

OPEN_CIDRS = ("0.0.0.0/0", "::/0")


@aws_check(
    id="NET-003",
    title="Nodes sit in private subnets, in a non-default subnet group",
    severity=Severity.HIGH,
    category="network",
    verifies="No subnet of the cluster routes to an internet gateway (igw-*), through its own route table "
    "or the VPC's main table; the subnet group is not named default.",
    risk="A node in a public subnet is one security-group mistake away from the internet.",
    remediation="Move the cluster to a subnet group of private subnets (routes through NAT, not an IGW).",
    references=("https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/SubnetGroups.html",),
    needs=("aws.network",),
)
def private_subnets(ctx: CheckContext) -> Iterator[Finding]:
    m = managed(ctx)
    network = as_object(ctx.snapshot.deployment_fact("aws.network"))
    subnets = [s for s in items(network.get("subnets")) if isinstance(s, dict)]
    public = sorted(str(s.get("SubnetId")) for s in subnets if items(s.get("InternetGatewayRoutes")))
    observed = {"subnetGroup": network.get("subnetGroup"),
                "subnets": [{"SubnetId": s.get("SubnetId"), "RouteTableId": s.get("RouteTableId"),
                             "InternetGatewayRoutes": s.get("InternetGatewayRoutes")} for s in subnets]}
    if public:
        yield ctx.failed(m.arn, f"subnets with a route to an internet gateway: {', '.join(public)}",
                         observed=observed, expected="no igw-* route")
    elif network.get("subnetGroup") == "default":
        yield ctx.warned(m.arn, "the cluster uses the default subnet group", observed=observed,
                         expected="a dedicated subnet group")
    elif not subnets:
        yield ctx.skipped(m.arn, "the control plane named no subnet")
    else:
        yield ctx.passed(m.arn, f"all {plural(len(subnets), 'subnet')} are private", observed=observed)


def data_ports(m: Managed) -> list[int]:
    if m.serverless:
        return sorted({int(as_object(m.raw.get(k)).get("Port") or p) for k, p in
                       (("Endpoint", 6379), ("ReaderEndpoint", 6380))})
    if m.memorydb:
        return [int(as_object(m.raw.get("ClusterEndpoint")).get("Port") or 6379)]
    endpoint = as_object(m.raw.get("ConfigurationEndpoint")) or as_object(
        as_object((items(m.raw.get("NodeGroups")) or [{}])[0]).get("PrimaryEndpoint"))
    return [int(endpoint.get("Port") or 6379)]


def _covers(rule: dict[str, Any], port: int) -> bool:
    if str(rule.get("IpProtocol")) == "-1":
        return True
    low, high = rule.get("FromPort"), rule.get("ToPort")
    return isinstance(low, int) and isinstance(high, int) and low <= port <= high


@aws_check(
    id="NET-004",
    title="Security groups do not open the data port to the internet",
    severity=Severity.CRITICAL,
    category="network",
    verifies="No ingress rule of the cluster's security groups allows 0.0.0.0/0 or ::/0 on the data port "
    "(or on all ports).",
    risk="An internet-open data port invites scans and brute force against AUTH; with a weak default user "
    "it is an open database.",
    remediation="Replace the open rule with the application's security group or subnet CIDRs.",
    references=("https://docs.aws.amazon.com/memorydb/latest/devguide/memorydb-security.html",),
    needs=("aws.security_groups",),
)
def no_open_ingress(ctx: CheckContext) -> Iterator[Finding]:
    m = managed(ctx)
    ports = data_ports(m)
    groups = [g for g in items(ctx.snapshot.deployment_fact("aws.security_groups")) if isinstance(g, dict)]
    open_rules = []
    for group in groups:
        for rule in items(group.get("IpPermissions")):
            if not isinstance(rule, dict) or not any(_covers(rule, p) for p in ports):
                continue
            cidrs = [r.get("CidrIp") for r in items(rule.get("IpRanges")) if isinstance(r, dict)]
            cidrs += [r.get("CidrIpv6") for r in items(rule.get("Ipv6Ranges")) if isinstance(r, dict)]
            for cidr in cidrs:
                if cidr in OPEN_CIDRS:
                    open_rules.append({"GroupId": group.get("GroupId"), "cidr": cidr,
                                       "FromPort": rule.get("FromPort"), "ToPort": rule.get("ToPort"),
                                       "IpProtocol": rule.get("IpProtocol")})
    observed: dict[str, Any] = {"ports": list(ports), "securityGroups": [g.get("GroupId") for g in groups],
                                "openRules": open_rules}
    if not groups:
        yield ctx.skipped(m.arn, "the control plane named no security group")
    elif open_rules:
        where = ", ".join(f"{r['GroupId']} {r['cidr']}" for r in open_rules)
        yield ctx.failed(m.arn, f"data port open to the internet: {where}", observed=observed,
                         expected={"openRules": []})
    else:
        yield ctx.passed(m.arn, "no 0.0.0.0/0 or ::/0 ingress on the data port", observed=observed)
