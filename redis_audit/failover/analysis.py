"""From the canary's records, the timeline and the read-back to the numbers the FO checks judge.

Acknowledged-write loss is computed the Jepsen way, reduced to one writer: every acked sequence
number must be on the final primary after convergence; the ones missing are lost, and the failed or
timed-out ones that are present are indeterminate. All values are integers (ms, or counts).
"""

from __future__ import annotations

import itertools
from collections import Counter

from redis_audit.failover.model import Clock, Timeline, WriteRecord
from redis_audit.jsonvalue import JsonObject


def write_metrics(records: list[WriteRecord], final: list[int] | None, clock: Clock, period_us: int,
                  new_primary: str | None, old_primary: str) -> JsonObject:
    trigger = clock.trigger_us or 0
    acked = [r for r in records if r.outcome == "ack"]
    failed = [r for r in records if r.outcome != "ack"]
    out: JsonObject = {
        "writes": len(records),
        "acked": len(acked),
        "failed": len(failed),
        "errorsByClass": dict(sorted(Counter(r.error_class or "unknown" for r in failed).items())),
        "acksByNode": dict(sorted(Counter(r.node or "unknown" for r in acked).items())),
    }
    end = records[-1].done_us if records and records[-1].outcome != "ack" else None
    out.update(_gaps(acked, trigger, period_us, clock, end))
    first_new = next((r for r in acked if r.done_us >= trigger and r.node == new_primary), None)
    out["firstAckOnNewPrimaryMs"] = clock.rel_ms(first_new.done_us) if first_new else None
    last_old = max((r.done_us for r in acked if r.node == old_primary and r.done_us >= trigger), default=None)
    out["lastAckOnOldPrimaryMs"] = clock.rel_ms(last_old)
    if final is None:
        out["readBack"] = False
        return out
    present = Counter(final)
    lost = [r for r in acked if present[r.seq] == 0]
    out["readBack"] = True
    out["finalLength"] = len(final)
    out["duplicates"] = sum(c - 1 for c in present.values() if c > 1)
    out["outOfOrder"] = sum(1 for a, b in itertools.pairwise(final) if b <= a)
    out["ackedWritesLost"] = len(lost)
    out["lostByNode"] = dict(sorted(Counter(r.node or "unknown" for r in lost).items()))
    out["staleAckWindow"] = (
        {"firstMs": clock.rel_ms(lost[0].done_us), "lastMs": clock.rel_ms(lost[-1].done_us),
         "firstSeq": lost[0].seq, "lastSeq": lost[-1].seq}
        if lost else None
    )
    out["indeterminateWrites"] = sum(1 for r in failed if present[r.seq] > 0)
    waited = [r for r in acked if r.wait_replicas is not None]
    if waited:
        confirmed = [r for r in waited if r.wait_replicas and r.wait_replicas > 0]
        out["waitConfirmed"] = len(confirmed)
        out["waitConfirmedLost"] = sum(1 for r in confirmed if present[r.seq] == 0)
    return out


def _gaps(acked: list[WriteRecord], trigger: int, period_us: int, clock: Clock, end: int | None) -> JsonObject:
    """The longest time between consecutive acks around the trigger, and the total beyond two periods."""
    times = sorted(r.done_us for r in acked)
    before = [t for t in times if t < trigger]
    around = ([before[-1]] if before else [trigger]) + [t for t in times if t >= trigger]
    if end is not None and end > around[-1]:  # the canary ended without another ack: that gap counts too
        around.append(end)
    longest, total, start = 0, 0, None
    for a, b in itertools.pairwise(around):
        gap = b - a
        if gap > longest:
            longest, start = gap, a
        if gap > 2 * period_us:
            total += gap - period_us
    return {
        "writeGapMaxMs": longest // 1000,
        "writeGapStartMs": clock.rel_ms(start),
        "writeUnavailableTotalMs": total // 1000,
    }


def timeline_metrics(timeline: Timeline, clock: Clock, old_primary: str, new_primary: str | None) -> JsonObject:
    trigger = clock.trigger_us or 0
    promoted = timeline.first("master", f"role {new_primary}", after_us=trigger) if new_primary else None
    demoted = timeline.first("slave", f"role {old_primary}", after_us=trigger)
    switches: dict[str, int | None] = {}
    for event in timeline.snapshot():
        if event.name == "+switch-master" and event.t_us >= trigger:
            switches.setdefault(event.source.removeprefix("sentinel "), clock.rel_ms(event.t_us))
    views: dict[str, int | None] = {}
    for event in timeline.snapshot():
        if event.name == "sees-new-primary":
            views.setdefault(event.source.removeprefix("cluster-view "), clock.rel_ms(event.t_us))
    out: JsonObject = {
        "promotionMs": clock.rel_ms(promoted),
        "oldPrimaryDemotedMs": clock.rel_ms(demoted),
        # Both nodes answered ROLE master this long. Not "both accepted writes": in a switchover the old
        # one is paused (writes block), so acked writes after the promotion are measured apart, below.
        "roleMasterOverlapMs": (demoted - promoted) // 1000 if promoted and demoted and demoted > promoted else 0,
        "sentinelSwitchMs": switches,
        "clusterViewMs": views,
    }
    odown = timeline.first("+odown", "sentinel", after_us=trigger)
    out["detectionMs"] = clock.rel_ms(odown)
    return out


def stale_ack_metrics(records: list[WriteRecord], clock: Clock, old_primary: str | None,
                      promoted_ms: int | None) -> JsonObject:
    """Writes the old primary acknowledged after a replica had been promoted (both nodes then took writes):
    how many, and for how long after the promotion (ms); null when no promotion time is known."""
    if promoted_ms is None or old_primary is None:
        return {"staleAcksAfterPromotion": None, "staleAckAfterPromotionMs": None}
    late = [t for r in records if r.outcome == "ack" and r.node == old_primary
            and (t := clock.rel_ms(r.done_us)) is not None and t > promoted_ms]
    return {"staleAcksAfterPromotion": len(late),
            "staleAckAfterPromotionMs": max(late) - promoted_ms if late else 0}
