"""Five signed, verified reports, one per way a consumer must read a verdict: READY, NOT_READY, waived
(READY because of a waiver), sign-off (NOT_READY under the gating `signoff` profile) and INCONCLUSIVE.

Built offline with the real report, verdict, signing and verification code. Each carries server-supplied
strings that would break a careless rendering, a not-applicable SKIP and an AWS control-plane finding.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from redis_audit.cli.signed import PinnedKey, Verified, verify_file
from redis_audit.judge import CheckResult
from redis_audit.model import Finding, Status
from redis_audit.profile import load_profile
from redis_audit.signing.keys import generate_keypair, load_public_key
from redis_audit.signing.sign import sign_report
from redis_audit.signing.signers import LocalSigner
from redis_audit.waivers import load_waivers
from tests.reportkit import ALL_PASS, DEPLOYMENT, FINISHED, make_report, result
from tests.test_waivers import waiver, waiver_file

HOSTILE = ('<script>alert(1)</script> "quoted" \\back\\slash\nnew line} {label="x"} # EOF & <![CDATA[ ]]> '
           + "é" * 10)
ARN = "arn:aws:elasticache:eu-west-1:123456789012:replicationgroup:payments"
VERDICTS = ("ready", "not-ready", "waived", "signoff", "inconclusive")


def not_applicable(check_id: str) -> CheckResult:
    base = result(check_id, "SKIP", "high", "deployment")
    return CheckResult(Finding(check_id, Status.SKIP, "deployment", "applies to cluster deployments; this one is "
                               "sentinel", {"observed": None, "notApplicable": True}), base.meta, base.source)


def _results(kind: str) -> list[tuple[str, str, str, str, str] | tuple[str, str]]:
    common: list[tuple[str, str, str, str, str] | tuple[str, str]] = [
        *ALL_PASS, ("HA-004", "PASS", "high", ARN, "automatic failover is enabled"),
        ("SEC-003", "WARN", "medium", ARN, HOSTILE), ("LAT-003", "WARN", "low", "10.0.0.2:6379", "monitor off")]
    if kind == "not-ready":
        return [*common, ("MEM-004", "FAIL", "high", "10.0.0.2:6379", HOSTILE),
                ("PERS-004", "FAIL", "medium", ARN, "automated backups are off")]
    if kind == "waived":
        return [*common, ("MEM-004", "FAIL", "high", "10.0.0.2:6379", "volatile-lru")]
    if kind == "inconclusive":
        return [*common, ("HA-001", "ERROR", "critical", "10.0.0.3:6379", f"connection refused {HOSTILE}")]
    return common


def build(base: Path) -> dict[str, Verified]:
    pair = generate_keypair(base / "keys")
    key = PinnedKey(pair.public_key, load_public_key(pair.public_key))
    out: dict[str, Verified] = {}
    for kind in VERDICTS:
        waivers = load_waivers(waiver_file(base, waiver()), FINISHED, 90) if kind == "waived" else None
        profile = load_profile(Path("signoff")) if kind == "signoff" else None
        report = make_report(_results(kind), profile=profile, waiver_file=waivers, mode="pre-promotion",
                             extra=[not_applicable("CLU-001")])
        data = report.to_json()
        path = base / f"{kind}.dsse.json"
        path.write_bytes(sign_report(data, f"redis://{DEPLOYMENT}", [LocalSigner.from_file(pair.private_key)])
                         .to_bytes())
        out[kind] = verify_file(path, [key], at=FINISHED + dt.timedelta(hours=1))
    return out


EXPECTED = {"ready": "READY", "not-ready": "NOT_READY", "waived": "READY", "signoff": "NOT_READY",
            "inconclusive": "INCONCLUSIVE"}
