"""The report as indented JSON (the same document the signed report carries)."""

from __future__ import annotations

import json

from redis_audit.jsonvalue import JsonObject
from redis_audit.output import RenderOptions


def render(report: JsonObject, options: RenderOptions) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
