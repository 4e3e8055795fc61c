"""The JSON Schemas documents are checked against.

Manifests: ``registry_ops/schemas/manifest.schema.json`` (package data).
Policies: composed from the registered gate kinds when loading
(:func:`registry_ops.gates.schema.policy_schema`), so a kind registered at
runtime validates like a shipped one; the shipped policy schema file is the
same composition.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators

from registry_ops.gates import GateKind, kinds
from registry_ops.gates.schema import policy_schema

# JSON Schema counts 1.0 as an integer; a version number or a count written
# as 1.0 is a mistake here (and would crash slicing), so integers are ints.
_Validator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    ),
)


def validator(kind: str) -> Any:
    """The compiled validator for ``manifest`` or ``policy``."""
    if kind == "policy":
        return _policy_validator(kinds())
    return _packaged(kind)


@cache
def _packaged(kind: str) -> Any:
    text = resources.files("registry_ops.schemas").joinpath(f"{kind}.schema.json").read_text()
    return _Validator(json.loads(text))


@lru_cache(maxsize=4)
def _policy_validator(gate_kinds: tuple[type[GateKind], ...]) -> Any:
    # Keyed by the kinds: registering or forgetting one gives a new schema.
    return _Validator(policy_schema(gate_kinds))


def errors(kind: str, data: Any) -> Iterator[ValidationError]:
    """Schema errors of one document, in a stable order (by path, then message)."""
    found = validator(kind).iter_errors(data)
    yield from sorted(found, key=lambda e: (list(map(str, e.absolute_path)), str(e.message)))
