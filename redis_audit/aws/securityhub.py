"""Import a report's ASFF findings into AWS Security Hub (`run --upload-asff`, `render --upload-asff`).

BatchImportFindings takes at most 100 findings per call and answers per finding (FailedFindings):
every failure is reported, and any failure is an upload failure (exit 6). Before importing, the
deployment's findings already in Security Hub are read (GetFindings): a finding first seen earlier
keeps its CreatedAt/FirstObservedAt, and an ACTIVE finding this run no longer produces (a node that
was replaced, a check that stopped applying) is sent back ARCHIVED, so nothing stale stays open.

BatchImportFindings accepts findings only for the calling account (default product ARN), so the account
the findings name must be the caller's (STS GetCallerIdentity).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis_audit.aws.clients import AwsApi, AwsCallFailed
from redis_audit.aws.upload import UploadFailed
from redis_audit.exitcodes import UsageError
from redis_audit.jsonvalue import JsonObject
from redis_audit.output.asff import AsffAccount, account_of, findings

BATCH_SIZE = 100  # BatchImportFindings: "Maximum of 100 findings per request"
DEPLOYMENT_FIELD = "redis-audit/Deployment"
# What an archived copy of a stored finding keeps; Security Hub fills in the rest itself.
KEEP = ("SchemaVersion", "Id", "ProductArn", "GeneratorId", "AwsAccountId", "Types", "CreatedAt", "FirstObservedAt",
        "Title", "Description", "Resources", "ProductFields", "Compliance", "Remediation")


@dataclass(frozen=True)
class FailedFinding:
    id: str
    code: str
    message: str


@dataclass(frozen=True)
class ImportResult:
    imported: int
    archived_gone: int  # findings of earlier runs that this run no longer produces
    failed: tuple[FailedFinding, ...]


def resolve_account(api: AwsApi, report: JsonObject, account_id: str | None, region: str | None) -> AsffAccount:
    """The account and region to import into: the options, else the deployment's ARN, else the caller."""
    from_arn = account_of(report)
    try:
        caller = str(api.call("sts", "get_caller_identity")["Account"])
    except AwsCallFailed as exc:
        raise UploadFailed(f"--upload-asff: cannot tell which account these credentials are: "
                           f"{exc.error.describe()}") from None
    account = account_id or (from_arn.account_id if from_arn else caller)
    if account != caller:
        raise UploadFailed(f"--upload-asff: the findings belong to account {account} but these credentials are "
                           f"account {caller}; Security Hub imports a custom integration's findings only from "
                           "their own account")
    where = region or (from_arn.region if from_arn else None) or api.region
    if not where:
        raise UsageError("--upload-asff: no region: pass --asff-region or --aws-region")
    return AsffAccount(account, where, from_arn.partition if from_arn else "aws")


def upload_findings(api: AwsApi, report: JsonObject, account: AsffAccount,
                    envelope_sha256: str | None = None) -> ImportResult:
    new = findings(report, account, envelope_sha256)
    deployment = str(new[0]["ProductFields"][DEPLOYMENT_FIELD])
    stored = {str(f["Id"]): f for f in _stored(api, account, deployment)}
    for finding in new:
        earlier = stored.get(str(finding["Id"]))
        if earlier:  # the issue was first seen then, not in this run
            finding["CreatedAt"] = earlier.get("CreatedAt", finding["CreatedAt"])
            finding["FirstObservedAt"] = earlier.get("FirstObservedAt", finding["FirstObservedAt"])
    ids = {f["Id"] for f in new}
    when = str(new[0]["UpdatedAt"])
    gone = [_archived(f, when) for i, f in sorted(stored.items()) if i not in ids and f.get("RecordState") == "ACTIVE"]
    failed: list[FailedFinding] = []
    batch: Sequence[dict[str, Any]]
    for start in range(0, len(new) + len(gone), BATCH_SIZE):
        batch = [*new, *gone][start:start + BATCH_SIZE]
        try:
            answer = api.call("securityhub", "batch_import_findings", Findings=batch)
        except AwsCallFailed as exc:
            raise UploadFailed(f"--upload-asff: BatchImportFindings failed after {start} of {len(new) + len(gone)} "
                               f"findings: {exc.error.describe()}") from None
        failed += [FailedFinding(str(f.get("Id")), str(f.get("ErrorCode")), str(f.get("ErrorMessage")))
                   for f in answer.get("FailedFindings") or []]
    return ImportResult(len(new) + len(gone) - len(failed), len(gone), tuple(failed))


def _stored(api: AwsApi, account: AsffAccount, deployment: str) -> list[dict[str, Any]]:
    filters = {"ProductArn": [{"Value": account.product_arn, "Comparison": "EQUALS"}],
               "ProductFields": [{"Key": DEPLOYMENT_FIELD, "Value": deployment, "Comparison": "EQUALS"}]}
    try:
        return list(api.pages("securityhub", "get_findings", "Findings", Filters=filters))
    except AwsCallFailed as exc:
        raise UploadFailed(f"--upload-asff: cannot read the deployment's findings in Security Hub: "
                           f"{exc.error.describe()}") from None


def _archived(stored: dict[str, Any], when: str) -> dict[str, Any]:
    """A stored finding sent back ARCHIVED: its resource or check is gone from this run."""
    finding = {k: copy.deepcopy(stored[k]) for k in KEEP if k in stored}
    finding["ProductFields"] = {k: v for k, v in (finding.get("ProductFields") or {}).items()
                                if not k.startswith("aws/")}  # Security Hub's own fields are not ours to send
    finding["Compliance"] = {**(finding.get("Compliance") or {}), "Status": "NOT_AVAILABLE"}
    finding["Severity"] = {"Label": "INFORMATIONAL", "Original": "INFORMATIONAL"}
    finding["FindingProviderFields"] = {"Severity": finding["Severity"], "Types": finding.get("Types") or []}
    finding["UpdatedAt"] = finding["LastObservedAt"] = when
    finding["RecordState"] = "ARCHIVED"
    return finding
