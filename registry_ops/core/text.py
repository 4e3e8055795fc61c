"""Text from the registry, git or a file, made safe to show: the one escaping helper.

Model names, descriptions, tags, signature input names, lease holders and
commit messages are written by whoever can write to the registry or the
repository. Printed raw they could forge output lines (a newline, then a fake
``PASS`` line), drive a terminal (ANSI escapes, ``\\r``), reorder what a
reader sees (bidirectional controls such as U+202E) or, in a CI log, become a
command the GitHub runner executes: a line starting with ``::`` (after
leading blanks) or ``##[`` anywhere in a line.

:func:`printable` is applied to every such piece of text before any output,
whatever the format: text, Markdown (under its own escaping), GitHub
annotations and messages. Line breaks and other control, format and
separator characters become visible escapes (``\\n``, ``\\x1b``, ``\\u202e``),
so the text stays one line and nothing is hidden from a reviewer; a leading
``:`` and any ``##[`` are escaped so the text cannot start a workflow command
wherever it lands in a line. Backslashes are left alone: a name that already
contains ``\\n`` as two characters reads the same, but it can do no harm.

:func:`printable_lines` does the same for a message whose line breaks are its
own (a list of problems), and :func:`json_text` for serialized JSON, where
``json`` already escapes control characters but leaves the rest raw.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["json_text", "printable", "printable_lines"]

# Unicode categories never shown raw: Cc (C0, DEL, C1 including NEL), Cf (format:
# bidirectional controls, zero-width characters, BOM), Zl and Zp (line and paragraph
# separators), Cs (lone surrogates, which would also fail to encode on output).
_HIDDEN = frozenset(("Cc", "Cf", "Zl", "Zp", "Cs"))
# What a GitHub runner reads as a command: "::" first on a line once leading whitespace
# is trimmed (escaping any leading ":" also covers a ":" that a template puts right
# after the text), and the legacy "##[" anywhere in a line.
_LEADING_COLON = re.compile(r"^(\s*):")
_LEGACY_COMMAND = "##["


def _visible(ch: str) -> str:
    """``ch`` as Python writes it in a string literal: ``\\n``, ``\\x00``, ``\\u202e``."""
    if unicodedata.category(ch) in _HIDDEN:
        return ch.encode("unicode_escape", "backslashreplace").decode("ascii")
    return ch


def printable(text: str) -> str:
    """``text`` as one line that cannot forge output or become a command.

    Control, format and separator characters (newlines and bidi controls
    included) become visible escapes; a leading ``:`` (after blanks) becomes
    ``\\x3a``; ``##[`` becomes ``#\\x23[``. Plain text comes back unchanged.
    """
    if text.isprintable() and not text.lstrip().startswith(":") and _LEGACY_COMMAND not in text:
        return text  # the common case: nothing to do
    shown = "".join(_visible(ch) for ch in text)
    shown = _LEADING_COLON.sub(r"\1\\x3a", shown, count=1)
    return shown.replace(_LEGACY_COMMAND, "#\\x23[")


def printable_lines(text: str) -> str:
    """A message of several lines: each line :func:`printable`, the ``\\n`` between
    them kept. For text whose line breaks are registry-ops' own; a piece of
    registry text inside it should already have been through :func:`printable`,
    or its line breaks split it into lines of their own (which this still keeps
    from being commands)."""
    return "\n".join(printable(line) for line in text.split("\n"))


# In JSON text these can only stand inside strings (between tokens JSON allows only
# space, tab, CR and LF, and json.dumps escapes every C0 character inside strings), so
# they can be replaced by \u escapes without changing what the text parses to.
_JSON_HIDDEN = re.compile(
    "[\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e007f]"
)


def json_text(text: str) -> str:
    """Serialized JSON with bidi, format and C1 characters as ``\\u`` escapes and
    ``##[`` split (``##\\u005b``): the same JSON value, safe in a terminal and a CI log.
    ``json.dumps`` already escapes C0 controls; with ``ensure_ascii=False`` it leaves
    the rest raw."""
    text = _JSON_HIDDEN.sub(_json_escape, text)
    return text.replace(_LEGACY_COMMAND, "##\\u005b")


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:  # JSON spells astral characters as a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"
