"""Turn jsonschema errors into messages that say what was expected.

jsonschema's own messages repeat the whole offending instance and speak in
schema terms; users need "expected an integer, got 'three'".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from jsonschema import ValidationError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# Spec'd gate features this version does not evaluate yet: say so plainly
# instead of calling them unknown keys.
RELATIVE_KEYS = ("baseline", "min_absolute_change", "min_relative_change", "greater_is_better")
PLANNED_GATES = ("signature", "loadable", "evaluate", "requires_previous")
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
    """``("gates", 0, "min")`` -> ``$.gates[0].min``."""
    out = "$"
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif _IDENT.match(str(part)):
            out += f".{part}"
        else:
            out += f"[{str(part)!r}]"
    return out


def show(value: Any) -> str:
    """A short rendering of an offending value."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    text = repr(value) if isinstance(value, str) else str(value).lower()
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
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
        return f"expected {_expected_types(value)}, got {_kind(inst)} {show(inst)}".rstrip()
    if v == "required":
        missing = [k for k in value if isinstance(inst, dict) and k not in inst]
        return f"missing required key '{missing[0] if missing else value[0]}'"
    if v == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extras = [k for k in inst if k not in allowed] if isinstance(inst, dict) else []
        if extras and extras[0] in RELATIVE_KEYS:
            return (
                f"'{extras[0]}': gates relative to the current holder are not supported by "
                "this version of registry-ops (supported: absolute min/max)"
            )
        return (
            f"unknown key '{extras[0] if extras else '?'}' (expected one of: {', '.join(allowed)})"
        )
    if v == "const":
        return f"expected {value!r}, got {show(inst)}"
    if v == "enum":
        return f"expected one of {', '.join(map(str, value))}; got {show(inst)}"
    if v in ("minimum", "exclusiveMinimum"):
        op = ">=" if v == "minimum" else ">"
        return f"expected a number {op} {value}, got {show(inst)}"
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
        if set(options) == {"min", "max"}:
            return "a metric gate needs 'min' or 'max'"
        planned = [k for k in inst if k in PLANNED_GATES]
        if planned:
            return (
                f"gate kind '{planned[0]}' is not supported by this version of registry-ops "
                f"(supported: {', '.join(options)})"
            )
        return f"expected a mapping with one of the keys: {', '.join(options)}"
    if v == "anyOf" and isinstance(inst, list):
        shape = [e for e in error.context or () if e.validator in ("uniqueItems", "minItems")]
        if shape:
            return describe(shape[0])
    if v == "anyOf":
        return f"expected a version number or a list of version numbers, got {show(inst)}"
    return error.message


def _describe_key(error: ValidationError) -> str:
    key, v = error.instance, error.validator
    value: Any = error.validator_value
    if v == "enum":
        return f"unknown key '{key}' (expected one of: {', '.join(value)})"
    if v == "not" and str(key).lower().startswith(("latest", "v")):
        return f"alias '{key}' is reserved by MLflow ('latest' and 'v<number>' are not allowed)"
    if v == "not":
        return f"key '{key}' is reserved for registry-ops' own provenance tags"
    if v == "pattern":
        return f"invalid name '{key}': aliases may contain only letters, digits, '_' and '-'"
    if v == "type":
        return f"key {show(key)} must be a string"
    return f"invalid key '{key}': {error.message}"
