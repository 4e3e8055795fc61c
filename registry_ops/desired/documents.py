"""Reading one manifest or policy file into a located document, with its problems.

A file is read (size cap, UTF-8), parsed with line marks (safe YAML, limits,
duplicate keys), checked against its schema and, for a policy, by its gate
kinds. Every problem is recorded with its position and JSON path, so one run
reports all of a file's problems at once.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from jsonschema import ValidationError

from registry_ops.desired.files import ReadError, read_text
from registry_ops.desired.messages import describe, json_path, show
from registry_ops.desired.policies import check_policy
from registry_ops.desired.problems import Collector, Found
from registry_ops.desired.schemas import errors
from registry_ops.desired.yamldoc import (
    PathKey,
    Scalar,
    YamlDoc,
    YamlSyntaxError,
    normalize,
    parse,
)


def read_document(path: Path, file: str, kind: str, out: Collector) -> tuple[YamlDoc | None, bool]:
    """Parse and schema-check one file: the document (None when it could not be
    parsed) and whether it is valid; problems are recorded in ``out``."""
    try:
        text = read_text(path)
    except ReadError as exc:
        where = (exc.line, exc.column) if exc.line is not None else None
        out.add(file, where, "$", str(exc))  # type: ignore[arg-type]
        return None, False
    except OSError as exc:
        out.add(file, None, "$", f"cannot read file: {exc.strerror or exc}")
        return None, False
    try:
        doc = parse(text)
    except YamlSyntaxError as exc:
        where = (exc.line, exc.column) if exc.line is not None else None
        out.add(file, where, "$", str(exc))  # type: ignore[arg-type]
        return None, False
    if doc.data is None:
        written = doc.scalars.get(())
        if written and written.source:  # a document that is just ``~`` or ``null``
            out.add(file, doc.marks[()], "$", f"expected a {kind} (a mapping), got null")
        else:
            out.add(file, None, "$", f"empty file: expected a {kind} document")
        return doc, False
    before = len(out.problems)
    found: list[Found] = [
        (where, json_path((*key_path[:-1], scalar.source)), _odd_key_message(scalar))
        for key_path, scalar, where in doc.odd_keys
    ]
    found += [
        (where, json_path(key_path), f"key '{key_path[-1]}' is given twice")
        for key_path, where in doc.duplicate_keys
    ]
    if kind == "manifest":
        _dates_as_text(doc.data)
    for error in errors(kind, doc.data):
        error_path, where = _locate(error, doc)
        if _under_odd_key(normalize(error_path), doc):
            continue  # already reported as a key that is not a string
        found.append((where, json_path(error_path), _message(error, error_path, doc)))
    if kind == "policy":
        found += check_policy(doc)
    for where, json_at, message in sorted(found, key=lambda f: f[0] or (0, 0)):
        out.add(file, where, json_at, message)
    return doc, len(out.problems) == before


def _dates_as_text(data: Any) -> None:
    """``expires: 2026-12-31`` is a YAML date; the schema checks it as YYYY-MM-DD text."""
    overrides = data.get("overrides") if isinstance(data, dict) else None
    for value in overrides.values() if isinstance(overrides, dict) else ():
        if isinstance(value, dict) and isinstance(value.get("expires"), date):
            value["expires"] = value["expires"].isoformat()[:10]


def _under_odd_key(path: PathKey, doc: YamlDoc) -> bool:
    # Compared as text: the data may hold the key 2024 where the walk recorded '2024'.
    odd = {tuple(map(str, key_path)) for key_path, _, _ in doc.odd_keys}
    text = tuple(map(str, path))
    return any(text[:n] in odd for n in range(1, len(text) + 1))


def _quoted(text: str) -> str:
    # JSON's double-quoted strings are valid YAML double-quoted scalars.
    return json.dumps(text, ensure_ascii=False)


def _odd_key_message(scalar: Scalar) -> str:
    written = scalar.source or "an empty key"
    return (
        f"key {written} is not a string: YAML 1.1 reads it as {scalar.kind}. "
        f"Keys must be strings; quote it: {_quoted(scalar.source)}: ..."
    )


def _message(error: ValidationError, path: tuple[Any, ...], doc: YamlDoc) -> str:
    """describe(), plus the source text and a quoting hint where a string was expected."""
    types = error.validator_value if error.validator == "type" else None
    wants_string = types == "string" or (isinstance(types, list) and "string" in types)
    scalar = doc.scalars.get(normalize(path)) if wants_string else None
    if scalar is None:
        return describe(error)
    key = path[-1] if path and isinstance(path[-1], str) else None
    hint = f"{key}: " if key is not None else "- "
    quoted = _quoted(scalar.source)
    if scalar.tag.endswith(":null") and not scalar.source:
        return f'expected a string, got no value (null); write {hint}"" for an empty string'
    became = show(error.instance)
    reading = (
        (scalar.kind if became == "null" else f"{scalar.kind} {became}")
        if became == scalar.source
        else f"{scalar.kind} (YAML 1.1 reads {scalar.source} as {became})"
    )
    return f"expected a string, got {reading}; quote it to keep the text: {hint}{quoted}"


def _locate(error: ValidationError, doc: YamlDoc) -> tuple[tuple[Any, ...], tuple[int, int] | None]:
    """The JSON path and source position an error is about."""
    path = tuple(error.absolute_path)
    if "propertyNames" in error.absolute_schema_path:
        # jsonschema reports a bad key at its parent object; point at the key itself.
        # (str: a key 2024 is a key, not a sequence index.)
        key_path = (*normalize(path), str(error.instance))
        return key_path, doc.key_marks.get(key_path) or doc.mark(path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema: Any = error.schema
        allowed = set(schema.get("properties", {}))
        extras = [k for k in error.instance if k not in allowed]
        if extras:
            key_path = (*normalize(path), str(extras[0]))
            return key_path, doc.key_marks.get(key_path) or doc.mark(path)
    return path, doc.mark(path)
