"""AWS control plane: transit and at-rest encryption, authentication, engine upgrades, secrets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from redis_audit.check import CheckContext
from redis_audit.facts.versions import UNKNOWN, parse_version
from redis_audit.jsonvalue import as_object
from redis_audit.model import Finding, Severity
from redis_audit.snapshot import FactError, FactErrorKind, FactUnavailable
from redis_audit.wording import plural

from ._aws import AWS_REFERENCE, Managed, aws_check, extend, has_secret_facts, items, managed
from ._facts import unless_required

EC_RBAC = "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.RBAC.html"


@extend("TLS-001")
@unless_required("require_tls")
def transit_encryption_required(ctx: CheckContext) -> Iterator[Finding]:
    """TransitEncryptionMode must be `required`: `preferred` still accepts plaintext clients."""
    m = managed(ctx)
    if m.serverless:
        yield ctx.passed(m.arn, "serverless caches accept TLS connections only", observed={"serverless": True})
        return
    if m.memorydb:
        enabled = m.raw.get("TLSEnabled")
        observed: dict[str, Any] = {"TLSEnabled": enabled}
        if enabled:
            yield ctx.passed(m.arn, "MemoryDB cluster has TLS enabled (TLS only)", observed=observed,
                             expected={"TLSEnabled": True})
        else:
            yield ctx.failed(m.arn, "MemoryDB cluster accepts plaintext clients (TLSEnabled false)",
                             observed=observed, expected={"TLSEnabled": True})
        return
    enabled, mode = m.raw.get("TransitEncryptionEnabled"), m.raw.get("TransitEncryptionMode")
    observed = {"TransitEncryptionEnabled": enabled, "TransitEncryptionMode": mode}
    expected: dict[str, Any] = {"TransitEncryptionEnabled": True, "TransitEncryptionMode": "required"}
    if not enabled:
        yield ctx.failed(m.arn, "transit encryption is off: clients and replication are plaintext",
                         observed=observed, expected=expected)
    elif mode == "preferred":
        yield ctx.failed(m.arn, "TransitEncryptionMode is preferred: plaintext clients are still accepted "
                         "(posture tools that read only TransitEncryptionEnabled pass this)",
                         observed=observed, expected=expected)
    elif mode in (None, "required"):
        note = "" if mode else " (no mode reported: engines before 7.0.5 have no preferred mode)"
        yield ctx.passed(m.arn, f"transit encryption is required{note}", observed=observed, expected=expected)
    else:
        yield ctx.failed(m.arn, f"unexpected TransitEncryptionMode {mode!r}", observed=observed, expected=expected)


def _access_flags(access: Any) -> set[str]:
    return {t for t in str(access or "").split() if t in ("on", "off", "nopass")}


def _user_rows(users: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for user in users:
        if not isinstance(user, dict):
            continue
        auth = as_object(user.get("Authentication"))
        rows.append({"id": user.get("UserId") or user.get("Name"), "name": user.get("UserName") or user.get("Name"),
                     "status": user.get("Status"), "authentication": auth.get("Type"),
                     "on": "off" not in _access_flags(user.get("AccessString"))})
    return rows


@extend("AUTH-001")
@unless_required("require_auth")
def default_user_replaced(ctx: CheckContext) -> Iterator[Finding]:
    """No enabled user without a password; the built-in default user is replaced or disabled."""
    m = managed(ctx)
    if m.memorydb and m.raw.get("ACLName") == "open-access":
        yield ctx.failed(m.arn, "the cluster uses the open-access ACL: the default user, no password",
                         observed={"ACLName": "open-access"}, expected="an ACL of users with passwords or IAM")
        return
    groups = m.raw.get("UserGroupIds") if m.kind == "aws-elasticache" else (
        [m.raw["UserGroupId"]] if m.raw.get("UserGroupId") else None)
    if not m.memorydb and not groups:
        observed: dict[str, Any] = {"userGroups": [], "AuthTokenEnabled": m.raw.get("AuthTokenEnabled")}
        if m.raw.get("AuthTokenEnabled"):
            yield ctx.warned(m.arn, "no RBAC user group: the built-in default user (full access) authenticates "
                             "with the shared AUTH token", observed=observed, expected="an RBAC user group")
        else:
            yield ctx.failed(m.arn, "no user group and no AUTH token: the default user needs no password",
                             observed=observed, expected="an RBAC user group whose default user is off or "
                             "password-protected")
        return
    rows = _user_rows(items(ctx.snapshot.deployment_fact("aws.users")))
    open_users = sorted(str(r["name"]) for r in rows if r["on"] and r["authentication"] == "no-password")
    builtin = any(r["id"] == "default" for r in rows) and not m.memorydb
    observed = {"users": rows}
    if open_users:
        yield ctx.failed(m.arn, f"enabled users without a password: {', '.join(open_users)}", observed=observed,
                         expected="no enabled user with authentication no-password")
    elif builtin:
        yield ctx.failed(m.arn, "the user group holds the built-in default user (full access, cannot be changed)",
                         observed=observed, expected="a replacement user named default, off or with a password")
    else:
        yield ctx.passed(m.arn, "every enabled user authenticates (password or IAM); default user replaced",
                         observed=observed)


@aws_check(
    id="AUTH-002",
    title="An authentication mechanism (RBAC user group, ACL or AUTH token) is attached",
    severity=Severity.CRITICAL,
    category="authentication",
    verifies="ElastiCache: an RBAC user group is attached (engine 6+), or an AUTH token (engine <6); "
    "Serverless: a user group; MemoryDB: an ACL other than open-access.",
    risk="Without an attached authentication mechanism anyone who reaches the endpoint reads and writes "
    "every key; posture tools evaluate only the pre-6.0 AUTH token.",
    remediation="Create an RBAC user group (default user replaced, app and auditor users with passwords or "
    "IAM) and attach it: modify-replication-group --user-group-ids-to-add (MemoryDB: update-cluster --acl-name).",
    references=(EC_RBAC, "https://docs.aws.amazon.com/config/latest/developerguide/elasticache-rbac-auth-enabled.html"),
    needs=("aws.replication_group", "aws.serverless_cache", "aws.memorydb_cluster"),
)
@unless_required("require_auth")
def auth_attached(ctx: CheckContext) -> Iterator[Finding]:
    m = managed(ctx)
    if m.memorydb:
        acl = m.raw.get("ACLName")
        if acl and acl != "open-access":
            yield ctx.passed(m.arn, f"ACL {acl} is attached", observed={"ACLName": acl})
        else:
            yield ctx.failed(m.arn, f"ACL is {acl}: no authentication", observed={"ACLName": acl},
                             expected="an ACL other than open-access")
        return
    groups = items(m.raw.get("UserGroupIds")) or ([m.raw["UserGroupId"]] if m.raw.get("UserGroupId") else [])
    token = bool(m.raw.get("AuthTokenEnabled"))
    observed: dict[str, Any] = {"userGroupIds": groups, "AuthTokenEnabled": token}
    engine = m.engine_version(ctx.snapshot) if not m.serverless else "7"
    legacy = (parse_version(engine, strict=False) or UNKNOWN) < (6, 0, 0)
    if groups:
        yield ctx.passed(m.arn, f"RBAC user group attached: {', '.join(map(str, groups))}", observed=observed)
    elif token and legacy:
        yield ctx.passed(m.arn, "AUTH token enabled (engine before 6.0 has no RBAC)", observed=observed)
    elif token:
        yield ctx.warned(m.arn, "only a shared AUTH token: no RBAC user group on an engine that supports it",
                         observed=observed, expected="an RBAC user group")
    else:
        yield ctx.failed(m.arn, "no user group and no AUTH token", observed=observed,
                         expected="an RBAC user group")


@aws_check(
    id="ENC-001",
    title="At-rest encryption with an approved, rotating KMS key",
    severity=Severity.HIGH,
    category="encryption",
    verifies="At-rest encryption is on, with a customer-managed KMS key that is enabled, in the profile's "
    "aws.approved_kms_key_ids (when set), and has automatic rotation on.",
    risk="Unencrypted snapshots and swap expose limiter data; an AWS-owned key cannot be audited, "
    "revoked or rotated on your schedule.",
    remediation="Create the cluster with AtRestEncryptionEnabled and KmsKeyId (at-rest encryption can only "
    "be chosen at creation: migrate through a snapshot), and enable rotation: aws kms enable-key-rotation.",
    references=("https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/at-rest-encryption.html",
                "https://docs.aws.amazon.com/config/latest/developerguide/elasticache-repl-grp-encrypted-at-rest.html"),
    needs=("aws.replication_group", "aws.kms_key", "aws.kms_key_rotation"),
)
def at_rest_encryption(ctx: CheckContext) -> Iterator[Finding]:
    m = managed(ctx)
    profile = ctx.profile.aws
    if m.kind == "aws-elasticache" and not m.raw.get("AtRestEncryptionEnabled"):
        yield ctx.failed(m.arn, "at-rest encryption is off", observed={"AtRestEncryptionEnabled": False},
                         expected={"AtRestEncryptionEnabled": True})
        return
    configured = m.kms_key_id()
    if configured is None:
        message = "encrypted at rest with the service's AWS-owned key (no customer-managed key)"
        observed: dict[str, Any] = {"encrypted": True, "KmsKeyId": None}
        if profile.require_customer_managed_key:
            yield ctx.warned(m.arn, message, observed=observed, expected="a customer-managed KMS key")
        else:
            yield ctx.passed(m.arn, message, observed=observed)
        return
    key = as_object(ctx.snapshot.deployment_fact("aws.kms_key"))
    rotation = as_object(ctx.snapshot.deployment_fact("aws.kms_key_rotation"))
    observed = {"KmsKeyId": configured, "keyArn": key.get("Arn"), "KeyManager": key.get("KeyManager"),
                "KeyState": key.get("KeyState"), "KeyRotationEnabled": rotation.get("KeyRotationEnabled")}
    names = {configured, str(key.get("KeyId")), str(key.get("Arn"))}
    approved = profile.approved_kms_key_ids
    if key.get("KeyState") not in (None, "Enabled"):
        yield ctx.failed(m.arn, f"the at-rest key is {key.get('KeyState')}", observed=observed,
                         expected={"KeyState": "Enabled"})
    elif approved and not names & set(approved):
        yield ctx.failed(m.arn, f"key {key.get('KeyId')} is not in aws.approved_kms_key_ids", observed=observed,
                         expected={"approvedKeys": list(approved)})
    elif key.get("KeyManager") == "AWS" and profile.require_customer_managed_key:
        yield ctx.warned(m.arn, f"key {key.get('KeyId')} is AWS-managed, not customer-managed",
                         observed=observed, expected={"KeyManager": "CUSTOMER"})
    elif not rotation.get("KeyRotationEnabled"):
        yield ctx.failed(m.arn, f"automatic rotation is off for key {key.get('KeyId')}", observed=observed,
                         expected={"KeyRotationEnabled": True})
    else:
        yield ctx.passed(m.arn, f"encrypted at rest with key {key.get('KeyId')}, rotation on", observed=observed)


@extend("SEC-002")  # the wire check lives in checks/ha.py or hardening.py; this is its control-plane half
def engine_version(ctx: CheckContext) -> Iterator[Finding]:
    m = managed(ctx)
    version = m.engine_version(ctx.snapshot)
    baseline = ctx.profile.aws.min_engine_version
    observed = {"Engine": m.engine(), "EngineVersion": version}
    found = parse_version(version, strict=False)
    if found is None:
        yield ctx.skipped(m.arn, "the control plane reports no engine version")
    elif m.engine() == "redis" and found < (6, 0, 0):
        yield ctx.failed(m.arn, f"engine {version} predates 6.0 (no ACLs)", observed=observed, expected=">= 6.0")
    elif found < (parse_version(baseline, strict=False) or UNKNOWN):
        yield ctx.warned(m.arn, f"engine {version} is below the baseline {baseline}", observed=observed,
                         expected=f">= {baseline}")
    else:
        yield ctx.passed(m.arn, f"engine {m.engine()} {version}", observed=observed, expected=f">= {baseline}")


@aws_check(
    id="SEC-003",
    title="Automatic minor version upgrades are on",
    severity=Severity.MEDIUM,
    category="hardening",
    verifies="AutoMinorVersionUpgrade is true (serverless caches are always upgraded by the service).",
    risk="Without automatic minor upgrades, security patches wait for someone to remember them.",
    remediation="modify-replication-group --auto-minor-version-upgrade (MemoryDB: update-cluster "
    "--auto-minor-version-upgrade).",
    references=("https://docs.aws.amazon.com/securityhub/latest/userguide/elasticache-controls.html",),
    needs=("aws.replication_group",),
)
def auto_minor_upgrade(ctx: CheckContext) -> Iterator[Finding]:
    m = managed(ctx)
    if m.serverless:
        yield ctx.passed(m.arn, "serverless caches receive minor versions automatically", observed=True)
        return
    value = m.raw.get("AutoMinorVersionUpgrade")
    if value:
        yield ctx.passed(m.arn, "automatic minor upgrades are on", observed={"AutoMinorVersionUpgrade": value})
    else:
        yield ctx.failed(m.arn, "automatic minor upgrades are off", observed={"AutoMinorVersionUpgrade": value},
                         expected={"AutoMinorVersionUpgrade": True})


def _secrets(ctx: CheckContext) -> list[dict[str, Any]]:
    if "aws.secrets" not in ctx.snapshot.deployment_facts:
        raise FactUnavailable("aws.secrets", FactError(
            FactErrorKind.NOT_COLLECTED, "aws.secrets",
            "no secret named: pass --password-secret ARN or --aws-app-secret ARN"))
    return [e for e in items(ctx.snapshot.deployment_fact("aws.secrets")) if isinstance(e, dict)]


def _secret_unavailable(entry: dict[str, Any]) -> str | None:
    error = entry.get("error")
    return FactError.from_json(error).describe() if isinstance(error, dict) else None


@aws_check(
    applies=has_secret_facts,
    skip_reason="no secret named: pass --password-secret ARN or --aws-app-secret ARN",
    not_applicable=False,
    id="SECRET-001",
    title="The credential lives in Secrets Manager, encrypted with a customer-managed key",
    severity=Severity.HIGH,
    category="secrets",
    verifies="Each named secret exists, is not scheduled for deletion, and is encrypted with a KMS key "
    "(customer-managed when aws.require_customer_managed_key).",
    risk="A credential outside a secret store ends up in manifests, environment dumps and shell history; "
    "a deleted secret breaks every client on its next restart.",
    remediation="Store the Redis password in Secrets Manager with a customer-managed KmsKeyId and reference "
    "it from the deployment (External Secrets, CSI driver), never as a literal.",
    references=("https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/User-Secrets-Manager.html",),
    needs=("aws.secrets",),
)
def secret_stored(ctx: CheckContext) -> Iterator[Finding]:
    for entry in _secrets(ctx):
        where = str(entry.get("ARN") or entry.get("SecretId"))
        reason = _secret_unavailable(entry)
        if reason:
            yield ctx.skipped(where, f"cannot verify: {reason}")
            continue
        observed = {"Name": entry.get("Name"), "KmsKeyId": entry.get("KmsKeyId"),
                    "DeletedDate": entry.get("DeletedDate")}
        if entry.get("DeletedDate"):
            yield ctx.failed(where, f"secret is scheduled for deletion on {entry['DeletedDate']}", observed=observed,
                             expected="no DeletedDate")
        elif not entry.get("KmsKeyId") and ctx.profile.aws.require_customer_managed_key:
            yield ctx.warned(where, "secret is encrypted with the default aws/secretsmanager key",
                             observed=observed, expected="a customer-managed KmsKeyId")
        else:
            yield ctx.passed(where, "secret exists and is KMS-encrypted", observed=observed)


@aws_check(
    applies=has_secret_facts,
    skip_reason="no secret named: pass --password-secret ARN or --aws-app-secret ARN",
    not_applicable=False,
    id="SECRET-002",
    title="Secret rotation is on and recent",
    severity=Severity.MEDIUM,
    category="secrets",
    verifies="RotationEnabled, and the last rotation (or creation, if never rotated) is within the "
    "profile's aws.secret_max_age_days of the audit.",
    risk="A password that never rotates outlives the people and hosts that knew it.",
    remediation="Enable rotation (rotate-secret --rotation-rules AutomaticallyAfterDays=N) with a rotation "
    "function that keeps the old password valid until every client has reconnected.",
    references=("https://docs.aws.amazon.com/securityhub/latest/userguide/secretsmanager-controls.html",),
    needs=("aws.secrets",),
)
def secret_rotated(ctx: CheckContext) -> Iterator[Finding]:
    limit = ctx.profile.aws.secret_max_age_days
    now = _time(ctx.snapshot.started_at)
    for entry in _secrets(ctx):
        where = str(entry.get("ARN") or entry.get("SecretId"))
        reason = _secret_unavailable(entry)
        if reason:
            yield ctx.skipped(where, f"cannot verify: {reason}")
            continue
        last = entry.get("LastRotatedDate") or entry.get("CreatedDate")
        then = _time(str(last)) if last else None
        age = (now - then).days if now and then else None
        every = as_object(entry.get("RotationRules")).get("AutomaticallyAfterDays")
        observed = {"RotationEnabled": entry.get("RotationEnabled"), "LastRotatedDate": entry.get("LastRotatedDate"),
                    "AutomaticallyAfterDays": every, "ageDays": age}
        expected: dict[str, Any] = {"RotationEnabled": True, "ageDays": f"<= {limit}"}
        if not entry.get("RotationEnabled"):
            yield ctx.failed(where, "rotation is off", observed=observed, expected=expected)
        elif age is not None and age > limit:
            yield ctx.failed(where, f"last rotated {plural(age, 'day')} ago (limit {limit})", observed=observed,
                             expected=expected)
        elif isinstance(every, int) and every > limit:
            yield ctx.warned(where, f"rotates every {plural(every, 'day')}, more than {limit}", observed=observed,
                             expected=expected)
        else:
            yield ctx.passed(where, f"rotation on; last rotated {plural(age or 0, 'day')} ago", observed=observed,
                             expected=expected)


def _time(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


__all__ = ["AWS_REFERENCE", "Managed"]
