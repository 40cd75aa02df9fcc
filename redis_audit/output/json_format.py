"""JSON: the verified in-toto statement for a signed report; the report itself for an unsigned run."""

from __future__ import annotations

import json

from redis_audit.jsonvalue import JsonObject
from redis_audit.output import RenderOptions
from redis_audit.output.sanitize import json_escape_hidden


def render(report: JsonObject, options: RenderOptions) -> str:
    document = options.signed.statement if options.signed else report
    # Readable UTF-8, but DEL, C1 and bidi controls as \u escapes: the same JSON value, safe on a terminal.
    return json_escape_hidden(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)) + "\n"
