"""Server-supplied text made safe to show: every control character becomes visible (``\\x1b``).

Key names, client names, ACL log entries, error replies and anything else a server (or a report
file) supplies can hold terminal escape sequences (``\\x1b[2J`` repaints the screen), newlines
that forge a line of their own ("Verdict: READY"), bidi overrides that reorder what the reader
sees (U+202E), and characters XML 1.0 forbids. Every text rendering passes its values through
`visible` (or `visible_json` for a whole document) before it adds its own layout and colours.

What is escaped: the C0 controls, DEL and the C1 controls (category Cc), format characters
(Cf: bidi embeddings, overrides and isolates, zero-width characters, the BOM, tag characters),
the line and paragraph separators (Zl, Zp), lone surrogates (Cs) and the noncharacters U+FFFE
and U+FFFF. Everything else, accents and CJK included, is shown as it is.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

_ASCII_CONTROL = re.compile("[\x00-\x1f\x7f]")
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_NONCHARACTERS = frozenset({"\ufffe", "\uffff"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


@lru_cache(maxsize=4096)
def is_hidden(char: str) -> bool:
    """True for a character a reader would not see as itself (a control, format or separator)."""
    return unicodedata.category(char) in _HIDDEN_CATEGORIES or char in _NONCHARACTERS


def escape_char(char: str) -> str:
    """The visible spelling of one character: \\n, \\x1b, \\u202e, \\U000e0041."""
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: object, *, keep_newlines: bool = False) -> str:
    """`text` with every hidden character spelled out; with keep_newlines, "\\n" stays a line break
    (for text the renderer itself lays out on several lines, never for a value inside a line)."""
    value = text if isinstance(text, str) else str(text)
    if value.isascii():
        if _ASCII_CONTROL.search(value) is None:
            return value
        return _ASCII_CONTROL.sub(lambda m: _spell(m.group(), keep_newlines), value)
    return "".join(_spell(c, keep_newlines) if is_hidden(c) else c for c in value)


def _spell(char: str, keep_newlines: bool) -> str:
    return char if keep_newlines and char == "\n" else escape_char(char)


def visible_json(value: Any) -> Any:
    """A copy of a JSON document (or any nest of dicts, lists and scalars) whose every string, keys
    included, went through `visible`; what a text renderer works from."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {visible(k) if isinstance(k, str) else k: visible_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [visible_json(v) for v in value]
    return value


def json_escape_hidden(json_text: str) -> str:
    """JSON text (json.dumps with ensure_ascii=False) with every hidden character as a \\uXXXX escape.

    Still the same JSON value: such characters can only occur inside strings, where the escape
    means the character itself. json.dumps already escapes C0; this adds DEL, C1, bidi and the rest.
    """
    if json_text.isascii() and "\x7f" not in json_text:
        return json_text
    return "".join(_json_escape(c) if c == "\x7f" or (ord(c) > 0x7F and is_hidden(c)) else c for c in json_text)


def _json_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON spells characters beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
