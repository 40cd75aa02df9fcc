"""Renderings of a report. Each format is one small module with a `render(report, options)` function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis_audit.jsonvalue import JsonObject

if TYPE_CHECKING:
    from redis_audit.output.asff import AsffAccount


@dataclass(frozen=True)
class SignedContext:
    """What a rendering of a verified envelope can say beyond the report itself."""

    envelope: bytes  # the envelope file, byte for byte (the HTML embeds it)
    envelope_sha256: str
    signers: tuple[str, ...]  # the pinned keys that verified, for display
    statement: JsonObject  # the verified in-toto statement (the json format prints it)
    verify_command: str  # the exact command that verifies the envelope


@dataclass(frozen=True)
class SourceFile:
    """A file the user keeps in their repository (the profile, the inventory) and the deployment's line in it:
    where SARIF results point, as IaC scanners point at a manifest."""

    path: str  # relative to the repository root, with forward slashes
    line: int = 1


@dataclass(frozen=True)
class RenderOptions:
    only_attention: bool = False  # hide PASS rows
    color: bool = False
    signed: SignedContext | None = None  # None: an unsigned report, for local exploration only
    asff: AsffAccount | None = None  # --format asff: the account and region (default: the report's ARN)
    source: SourceFile | None = None  # SARIF's location; None: a fixed path per deployment


Renderer = Callable[[JsonObject, RenderOptions], str]


def renderers() -> dict[str, Renderer]:
    """Every output format by name. Renderers take the report's JSON, so they work on verified reports too."""
    from redis_audit.output import asff, html, json_format, junit, markdown, policyreport, prometheus, sarif, table

    return {"table": table.render, "json": json_format.render, "markdown": markdown.render, "html": html.render,
            "junit": junit.render, "sarif": sarif.render,
            "asff": asff.render, "policyreport": policyreport.render, "prometheus": prometheus.render,
            "openmetrics": prometheus.render_openmetrics}
