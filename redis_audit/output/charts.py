"""Inline SVG pictures for the HTML report, drawn from the report's own numbers (no script, no external asset).

Each chart is drawn only when its data is in the report, and returns "" otherwise:
  latency   LAT-001 per pod (P50, P95 with its 95% interval, P99, max) against the profile's P95 limit
  ttl       RL-001's TTL histogram per limiter key pattern, with the limiter's window and twice it
  memory    RL-002's projected peak (other data + each limiter) against maxmemory and the pass/fail lines
  failover  FO-001's timeline: trigger, detection, promotion, the longest write gap, stale acknowledgements
Every text is escaped (and control characters made visible) by the caller's `e`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from redis_audit.jsonvalue import as_object, as_objects
from redis_audit.output.view import View

Escape = Callable[[object], str]
WIDTH = 760
LEFT = 190  # room for row labels
PLOT = WIDTH - LEFT - 30
RED, ORANGE, GREEN, BLUE, GREY = "#b32d2e", "#c26d00", "#00794a", "#2271b1", "#8c8f94"


def _svg(chart_id: str, title: str, height: int, body: list[str], e: Escape) -> str:
    return (f'<figure class="chart"><svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
            f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{e(title)}">'
            f"<title>{e(title)}</title>" + "".join(body) + f"</svg><figcaption>{e(title)}</figcaption></figure>")


def _text(x: float, y: float, text: object, e: Escape, anchor: str = "start", size: int = 12,
          color: str = "#1d2327") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{color}" '
            f'font-family="system-ui,sans-serif">{e(text)}</text>')


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def items_of(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _findings(view: View, check: str) -> list[dict[str, Any]]:
    return [f for f in view.findings() if f.get("checkId") == check]


def _observed(finding: dict[str, Any]) -> dict[str, Any]:
    return as_object(as_object(finding.get("evidence")).get("observed"))


def _profile(view: View, section: str) -> dict[str, Any]:
    return as_object(as_object(as_object(view.report.get("profile")).get("values")).get(section))


def _ms(us: float) -> str:
    return f"{us / 1000:g} ms" if us >= 1000 else f"{us:g} µs"


def latency(view: View, e: Escape) -> str:
    rows = [(str(f.get("resource")), _observed(f)) for f in _findings(view, "LAT-001")]
    rows = [(name, o) for name, o in rows if _num(o.get("p95Us")) is not None]
    if not rows:
        return ""
    limit_us = (_num(_profile(view, "latency").get("p95_ms")) or 10) * 1000
    values = [v for _, o in rows for k in ("p50Us", "p95Us", "p99Us", "maxUs") if (v := _num(o.get(k)))]
    low = 10 ** math.floor(math.log10(max(min([*values, limit_us]), 1)))
    high = 10 ** math.ceil(math.log10(max([*values, limit_us * 2])))

    def x(us: float) -> float:
        return LEFT + PLOT * (math.log10(max(us, low)) - math.log10(low)) / (math.log10(high) - math.log10(low))

    body, y = [], 40
    decade = low
    while decade <= high:
        body.append(f'<line x1="{x(decade):.1f}" y1="24" x2="{x(decade):.1f}" y2="{30 + 28 * len(rows)}" '
                    f'stroke="#dcdcde"/>')
        body.append(_text(x(decade), 18, _ms(decade), e, "middle", 11, GREY))
        decade *= 10
    for name, o in rows:
        p50, p95, p99, top = (_num(o.get(k)) for k in ("p50Us", "p95Us", "p99Us", "maxUs"))
        colour = RED if (p95 or 0) >= limit_us else GREEN
        body.append(_text(LEFT - 8, y + 4, name.removeprefix("pod:"), e, "end"))
        if p50 is not None and top is not None:
            body.append(f'<line x1="{x(p50):.1f}" y1="{y}" x2="{x(top):.1f}" y2="{y}" stroke="{GREY}"/>')
        if p50 is not None and p95 is not None:
            body.append(f'<rect x="{x(p50):.1f}" y="{y - 7}" width="{max(x(p95) - x(p50), 2):.1f}" height="14" '
                        f'fill="{colour}" opacity="0.75"><title>{e(f"{name}: P50 {_ms(p50)}, P95 {_ms(p95)}")}'
                        "</title></rect>")
        interval = [v for v in map(_num, items_of(o.get("p95Ci95Us"))) if v is not None]
        if len(interval) == 2:
            body.append(f'<line x1="{x(interval[0]):.1f}" y1="{y + 9}" x2="{x(interval[1]):.1f}" y2="{y + 9}" '
                        f'stroke="{colour}" stroke-width="2"/>')
        if p99 is not None:
            body.append(f'<circle cx="{x(p99):.1f}" cy="{y}" r="4" fill="#1d2327"><title>{e(f"P99 {_ms(p99)}")}'
                        "</title></circle>")
        y += 28
    body.append(f'<line x1="{x(limit_us):.1f}" y1="24" x2="{x(limit_us):.1f}" y2="{y - 12}" stroke="{RED}" '
                f'stroke-width="2" stroke-dasharray="5,3"/>')
    body.append(_text(x(limit_us) + 4, y + 4, f"P95 limit {_ms(limit_us)}", e, "start", 11, RED))
    body.append(_text(LEFT, y + 20, "bar: P50 to P95 (green under the limit, red at or over); whisker: the P95's "
                      "95% interval", e, "start", 11, GREY))
    body.append(_text(LEFT, y + 34, "dot: P99; thin line: up to the maximum; log scale", e, "start", 11, GREY))
    return _svg("chart-latency", "Latency from each app pod against the P95 limit", y + 44, body, e)


def _bucket_start(label: str) -> float:
    """Seconds where a census TTL bucket starts: 'none' first, '<1m' at 0, '5m-15m' at 300, '>=6h' at 21600."""
    if label == "none":
        return -1
    found = re.findall(r"(\d+)([smhd])", label)
    if label.startswith("<") or not found:
        return 0
    number, unit = found[0]
    return int(number) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def _bucket_end(label: str) -> float:
    if label == "none":
        return -1  # keys without a TTL: no position on the time axis
    found = re.findall(r"(\d+)([smhd])", label)
    if label.startswith(">=") or label == "any" or not found:
        return math.inf
    number, unit = found[-1]
    return int(number) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def ttl(view: View, e: Escape) -> str:
    groups = [(str(f.get("resource")), as_object(_observed(f).get("ttlHistogram"))) for f in _findings(view, "RL-001")]
    groups = [(name, hist) for name, hist in groups if hist]
    if not groups:
        return ""
    limiters = as_objects(as_object(as_object(view.report.get("profile")).get("values")).get("limiters"))
    charts = []
    for index, (pattern, hist) in enumerate(groups):
        labels = sorted(hist, key=_bucket_start)
        counts = [_num(hist[k]) or 0 for k in labels]
        top = max(counts) or 1
        step = PLOT / len(labels)
        body = []
        for i, (label, count) in enumerate(zip(labels, counts, strict=True)):
            height = 120 * count / top
            colour = RED if label == "none" and count else BLUE
            body.append(f'<rect x="{LEFT + i * step + 4:.1f}" y="{150 - height:.1f}" width="{step - 8:.1f}" '
                        f'height="{height:.1f}" fill="{colour}"><title>{e(f"{label}: {count:g} keys")}</title></rect>')
            body.append(_text(LEFT + (i + 0.5) * step, 166, label, e, "middle", 11))
            body.append(_text(LEFT + (i + 0.5) * step, 146 - height, f"{count:g}", e, "middle", 10, GREY))
        for lim in limiters:
            window = _num(lim.get("window_s"))
            if window is None or not pattern.startswith(str(lim.get("prefix", "\0"))):
                continue
            for seconds, name, colour in ((window, f"{lim.get('name')} window {window:g} s", ORANGE),
                                          (2 * window, f"twice the window ({2 * window:g} s)", RED)):
                at = next((i + (seconds - _bucket_start(b)) / (_bucket_end(b) - _bucket_start(b))
                           if math.isfinite(_bucket_end(b)) else i + 0.5
                           for i, b in enumerate(labels) if _bucket_start(b) <= seconds < _bucket_end(b)), None)
                if at is None:
                    continue
                body.append(f'<line x1="{LEFT + at * step:.1f}" y1="20" x2="{LEFT + at * step:.1f}" y2="150" '
                            f'stroke="{colour}" stroke-width="2" stroke-dasharray="5,3"/>')
                body.append(_text(LEFT + at * step + 3, 30 if colour == ORANGE else 44, name, e, "start", 11, colour))
        body.append(_text(LEFT - 8, 90, pattern, e, "end"))
        charts.append(_svg(f"chart-ttl-{index}", f"TTLs of {pattern} against the limiter's window", 180, body, e))
    return "".join(charts)


def _mb(value: float) -> str:
    return f"{value / (1 << 20):,.1f} MB"


def memory(view: View, e: Escape) -> str:
    found = [_observed(f) for f in _findings(view, "RL-002")]
    found = [o for o in found if _num(o.get("maxmemory")) and _num(o.get("projectedPeakBytes")) is not None]
    if not found:
        return ""
    o = found[0]
    cap = _num(o.get("maxmemory")) or 1
    peak = _num(o.get("projectedPeakBytes")) or 0
    scale = PLOT / (max(cap, peak) * 1.05)
    parts = [("other data", _num(o.get("otherBytes")) or 0, GREY)]
    palette = [BLUE, "#72aee6", "#135e96", "#9ec2e6"]
    parts += [(str(lim.get("name")), _num(lim.get("projectedBytes")) or 0, palette[i % len(palette)])
              for i, lim in enumerate(as_objects(o.get("limiters")))]
    body, x = [], float(LEFT)
    for name, size, colour in parts:
        width = size * scale
        body.append(f'<rect x="{x:.1f}" y="40" width="{max(width, 0.5):.1f}" height="36" fill="{colour}">'
                    f"<title>{e(f'{name}: {_mb(size)}')}</title></rect>")
        x += width
    legend_x = LEFT
    for name, size, colour in parts:
        body.append(f'<rect x="{legend_x}" y="98" width="10" height="10" fill="{colour}"/>')
        body.append(_text(legend_x + 14, 107, f"{name} {_mb(size)}", e, "start", 11))
        legend_x += 24 + 7 * len(f"{name} {_mb(size)}")
    mem = _profile(view, "memory")
    for pct, label, colour in ((_num(mem.get("projected_pass_pct")) or 70, "pass", ORANGE),
                               (_num(mem.get("projected_fail_pct")) or 85, "fail", RED), (100, "maxmemory", "#1d2327")):
        at = LEFT + cap * pct / 100 * scale
        body.append(f'<line x1="{at:.1f}" y1="30" x2="{at:.1f}" y2="86" stroke="{colour}" stroke-width="2"/>')
        body.append(_text(at, 24, f"{label} {pct:g}%", e, "middle", 11, colour))
    body.append(_text(LEFT - 8, 63, f"projected peak {_mb(peak)}", e, "end"))
    return _svg("chart-memory", f"Projected peak memory {_mb(peak)} against maxmemory {_mb(cap)}", 124, body, e)


def failover(view: View, e: Escape) -> str:
    rto = _findings(view, "FO-001")
    if not rto:
        return ""
    first = rto[0]
    o = _observed(first)
    timeline = as_objects(as_object(first.get("evidence")).get("timeline"))
    events = [ev for ev in timeline if _num(ev.get("tMs")) is not None]
    promotion, gap, gap_start, detection = (_num(o.get(k)) for k in
                                            ("promotionMs", "writeGapMaxMs", "writeGapStartMs", "detectionMs"))
    acks = next((_observed(f) for f in _findings(view, "FO-004") if _observed(f)), {})
    stale = as_object(acks.get("staleAckWindow"))
    late = _num(acks.get("staleAckAfterPromotionMs"))
    if promotion is None and not events:
        return ""
    ends = [_num(ev.get("tMs")) or 0 for ev in events]
    ends += [promotion or 0, (gap_start or 0) + (gap or 0), _num(stale.get("lastMs")) or 0,
             (promotion or 0) + (late or 0)]
    span = max([*ends, 1]) * 1.08

    def x(ms: float) -> float:
        return LEFT + PLOT * max(ms, 0) / span

    body = [f'<line x1="{LEFT}" y1="60" x2="{LEFT + PLOT}" y2="60" stroke="#1d2327"/>']
    tick = 10 ** math.floor(math.log10(span)) if span >= 1 else 1
    at = 0.0
    while at <= span:
        body.append(f'<line x1="{x(at):.1f}" y1="60" x2="{x(at):.1f}" y2="65" stroke="#1d2327"/>')
        body.append(_text(x(at), 78, f"{at:g} ms", e, "middle", 10, GREY))
        at += tick
    for ev in events:
        at_ms = x(_num(ev.get("tMs")) or 0)
        label = f"{ev.get('tMs')} ms {ev.get('source')}: {ev.get('event')}"
        body.append(f'<line x1="{at_ms:.1f}" y1="52" x2="{at_ms:.1f}" y2="60" stroke="{GREY}"><title>{e(label)}'
                    "</title></line>")
    rows: list[tuple[str, float, float | None, str]] = [("trigger", 0.0, None, "#1d2327")]
    if detection is not None:
        rows.append(("detected (odown)", detection, None, GREY))
    if promotion is not None:
        rows.append(("promotion", promotion, None, GREEN))
    if gap is not None and gap_start is not None:
        rows.append((f"longest write gap {gap:g} ms", gap_start, gap_start + gap, RED))
    if stale.get("firstMs") is not None:
        rows.append(("acked writes lost", _num(stale.get("firstMs")) or 0, _num(stale.get("lastMs")) or 0,
                     ORANGE))
    if promotion is not None and late:
        rows.append((f"old primary acks (+{late:g} ms)", promotion, promotion + late, ORANGE))
    y = 100
    for name, start, end, colour in rows:
        body.append(_text(LEFT - 8, y + 4, name, e, "end", 12, colour))
        if end is None:
            body.append(f'<line x1="{x(start):.1f}" y1="40" x2="{x(start):.1f}" y2="{y}" stroke="{colour}" '
                        f'stroke-width="2"/><circle cx="{x(start):.1f}" cy="{y}" r="4" fill="{colour}"/>')
        else:
            body.append(f'<rect x="{x(start):.1f}" y="{y - 6}" width="{max(x(end) - x(start), 2):.1f}" height="12" '
                        f'fill="{colour}"/>')
        y += 22
    return _svg("chart-failover", "Failover timeline (ms after the trigger)", y + 10, body, e)


def all_charts(view: View, e: Escape) -> list[tuple[str, str]]:
    """(heading, svg) for every chart whose data the report has."""
    drawn = [("Latency from the app pods", latency(view, e)), ("Limiter key TTLs", ttl(view, e)),
             ("Memory at projected peak", memory(view, e)), ("Failover", failover(view, e))]
    return [(heading, svg) for heading, svg in drawn if svg]
