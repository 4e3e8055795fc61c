"""The one escaping helper: registry, git and file text is shown, never obeyed."""

from __future__ import annotations

import json
import unicodedata

import pytest

from registry_ops.core.text import json_text, printable, printable_lines

HIDDEN = ("Cc", "Cf", "Zl", "Zp", "Cs")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("spirals-classifier", "spirals-classifier"),
        ("été: 0.9 ≥ 0.8", "été: 0.9 ≥ 0.8"),
        ("a\nb", r"a\nb"),
        ("a\r\nb", r"a\r\nb"),
        ("tab\there", r"tab\there"),
        ("nul\x00", r"nul\x00"),
        ("\x1b[31mred\x1b[0m", r"\x1b[31mred\x1b[0m"),
        ("abc\u202edcba", r"abc\u202edcba"),
        ("\u2066iso\u2069 \u200e\u200f", r"\u2066iso\u2069 \u200e\u200f"),
        ("line\u2028sep\u0085", r"line\u2028sep\x85"),
        ("zero\u200bwidth\ufeff", r"zero\u200bwidth\ufeff"),
        ("lone \ud800", r"lone \ud800"),
        ("::error::owned", r"\x3a:error::owned"),
        ("   ::warning title=x::y", r"   \x3a:warning title=x::y"),
        (":single", r"\x3asingle"),
        ("mid ::error:: is no command", "mid ::error:: is no command"),
        ("legacy ##[error]boom", r"legacy #\x23[error]boom"),
        ("x\n::error::y", r"x\n::error::y"),
    ],
)
def test_printable_shows_what_would_be_obeyed(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_printable_is_one_line_with_nothing_hidden_for_every_code_point() -> None:
    every = "".join(chr(c) for c in range(0x110000))
    shown = printable(every)
    assert "\n" not in shown and "\r" not in shown
    assert not any(unicodedata.category(ch) in HIDDEN for ch in shown)
    assert printable(shown) == shown  # idempotent: renderers may apply it twice


@pytest.mark.parametrize(
    "text", ["::error::x", "\t::x", "\u3000::x", "a\n::error::b", "\r::x", "\u2028::x"]
)
def test_no_line_of_the_result_can_be_a_workflow_command(text: str) -> None:
    for line in printable(text).splitlines() + printable_lines(text).splitlines():
        assert not line.strip().startswith("::")
        assert "##[" not in line


def test_printable_lines_keeps_its_own_line_breaks_only() -> None:
    message = "2 problems:\n  a.yaml: x\x1b[2J\n::error::forged"
    assert printable_lines(message) == "2 problems:\n  a.yaml: x\\x1b[2J\n\\x3a:error::forged"


def test_json_text_is_the_same_value_with_nothing_hidden() -> None:
    value = {
        "name": "m\u202e\u2066\x85\u00ad\U000e0041\ufeff",
        "detail": "x\n##[error]y",
        "lone": "\ud800",
        "list": ["##[", "plain é"],
    }
    for ensure_ascii in (False, True):
        text = json_text(json.dumps(value, indent=2, ensure_ascii=ensure_ascii))
        assert json.loads(text) == value
        assert "##[" not in text
        assert not any(unicodedata.category(ch) in HIDDEN and ch not in "\n" for ch in text)


def test_json_text_covers_every_hidden_code_point() -> None:
    # Surrogates one by one (a high one next to a low one is a pair in JSON's eyes).
    every = "".join(chr(c) for c in range(0x20, 0x110000) if not 0xD800 <= c < 0xE000)
    every += "".join(f"{chr(c)}x" for c in range(0xD800, 0xE000, 7))
    text = json_text(json.dumps(every, ensure_ascii=False))
    assert json.loads(text) == every
    assert not any(unicodedata.category(ch) in HIDDEN for ch in text)
