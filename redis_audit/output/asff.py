"""AWS Security Finding Format (ASFF) for Security Hub's BatchImportFindings: a JSON list of findings.

Identity: `Id` is derived from the deployment, the check and the resource (the report's stable
`findingId`), never from the run, so a scheduled re-run UPDATES each finding instead of adding a
duplicate; `UpdatedAt` is the run's end, later on every run. A check that passes now (or no longer
applies) is sent with the same Id, `Compliance.Status` PASSED and `RecordState` ARCHIVED: the
previously failing finding is resolved in place. A finding whose resource disappeared altogether is
archived by the upload (aws/securityhub.py), which compares with what Security Hub holds.

One more finding carries the verdict (and one each sign-off blocker), so an insight or an automation
rule sees READY / NOT_READY / INCONCLUSIVE per deployment.

Resources: the ElastiCache/MemoryDB ARN where the report names one (the control-plane checks judge
it); a node finding of such a deployment points at that ARN with the node in `Details.Other`; a
self-hosted deployment is an `Other` resource. Findings that correspond to a Security Hub control
(ElastiCache.1-.7) say so in `Compliance.SecurityControlId` and `RelatedRequirements`.

Every documented length limit is respected (texts are cut with "…"); tests/aws/test_asff.py checks
them against the limits stated in the shipped botocore service model.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from redis_audit.exitcodes import UsageError
from redis_audit.jsonvalue import JsonObject, as_objects
from redis_audit.output import RenderOptions
from redis_audit.output.sanitize import json_escape_hidden
from redis_audit.output.view import View, effective, not_applicable

SCHEMA_VERSION = "2018-10-08"
# Security Hub's ElastiCache controls and the checks that judge the same setting.
SECURITY_HUB_CONTROLS = {"PERS-004": "ElastiCache.1", "SEC-003": "ElastiCache.2", "HA-004": "ElastiCache.3",
                         "ENC-001": "ElastiCache.4", "TLS-001": "ElastiCache.5", "AUTH-002": "ElastiCache.6",
                         "NET-003": "ElastiCache.7"}
COMPLIANCE = {"PASS": "PASSED", "INFO": "PASSED", "FAIL": "FAILED", "WARN": "WARNING", "ERROR": "NOT_AVAILABLE",
              "SKIP": "NOT_AVAILABLE"}
SEVERITY = {"critical": "CRITICAL", "high": "HIGH", "medium": "MEDIUM", "low": "LOW", "info": "INFORMATIONAL"}
VERDICT_COMPLIANCE = {"READY": "PASSED", "NOT_READY": "FAILED", "INCONCLUSIVE": "NOT_AVAILABLE"}
TYPE = "Software and Configuration Checks/Industry and Regulatory Standards/Redis production readiness"
AWS_TYPE = "Software and Configuration Checks/AWS Security Best Practices/"
ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):([a-z0-9-]+):([a-z0-9-]+):(\d{12}):(.+)$")
DEPLOYMENT_SERVICES = ("elasticache", "memorydb")
# Limits from the AwsSecurityFinding model (characters; ProductFields up to 50 pairs).
LIMITS = {"Id": 512, "GeneratorId": 512, "Title": 256, "Description": 1024, "Recommendation": 512,
          "Note": 512, "ProductFieldKey": 128, "ProductFieldValue": 2048, "OtherValue": 1024, "ResourceType": 256}


@dataclass(frozen=True)
class AsffAccount:
    """Where the findings go: the account they belong to and the Security Hub region importing them."""

    account_id: str
    region: str
    partition: str = "aws"

    @property
    def product_arn(self) -> str:
        """The default product ARN of a custom integration in this account."""
        return f"arn:{self.partition}:securityhub:{self.region}:{self.account_id}:product/{self.account_id}/default"


@dataclass(frozen=True)
class DeploymentArn:
    arn: str
    partition: str
    service: str  # elasticache | memorydb
    region: str
    account_id: str

    @property
    def resource_type(self) -> str:
        return resource_type(self.arn)

    @property
    def elasticache(self) -> bool:
        return self.service == "elasticache"


def resource_type(arn: str) -> str:
    """Security Hub's own controls report replication groups and secrets with these types; the other kinds
    have no ASFF resource type, and the documented value for those is Other."""
    if ":elasticache:" in arn and ":replicationgroup:" in arn:
        return "AwsElastiCacheReplicationGroup"
    return "AwsSecretsManagerSecret" if ":secretsmanager:" in arn else "Other"


def deployment_arn(report: JsonObject) -> DeploymentArn | None:
    """The deployment's ElastiCache/MemoryDB ARN, as its control-plane findings name it (the shortest:
    a shard finding is the ARN plus /shard)."""
    arns = sorted({str(f.get("resource")) for f in as_objects(report.get("findings"))
                   if (m := ARN.match(str(f.get("resource")))) and m.group(2) in DEPLOYMENT_SERVICES}, key=len)
    match = ARN.match(arns[0]) if arns else None
    return DeploymentArn(arns[0], match.group(1), match.group(2), match.group(3), match.group(4)) if match else None


def account_of(report: JsonObject) -> AsffAccount | None:
    found = deployment_arn(report)
    return AsffAccount(found.account_id, found.region, found.partition) if found else None


def cut(text: object, limit: int) -> str:
    value = str(text)
    return value if len(value) <= limit else value[:limit - 1] + "…"


def render(report: JsonObject, options: RenderOptions) -> str:
    account = options.asff or account_of(report)
    if account is None:
        raise UsageError("--format asff: the report names no AWS ARN; give the account and region with "
                         "--asff-account-id ID --asff-region REGION")
    envelope = options.signed.envelope_sha256 if options.signed else None
    return json_escape_hidden(json.dumps(findings(report, account, envelope), indent=2, ensure_ascii=False)) + "\n"


class _Builder:
    def __init__(self, report: JsonObject, account: AsffAccount, envelope_sha256: str | None) -> None:
        self.view = View(report)
        self.account = account
        self.arn = deployment_arn(report)
        self.when = str(self.view.run.get("finishedAt"))
        self.deployment = self.view.target
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", self.deployment)[:200]
        if slug != self.deployment:  # two names with one slug still get distinct ids
            slug += "-" + hashlib.sha256(self.deployment.encode()).hexdigest()[:8]
        self.prefix = f"redis-audit/{slug}"
        self.common = {"redis-audit/Deployment": self.deployment, "redis-audit/RunId": str(self.view.run.get("id")),
                       "redis-audit/Verdict": self.view.decision, "redis-audit/ValidUntil": self.view.valid_until,
                       "redis-audit/Mode": self.view.mode, "redis-audit/Tool": self.view.tool}
        if envelope_sha256:
            self.common["redis-audit/EnvelopeSha256"] = envelope_sha256

    def base(self, finding_id: str, generator: str, title: str, description: str, severity: str,
             compliance: dict[str, Any], record_state: str, workflow: str, resource: dict[str, Any],
             fields: dict[str, str]) -> dict[str, Any]:
        types = [TYPE]
        control = compliance.get("SecurityControlId")
        if control:
            types.insert(0, AWS_TYPE + str(control))
        product_fields = {cut(k, LIMITS["ProductFieldKey"]): cut(v, LIMITS["ProductFieldValue"])
                          for k, v in {**self.common, **fields}.items()}
        return {
            "SchemaVersion": SCHEMA_VERSION,
            "Id": cut(finding_id, LIMITS["Id"]),
            "ProductArn": self.account.product_arn,
            "ProductName": "redis-audit",
            "CompanyName": "redis-audit",
            "GeneratorId": cut(generator, LIMITS["GeneratorId"]),
            "AwsAccountId": self.account.account_id,
            "Types": types,
            "FirstObservedAt": self.when,
            "LastObservedAt": self.when,
            "CreatedAt": self.when,
            "UpdatedAt": self.when,
            "Severity": {"Label": severity, "Original": severity},
            "FindingProviderFields": {"Severity": {"Label": severity, "Original": severity}, "Types": types},
            "Title": cut(title, LIMITS["Title"]),
            "Description": cut(description, LIMITS["Description"]),
            "ProductFields": product_fields,
            "Resources": [resource],
            "Compliance": compliance,
            "Workflow": {"Status": workflow},
            "RecordState": record_state,
        }

    def resource(self, where: str) -> dict[str, Any]:
        """The finding's resource: its own ARN, the deployment's ARN with the node, or an Other resource."""
        own = ARN.match(where)
        if own:
            return {"Type": resource_type(where), "Id": where, "Partition": own.group(1), "Region": own.group(3)}
        other = {"redis-audit/deployment": cut(self.deployment, LIMITS["OtherValue"]),
                 "redis-audit/resource": cut(where, LIMITS["OtherValue"])}
        if self.arn is not None:
            return {"Type": self.arn.resource_type, "Id": self.arn.arn, "Partition": self.arn.partition,
                    "Region": self.arn.region, "Details": {"Other": other}}
        return {"Type": "Other", "Id": cut(f"redis-audit:{self.deployment}/{where}", 2048),
                "Partition": self.account.partition, "Region": self.account.region, "Details": {"Other": other}}

    def control(self, check_id: str) -> dict[str, Any]:
        control = SECURITY_HUB_CONTROLS.get(check_id)
        if control is None or self.arn is None or not self.arn.elasticache:
            return {}
        return {"SecurityControlId": control, "RelatedRequirements": [f"AWS Security Hub {control}"]}

    def finding(self, f: dict[str, Any]) -> dict[str, Any]:
        status, raw = effective(f), str(f.get("status"))
        quiet = status in ("PASS", "INFO") or not_applicable(f)  # resolved or needs no action
        compliance = {"Status": COMPLIANCE.get(raw, "NOT_AVAILABLE"), **self.control(str(f.get("checkId")))}
        severity = "INFORMATIONAL" if quiet else SEVERITY.get(str(f.get("severity")), "MEDIUM")
        workflow = "SUPPRESSED" if status == "WAIVED" else "RESOLVED" if quiet else "NEW"
        fields = {"redis-audit/CheckId": str(f.get("checkId")), "redis-audit/Resource": str(f.get("resource")),
                  "redis-audit/Status": raw, "redis-audit/EffectiveStatus": status,
                  "redis-audit/FindingId": str(f.get("findingId")),
                  "redis-audit/Blocker": "true" if self.view.is_blocker(f) else "false",
                  "redis-audit/Evidence": json.dumps(f.get("evidence"), sort_keys=True, ensure_ascii=False)}
        if f.get("waiver"):
            fields["redis-audit/Waiver"] = str(f.get("waiver"))
        built = self.base(
            f"{self.prefix}/{f.get('checkId')}/{f.get('findingId')}", f"redis-audit/{f.get('checkId')}",
            f"{f.get('checkId')} {f.get('title')}", f"{status}: {f.get('message')} (resource {f.get('resource')})",
            severity, compliance, "ARCHIVED" if quiet else "ACTIVE", workflow, self.resource(str(f.get("resource"))),
            fields)
        if f.get("remediation"):
            built["Remediation"] = {"Recommendation": {"Text": cut(f.get("remediation"), LIMITS["Recommendation"])}}
        if status == "WAIVED":
            w = self.view.waiver(f.get("waiver"))
            built["Note"] = {"Text": cut(f"Waived by {w.get('id')}: {w.get('reason')} (approved by "
                                         f"{w.get('approver')}, {w.get('ticket')}, expires {w.get('expires')})",
                                         LIMITS["Note"]), "UpdatedBy": "redis-audit", "UpdatedAt": self.when}
        return built

    def verdict(self) -> dict[str, Any]:
        decision = self.view.decision
        blockers = sorted({f"{b.get('checkId')} {b.get('resource')}" for b in self.view.blockers})
        description = f"{decision} until {self.view.valid_until}."
        if blockers:
            description += f" Blockers: {', '.join(blockers)}."
        if self.view.reasons:
            description += f" Incomplete: {'; '.join(self.view.reasons)}."
        ready = decision == "READY"
        return self.base(f"{self.prefix}/verdict", "redis-audit/verdict",
                         f"Redis readiness of {self.deployment}: {decision}", description,
                         "INFORMATIONAL" if ready else "CRITICAL" if decision == "NOT_READY" else "HIGH",
                         {"Status": VERDICT_COMPLIANCE.get(decision, "NOT_AVAILABLE")}, "ACTIVE",
                         "RESOLVED" if ready else "NEW", self.resource("deployment"),
                         {"redis-audit/Blockers": str(len(self.view.blockers))})

    def signoff(self, blocker: dict[str, Any]) -> dict[str, Any]:
        state = str(blocker.get("state"))
        gate = self.view.signoff_gate
        status = {"met": "PASSED", "not met": "FAILED"}.get(state, "FAILED" if gate else "WARNING")
        requirements = "; ".join(f"{r.get('name')}: {r.get('state')}" for r in as_objects(blocker.get("requirements")))
        return self.base(f"{self.prefix}/signoff/{blocker.get('id')}", f"redis-audit/signoff/{blocker.get('id')}",
                         f"Sign-off blocker {blocker.get('title')}: {state}", requirements or state,
                         "INFORMATIONAL" if state == "met" else "HIGH", {"Status": status}, "ACTIVE",
                         "RESOLVED" if state == "met" else "NEW", self.resource("deployment"),
                         {"redis-audit/SignoffState": state, "redis-audit/SignoffGate": str(gate).lower()})


def findings(report: JsonObject, account: AsffAccount, envelope_sha256: str | None = None) -> list[dict[str, Any]]:
    """The report as ASFF findings: the verdict, the sign-off blockers, then one per finding."""
    builder = _Builder(report, account, envelope_sha256)
    return [builder.verdict(), *(builder.signoff(b) for b in builder.view.signoff),
            *(builder.finding(f) for f in builder.view.findings())]
