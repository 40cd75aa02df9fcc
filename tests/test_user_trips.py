"""Smaller things a user trips on: the census's ± on every estimate, an unreachable target's short table,
HA-007 saying what it assumes, ACL-004 consistent with ACL-001/002, and counts that read right."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

from redis_audit.cli.census import render_table
from redis_audit.model import Status
from redis_audit.wording import plural
from tests.judging import run_check, snapshot

ROOT = Path(__file__).resolve().parents[1]


def test_sampled_census_table_shows_the_interval_of_every_estimate():
    group = {"pattern": "rl:*", "keys": 1000, "types": {"string": 1000}, "correctedBytes": 64_000,
             "correctedBytesPerKey": 64, "bytesPerKey": 60, "noTtl": 40, "ttlHistogram": {},
             "ci95": {"keys": 12, "correctedBytes": 900, "noTtl": 7}}
    result = {"mode": "sampled", "groups": [group], "totals": {}, "commands": 10, "durationMs": 5}
    row = next(line for line in render_table(result).splitlines() if line.startswith("rl:*"))
    assert "1,000 ±12" in row and "64,000 ±900" in row and "40 ±7" in row
    exact = render_table({**result, "mode": "exact"})
    assert "±" not in exact


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_target_prints_the_reason_first_and_folds_what_was_not_judged():
    result = subprocess.run([sys.executable, "-m", "redis_audit", "run", f"redis://127.0.0.1:{_closed_port()}",
                             "--deadline", "5"], capture_output=True, text=True, check=False)
    assert result.returncode == 3
    lines = result.stdout.splitlines()
    verdict = next(i for i, line in enumerate(lines) if line.startswith("Verdict: INCONCLUSIVE"))
    assert lines[verdict + 2] == "Incomplete because:" and "could not be reached" in lines[verdict + 3]
    assert lines.index("Incomplete because:") < lines.index("Blockers:")
    assert any(re.match(r"SKIP  \d+ more, not judged: no node", line) for line in lines)
    assert any(re.match(r"SKIP  \d+ more, not applicable", line) for line in lines)
    assert sum(1 for line in lines if line.startswith("SKIP ")) < 20 and len(lines) < 70


def _ha007(supervised: str, assume: bool) -> tuple[Status, str]:
    facts = {"config": {"appendonly": "no", "save": ""},
             "info": {"server": {"process_supervised": supervised}, "replication": {"connected_slaves": "1"}}}
    found = run_check("HA-007", snapshot(nodes={"127.0.0.1:7000": facts}), {"ha": {"assume_auto_restart": assume}})
    return found[0].status, found[0].message


def test_ha_007_says_whether_restarts_are_observed_or_assumed():
    status, message = _ha007("no", True)
    assert status is Status.FAIL and "assumed by the profile (ha.assume_auto_restart" in message
    assert "1 replica that" in message
    status, message = _ha007("systemd", False)
    assert status is Status.FAIL and "restarted by systemd" in message
    assert _ha007("no", False)[0] is Status.PASS


def test_acl_004_does_not_pass_for_an_application_nobody_named():
    facts = {"acl.log": [], "info": {"stats": {}}}
    snap = snapshot(nodes={"127.0.0.1:7000": facts})
    for check_id in ("ACL-001", "ACL-002", "ACL-004"):
        assert [f.status for f in run_check(check_id, snap)] == [Status.SKIP], check_id
    named = run_check("ACL-004", snap, {"application": {"user": "app"}})
    assert [f.status for f in named] == [Status.PASS]
    denied = snapshot(nodes={"127.0.0.1:7000": {**facts, "acl.log": [
        {"reason": "command", "object": "flushall", "username": "someone", "count": 2}]}})
    assert [f.status for f in run_check("ACL-004", denied)] == [Status.WARN]


def test_plural_reads_right():
    assert plural(1, "replica") == "1 replica" and plural(2, "replica") == "2 replicas"
    assert plural(0, "primary", "primaries") == "0 primaries" and plural(1, "primary", "primaries") == "1 primary"


# A count before one of these nouns in a message must go through wording.plural ("1 replicas", "1 days").
COUNT_NOUNS = ("replicas", "nodes", "Sentinels", "primaries", "connections", "days", "hosts", "subnets", "commands",
               "addresses", "errors", "identities", "domains", "keys", "shards", "users")
UNPLURALISED = re.compile(r"\{(?:len\([^)]*\)|[a-z_]+)\} (?:[a-z-]+ )?(?:" + "|".join(COUNT_NOUNS)
                          + r")\b|\}[^\"]*\(s\)")


def test_no_check_message_counts_without_plural():
    offenders = []
    for path in sorted((ROOT / "checks").glob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if 'f"' in line and UNPLURALISED.search(line):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
