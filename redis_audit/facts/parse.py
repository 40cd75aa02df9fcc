"""Parsers for raw Redis replies. All values stay text (or ints the server sent as ints)."""

from __future__ import annotations

from collections.abc import Sequence

from redis_audit.jsonvalue import JsonObject, JsonValue


def parse_info(text: str) -> dict[str, dict[str, str]]:
    """INFO output as {section: {field: text}}; sections are lower-case ('# Memory' -> 'memory')."""
    sections: dict[str, dict[str, str]] = {}
    current = sections.setdefault("default", {})
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            current = sections.setdefault(line.lstrip("# ").lower(), {})
            continue
        key, sep, value = line.partition(":")
        if sep:
            current[key] = value
    if not sections["default"]:
        del sections["default"]
    return sections


def parse_info_fields(value: str) -> dict[str, str]:
    """A compound INFO value such as 'ip=127.0.0.1,port=6380,state=online' as a dict."""
    out: dict[str, str] = {}
    for part in value.split(","):
        key, sep, item = part.partition("=")
        if sep:
            out[key] = item
    return out


def pairs_to_dict(reply: object) -> JsonObject:
    """A flat [k1, v1, k2, v2, ...] reply (CONFIG GET, SENTINEL MASTER) as a dict."""
    if isinstance(reply, dict):
        return {str(k): to_json(v) for k, v in reply.items()}
    items = list(reply) if isinstance(reply, list | tuple) else []
    return {str(items[i]): to_json(items[i + 1]) for i in range(0, len(items) - 1, 2)}


def to_json(value: object) -> JsonValue:
    """A raw reply made JSON-safe: bytes decoded, floats as text, nested lists kept."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {str(to_json(k)): to_json(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [to_json(v) for v in value]
    return str(value)


def parse_cluster_nodes(text: str) -> list[JsonObject]:
    """CLUSTER NODES lines as dicts: id, address, flags, primary id, link state, slots."""
    nodes: list[JsonObject] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        address = fields[1].split("@")[0].split(",")[0]
        nodes.append(
            {
                "id": fields[0],
                "address": address,
                "flags": fields[2].split(","),
                "primaryId": None if fields[3] == "-" else fields[3],
                "configEpoch": fields[6],
                "linkState": fields[7],
                "slots": fields[8:],
            }
        )
    return nodes


def count_slots(ranges: Sequence[str]) -> int:
    """The number of slots in CLUSTER NODES slot fields ('0-5460', '5461', ignoring migrations)."""
    total = 0
    for item in ranges:
        if item.startswith("["):
            continue
        start, _, end = item.partition("-")
        total += (int(end) - int(start) + 1) if end else 1
    return total
