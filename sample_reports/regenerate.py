#!/usr/bin/env python3
"""Regenerate every sample report from real sandbox audits: `.venv/bin/python sample_reports/regenerate.py`.

Three signed reports (READY: good preset, Sentinel + TLS; NOT_READY: bad preset; one with a waiver),
each rendered in every format from the verified envelope. The signing key is a throwaway generated in a
temporary directory: only its PUBLIC key is kept here (signing-key.pub.pem). Nothing secret is written:
the sandbox passwords go to files in the temporary directory and never into a report.

The committed samples expire (validUntil); verify them as of their run:
    redis-audit verify sample_reports/ready/report.dsse.json --key sample_reports/signing-key.pub.pem \\
        --at "$(jq -r .predicate.run.finishedAt <(redis-audit render ... --format json))"
or simply with --at set to any time before their validUntil (see tests/test_sample_reports.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from redis_audit.cli.main import main
from redis_audit.sandbox import Sandbox, SandboxSpec, sandbox_cli_args
from redis_audit.signing.keys import generate_keypair

HERE = Path(__file__).resolve().parent
REL = Path(HERE.name)  # paths as written into the renderings: relative to the repository root
FORMATS = {"table": "txt", "markdown": "md", "html": "html", "junit": "xml", "sarif": "sarif", "json": "json",
           "prometheus": "prom", "policyreport": "policyreport.json", "asff": "asff.json"}
# The sandboxes are self-hosted (no ARN): the ASFF sample names AWS's documentation example account.
ASFF_ACCOUNT = ("--asff-account-id", "111111111111", "--asff-region", "us-east-1")
SAMPLES = [
    ("ready", SandboxSpec(topology="sentinel", tls=True, preset="good"), "payments-cache-staging", False),
    ("not-ready", SandboxSpec(topology="sentinel", tls=False, preset="bad"), "payments-cache-default", False),
    ("waived", SandboxSpec(topology="sentinel", tls=True, preset="good"), "payments-cache-staging", True),
]


def audit_args(sb: Sandbox, tmp: Path, name: str) -> list[str]:
    return [*sandbox_cli_args(sb, tmp), "--name", name]


def cli(*args: object) -> int:
    return main([str(a) for a in args])


def first_warning(envelope: Path, public_key: Path) -> tuple[str, str]:
    """A WARN or FAIL finding of the report, to waive: (check id, node)."""
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    cli("render", envelope, "--key", public_key, "--format", "json", "--output", out)
    findings = json.loads(out.read_text())["predicate"]["findings"]
    out.unlink()
    found = next(f for f in findings if f["status"] in ("FAIL", "WARN"))
    return found["checkId"], found["resource"]


def seed_limiter_keys(sb: Sandbox, count: int = 3000) -> None:
    """Fixed-window counters as a limiter writes them (a TTL set once, spread over the 60 s window), so the
    samples show RL-001's TTL histogram and RL-002's memory projection against the profile's [[limiters]]."""
    primary = sb.info.nodes_with_role("primary")[0]
    client = sb.admin_client(primary)
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        pipe.set(f"rl:api:user{i}", i % 7 + 1, ex=1 + (i * 37) % 60)
    pipe.execute()
    client.close()


def main_() -> int:
    os.chdir(HERE.parent)
    with tempfile.TemporaryDirectory(prefix="redis-audit-samples-") as temp:
        tmp = Path(temp)
        pair = generate_keypair(tmp / "key")
        public = REL / "signing-key.pub.pem"
        shutil.copyfile(pair.public_key, public)
        for name, spec, deployment, waive in SAMPLES:
            out_dir = REL / name
            shutil.rmtree(out_dir, ignore_errors=True)
            out_dir.mkdir()
            envelope = out_dir / "report.dsse.json"
            sb = Sandbox.up(spec, tmp / f"sandbox-{name}")
            try:
                seed_limiter_keys(sb)
                args = ["run", *audit_args(sb, tmp, deployment), "--run-mode", "pre-promotion",
                        "--profile", REL / "sandbox-profile.toml",
                        "--sign-with", pair.private_key, "--output", envelope, "--format", "markdown"]
                if waive:
                    cli(*args)
                    check, node = first_warning(envelope, pair.public_key)
                    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=60)).strftime("%Y-%m-%d")
                    (out_dir / "waivers.toml").write_text(
                        f'[[waiver]]\nid = "WVR-SAMPLE-1"\ncheck = "{check}"\ntarget = "{deployment}"\n'
                        f'node = "{node}"\nreason = "accepted in staging while the certificate rollout finishes"\n'
                        f'approver = "platform-lead"\nticket = "CHG-0001"\nexpires = {expires}\n')
                    args += ["--waivers", out_dir / "waivers.toml"]
                code = cli(*args)
            finally:
                sb.down()
            print(f"{name}: run exit {code}", file=sys.stderr)
            for fmt, ext in FORMATS.items():
                cli("render", envelope, "--key", public, "--format", fmt, "--output", out_dir / f"report.{ext}",
                    "--sarif-location", REL / "sandbox-profile.toml",  # SARIF results point at the profile
                    *(ASFF_ACCOUNT if fmt == "asff" else ()))
    return 0


if __name__ == "__main__":
    sys.exit(main_())
