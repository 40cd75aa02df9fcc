"""Lists of trusted digests (packs, profiles): one `sha256:HEX` per line, then anything (a comment).

    # vetted 2026-05-02, CHG-4821
    sha256:3f1c…  acme  acme-redis-checks 1.4.0

`redis-audit checks packs` and `redis-audit profile digest` print lines in this format.
"""

from __future__ import annotations

import re
from pathlib import Path

from redis_audit.exitcodes import UsageError

_LINE = re.compile(r"(?:sha256:)?([0-9a-fA-F]{64})(?:\s.*)?")


def normalise(text: str, option: str) -> str:
    """`sha256:HEX` in lower case; UsageError for anything else."""
    match = _LINE.fullmatch(text.strip())
    if not match:
        raise UsageError(f"{option}: {text.strip()[:80]!r} is not a sha256 digest (sha256:<64 hex digits>)")
    return "sha256:" + match.group(1).lower()


def read_digest_list(path: Path, option: str) -> frozenset[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{option}: no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{option}: cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    digests = set()
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            digests.add(normalise(line, f"{option} {path}:{number}"))
    if not digests:
        raise UsageError(f"{option}: {path} lists no digest")
    return frozenset(digests)
