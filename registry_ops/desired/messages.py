"""Turn jsonschema errors into messages that say what was expected.

jsonschema's own messages repeat the whole offending instance and speak in
schema terms; users need "expected an integer, got 'three'".
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from jsonschema import ValidationError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def json_path(path: Iterable[Any]) -> str:
    """``("gates", 0, "min")`` -> ``$.gates[0].min``; overlong keys are shortened."""
    out = "$"
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif _IDENT.match(str(part)) and len(str(part)) <= _MAX_SHOWN:
            out += f".{part}"
        else:
            out += f"[{_short(str(part))!r}]"
    return out


# Keys and values come from the input: a 100 kB key must not become a 100 kB message.
_MAX_SHOWN = 60


def _short(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def suggest(word: str, choices: Sequence[str]) -> str | None:
    """The choice ``word`` was probably meant to be: same letters in another case
    first (``production`` for ``Production``), else the closest spelling."""
    by_lower = {c.lower(): c for c in choices}
    if word.lower() in by_lower:
        return by_lower[word.lower()]
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def _did_you_mean(word: Any, choices: Sequence[str]) -> str:
    hint = suggest(str(word), choices) if isinstance(word, str) else None
    return f"; did you mean '{hint}'?" if hint and hint != word else ""


def show(value: Any) -> str:
    """A short rendering of an offending value."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    text = repr(value) if isinstance(value, str) else str(value).lower()
    return _short(text)


def _kind(value: Any) -> str:
    """What was found, in words: 'a boolean', 'a list', 'a date'."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, set | frozenset):
        return "a set"
    for name, types in (
        ("boolean", bool),
        ("integer", int),
        ("number", float),
        ("string", str),
        ("object", dict),
        ("array", list),
    ):
        if isinstance(value, types):
            return _TYPE_NAMES[name]
    return "null" if value is None else type(value).__name__


def _expected_types(types: str | list[str]) -> str:
    names = [_TYPE_NAMES.get(t, t) for t in ([types] if isinstance(types, str) else types)]
    return " or ".join(names)


def describe(error: ValidationError) -> str:
    """One line: what was expected, and what was found."""
    v, inst = error.validator, error.instance
    value: Any = error.validator_value
    schema: Any = error.schema
    if "propertyNames" in error.absolute_schema_path:
        return _describe_key(error)
    if v == "type":
        found = _kind(inst)
        if not isinstance(inst, dict | list | set | frozenset) and inst is not None:
            found += f" {show(inst)}"
        if value == ["integer", "null"]:  # an alias's version: null leaves it owned and empty
            return f"expected a version number, or null for an empty alias; got {found}"
        return f"expected {_expected_types(value)}, got {found}"
    if v == "required":
        missing = [k for k in value if isinstance(inst, dict) and k not in inst]
        return f"missing required key '{missing[0] if missing else value[0]}'"
    if v == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extras = [k for k in inst if k not in allowed] if isinstance(inst, dict) else []
        extra = extras[0] if extras else "?"
        return (
            f"unknown key '{_short(str(extra))}' (expected one of: {', '.join(allowed)})"
            + _did_you_mean(extra, allowed)
        )
    if v == "const":
        return f"expected {value!r}, got {show(inst)}"
    if v == "enum":
        return f"expected one of {', '.join(map(str, value))}; got {show(inst)}" + _did_you_mean(
            inst, [str(x) for x in value]
        )
    if v in ("minimum", "exclusiveMinimum"):
        op = ">=" if v == "minimum" else ">"
        return f"expected a number {op} {value}, got {show(inst)}"
    if v == "minItems" and list(error.absolute_path) == ["gates"]:
        return "a policy needs at least one gate: an empty list would let every candidate through"
    if v in ("minLength", "minItems", "minProperties"):
        return f"must not be empty (got {show(inst)})"
    if v in ("maxLength",):
        return f"too long: at most {value} characters"
    if v == "uniqueItems":
        return "list items must be unique"
    if v == "pattern":
        return f"{show(inst)} does not match the pattern {value}"
    if v == "anyOf" and isinstance(inst, dict):
        options = [r for s in value for r in s.get("required", [])]
        if set(options) == {"min", "max", "baseline"}:
            return "a metric gate needs 'min' or 'max', or 'baseline: current' (relative)"
        return f"expected a mapping with one of the keys: {', '.join(options)}"
    if v == "anyOf" and isinstance(inst, list):
        shape = [e for e in error.context or () if e.validator in ("uniqueItems", "minItems")]
        if shape:
            return describe(shape[0])
    if v == "anyOf":
        return (
            "expected a version number or a list of version numbers ([] for an empty stage), "
            f"got {show(inst)}"
        )
    # jsonschema's own wording repeats the whole instance; keep it to one short line.
    return error.message if len(error.message) <= 200 else error.message[:197] + "..."


def _describe_key(error: ValidationError) -> str:
    key, v = error.instance, error.validator
    value: Any = error.validator_value
    if v == "enum":
        return f"unknown key '{_short(str(key))}' (expected one of: {', '.join(value)})" + (
            _did_you_mean(key, value)
        )
    if v == "not" and str(key).lower().startswith(("latest", "v")):
        return (
            f"alias '{_short(str(key))}' is reserved by MLflow "
            "('latest' and 'v<number>' are not allowed)"
        )
    if v == "not":
        return f"key '{_short(str(key))}' is reserved for registry-ops' own provenance tags"
    if v == "pattern":
        return (
            f"invalid name '{_short(str(key))}': aliases may contain only letters, digits, "
            "'_' and '-'"
        )
    if v == "type":
        return f"key {show(key)} must be a string"
    return f"invalid key '{_short(str(key))}': {_short(error.message)}"
