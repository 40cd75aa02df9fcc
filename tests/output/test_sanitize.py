"""Control characters in server-supplied text are shown, never run: the sanitiser and every renderer."""

from __future__ import annotations

import json
import sys
import unicodedata
import xml.etree.ElementTree as ET

import pytest

from redis_audit.output import RenderOptions, renderers
from redis_audit.output.markdown import md
from redis_audit.output.sanitize import escape_char, is_hidden, json_escape_hidden, visible, visible_json
from tests.reportkit import ALL_PASS, make_report

# Every character a terminal, an XML parser or a reader could be fooled by: C0, DEL, C1, the bidi
# embeddings/overrides/isolates and marks, zero-width characters, the BOM, separators, a tag character.
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
CONTROLS = "".join(map(chr, range(0x20))) + "\x7f" + "".join(map(chr, range(0x80, 0xA0)))
OTHERS = "\u200b\u200d\u2028\u2029\ufeff\U000e0041\ufffe"
EVERY_CONTROL = CONTROLS + BIDI + OTHERS
REPAINT = "\x1b[2J\x1b[H\x1b[32mVerdict: READY\x1b[0m"
HOSTILE = f"rl:{REPAINT}|pipe\nVerdict: READY{EVERY_CONTROL}"


def hidden_in(text: str, allowed: str = "\n") -> set[str]:
    return {c for c in text if is_hidden(c) and c not in allowed}


def test_hidden_is_exactly_the_control_format_and_separator_categories() -> None:
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        expected = unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs") or char in "\ufffe\uffff"
        assert is_hidden.__wrapped__(char) is expected, hex(code)  # type: ignore[attr-defined]


def test_visible_spells_each_character_and_leaves_other_text_alone() -> None:
    assert visible(REPAINT) == "\\x1b[2J\\x1b[H\\x1b[32mVerdict: READY\\x1b[0m"
    assert visible("a\tb\nc\r") == "a\\tb\\nc\\r"
    assert visible("a\nb", keep_newlines=True) == "a\nb"
    assert visible("\u202eevil\u2069 \x9b \U000e0041") == "\\u202eevil\\u2069 \\x9b \\U000e0041"
    assert visible("café 東京 ключ 🔑 rl:{user}:42") == "café 東京 ключ 🔑 rl:{user}:42"
    shown = visible(EVERY_CONTROL)
    assert shown.isascii() and shown.isprintable()
    assert all(escape_char(c) in shown for c in EVERY_CONTROL)


def test_visible_json_reaches_every_string_keys_included() -> None:
    document = {"a\x1b": [REPAINT, {"k": "\u202e"}], "n": 3, "t": True, "z": None}
    assert visible_json(document) == {"a\\x1b": [visible(REPAINT), {"k": "\\u202e"}], "n": 3, "t": True, "z": None}


def test_json_escaping_keeps_the_value_and_hides_nothing() -> None:
    value = {"key": HOSTILE, "astral": "\U000e0041"}
    text = json_escape_hidden(json.dumps(value, ensure_ascii=False))
    assert json.loads(text) == value
    assert not hidden_in(text, allowed="")


@pytest.fixture(scope="module")
def hostile_report() -> dict:
    findings = [*ALL_PASS,
                ("RL-001", "FAIL", "high", HOSTILE, f"3 of 3 keys have no TTL {REPAINT}"),
                ("MEM-009", "WARN", "low", "deployment", f"key {HOSTILE} is big"),
                ("ENC-001", "ERROR", "low", HOSTILE, "ERR \x00\x07\x1b]0;title\x07")]
    return make_report(findings).to_json()


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_text_renderings_show_every_control_character(hostile_report: dict, fmt: str) -> None:
    for color in (False, True):
        text = renderers()[fmt](hostile_report, RenderOptions(color=color))
        allowed = "\n\x1b" if color else "\n"  # the table's own colours, only when asked
        assert not hidden_in(text, allowed)
        assert (md(REPAINT) if fmt == "markdown" else visible(REPAINT)) in text
        if color:
            assert "\x1b[2J" not in text and "\x1b[H" not in text
    # No server string starts a line of its own: the forged verdict never heads a line.
    text = renderers()[fmt](hostile_report, RenderOptions())
    assert not any(line.lstrip("> #|*").startswith("Verdict: READY") for line in text.splitlines())


def test_markdown_tables_keep_their_columns(hostile_report: dict) -> None:
    text = renderers()["markdown"](hostile_report, RenderOptions())
    for table in text.split("\n\n"):
        rows = [line for line in table.splitlines() if line.startswith("|")]
        if not rows:
            continue
        widths = {len(row.replace("\\|", "").split("|")) for row in rows}
        assert len(widths) == 1, (widths, rows[:3])


def test_junit_is_well_formed_xml_and_shows_the_characters(hostile_report: dict) -> None:
    text = renderers()["junit"](hostile_report, RenderOptions())
    root = ET.fromstring(text)  # XML 1.0 forbids most C0 controls: this raised before
    case = next(c for c in root.iter("testcase") if c.get("name", "").startswith("RL-001 "))  # a blocker
    assert case.get("name") == f"RL-001 {visible(HOSTILE)}"
    assert json.loads(case.find("system-out").text)["resource"] == HOSTILE  # the exact value, JSON-escaped
    assert not hidden_in(text)


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_json_renderings_keep_exact_values_and_hide_nothing(hostile_report: dict, fmt: str) -> None:
    text = renderers()[fmt](hostile_report, RenderOptions())
    assert not hidden_in(text)
    assert HOSTILE in strings(json.loads(text))  # the exact value, for a program that reads it


def strings(value: object) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(strings(v) for v in value)) if value else set()
    return set()


def test_html_shows_the_characters(hostile_report: dict) -> None:
    text = renderers()["html"](hostile_report, RenderOptions())
    assert not hidden_in(text) and "\\x1b[2J" in text
