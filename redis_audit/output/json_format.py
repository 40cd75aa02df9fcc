"""JSON: the verified in-toto statement for a signed report; the report itself for an unsigned run."""

from __future__ import annotations

import json

from redis_audit.jsonvalue import JsonObject
from redis_audit.output import RenderOptions


def render(report: JsonObject, options: RenderOptions) -> str:
    document = options.signed.statement if options.signed else report
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
