"""The edit of a manifest a proposal commits, one target's value at a time: the version
a target wants replaced, or an empty target filled, in the YAML text itself (found by its
source position), so comments, quoting, order and layout stay as written."""

from __future__ import annotations

import codecs
import copy
import json
import re
from typing import Any

from registry_ops.desired import yamldoc
from registry_ops.errors import RegistryOpsError
from registry_ops.gitops.proposals import Target


class EditError(RegistryOpsError):
    """A manifest value could not be replaced in place."""


# Line breaks as YAML counts lines (libyaml and PyYAML alike).
_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
# A tag or anchor before a value: a node's mark is where its properties start.
_PROPERTIES = re.compile(r"(?:[!&][^\s,\[\]{}]*[ \t]+)*")
# A plain scalar as a version is written (digits, in block or flow style).
_PLAIN = re.compile(r"[^\s,\[\]{}#]+")
# An empty flow sequence: a stage owned and left empty.
_EMPTY_LIST = re.compile(r"\[\s*\]")


def _decode(data: bytes) -> tuple[bytes, str]:
    bom = codecs.BOM_UTF8 if data.startswith(codecs.BOM_UTF8) else b""
    try:
        return bom, data[len(bom) :].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EditError(f"not UTF-8: {exc}") from None


def value_path(data: bytes, target: Target) -> yamldoc.PathKey:
    """Where the version of ``target`` that the manifest wants stands in the document."""
    doc = _parse(_decode(data)[1])
    if target.kind == "alias":
        return ("aliases", target.name)
    value = (doc.data.get("stages") or {}).get(target.name)
    if isinstance(value, list) and target.wanted is not None:
        return ("stages", target.name, value.index(target.wanted))
    return ("stages", target.name)  # its one version, or its empty list


def _parse(text: str) -> yamldoc.YamlDoc:
    try:
        doc = yamldoc.parse(text)
    except yamldoc.YamlSyntaxError as exc:
        raise EditError(str(exc)) from None
    if not isinstance(doc.data, dict):
        raise EditError("not a manifest (no mapping at the top)")
    return doc


def replace_scalar(text: str, line: int, column: int, new: str, empty: bool = False) -> str:
    """``text`` with the plain scalar whose node starts at ``line``:``column`` (1-based,
    as yamldoc marks them) replaced by ``new``; everything else byte for byte.

    With ``empty`` the node is an empty value instead: an empty flow list (``[]``,
    replaced) or nothing at all (``challenger:``, where ``new`` is inserted).
    """
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    if not 1 <= line <= len(starts):
        raise EditError(f"line {line} is outside the file")
    offset = starts[line - 1] + column - 1
    properties = _PROPERTIES.match(text, offset)
    start = properties.end() if properties else offset
    token = (_EMPTY_LIST if empty and text.startswith("[", start) else _PLAIN).match(text, start)
    if token is None and empty:
        # An empty scalar has no text: its mark is where it would start.
        gap = "" if start > 0 and text[start - 1] in " \t" else " "
        return text[:start] + gap + new + text[start:]
    if token is None:
        raise EditError(f"no plain value at line {line}, column {column}")
    return text[:start] + new + text[token.end() :]


def edit_version(data: bytes, path: yamldoc.PathKey, version: int) -> bytes:
    """The manifest ``data`` with the value at ``path`` set to ``version``, edited in
    place in its text (comments, quoting, order and layout kept). An empty target
    is filled: ``null`` (or nothing) becomes the version, ``[]`` a list of it.

    The result is parsed again and must differ from the original in that one
    value only (a value written through a YAML alias cannot be edited alone).
    """
    bom, text = _decode(data)
    doc = _parse(text)
    mark = doc.marks.get(yamldoc.normalize(path))
    if mark is None:
        raise EditError(f"no value at {dotted(path)}")
    expected = copy.deepcopy(doc.data)
    parent: Any = expected
    for key in path[:-1]:
        parent = parent[key]
    current = parent[path[-1]]
    value: int | list[int] = [version] if current == [] else version
    empty = current is None or current == []
    edited = replace_scalar(text, mark[0], mark[1], json.dumps(value), empty=empty)
    parent[path[-1]] = value
    if _parse(edited).data != expected:
        raise EditError(
            f"{dotted(path)} (line {mark[0]}) cannot be changed alone in the text "
            "(is it written through a YAML anchor and alias?)"
        )
    return bom + edited.encode("utf-8")


def dotted(path: yamldoc.PathKey) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
