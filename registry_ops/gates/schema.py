"""The policy schema, composed from the registered gate kinds.

The loader validates policies against :func:`policy_schema` built at load
time, so a kind registered at runtime is accepted like a shipped one. The
file ``registry_ops/schemas/policy.schema.json`` (package data: editors find
it through ``$schema``, ``init`` copies it into team repositories) is the
same composition over the kinds shipped in this package; a test fails when
it is out of date. Regenerate it after changing a kind's schema::

    python -m registry_ops.gates.schema            # rewrite the shipped file
    python -m registry_ops.gates.schema --check    # exit 1 when it is out of date
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from registry_ops.gates import GateKind, kinds

SHIPPED = "policy.schema.json"


def yaml_string(what: str) -> str:
    """A value's description, plus the rule that it must be written as a YAML string."""
    return (
        f"{what} Must be a YAML string: YAML 1.1 reads bare NO, yes, ~, 0755, 1:30, 1.10 and "
        "2024-01-01 as a boolean, null, a number or a date, so a bare value like these is an "
        'error; quote it (tier: "1.10").'
    )


def _document() -> dict[str, Any]:
    """The policy document around its gates."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:registry-ops:schema:policy:v1",
        "title": "registry-ops GatePolicy",
        "description": "A named list of gates a model version must pass to take a target.",
        "type": "object",
        "required": ["apiVersion", "kind", "name", "gates"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "registry-ops/v1"},
            "kind": {"const": "GatePolicy"},
            "name": {
                "type": "string",
                "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                "description": yaml_string("Policy name, as manifests' gates refer to it."),
            },
            "description": {
                "type": "string",
                "description": yaml_string("What the policy is for."),
            },
            "gates": {
                "type": "array",
                "items": {"$ref": "#/$defs/gate"},
                "description": (
                    "The gates, all of which a version must pass. At least one: an empty list "
                    "would let every candidate through."
                ),
                "minItems": 1,
            },
            "allow_rollback": {
                "type": "boolean",
                "description": (
                    "A version that held the target before may return to it without re-running "
                    "the gates (a rollback). Default false."
                ),
            },
        },
    }


def def_name(kind: type[GateKind]) -> str:
    """Where a kind's schema stands under ``$defs``: ``max_age_days`` -> ``maxAgeDaysGate``."""
    head, *rest = kind.key.split("_")
    return head + "".join(word.capitalize() for word in rest) + "Gate"


def policy_schema(gate_kinds: Iterable[type[GateKind]] | None = None) -> dict[str, Any]:
    """The JSON Schema of a policy whose gates are of ``gate_kinds`` (default: all registered).

    A gate is a mapping holding one kind's key; the first kind (in order) whose
    key it holds decides which schema it is checked against, so a mapping that
    names two kinds is told the second key is unexpected.

    Raises:
        ValueError: two kinds define the same ``$defs`` name differently.
    """
    chosen = list(kinds() if gate_kinds is None else gate_kinds)
    defs: dict[str, Any] = {}
    for kind in chosen:
        for name, definition in [*kind.defs.items(), (def_name(kind), kind.schema)]:
            if defs.setdefault(name, definition) != definition:
                raise ValueError(f"gate kind '{kind.key}' redefines $defs/{name}")
    dispatch: dict[str, Any] = {}
    for kind in reversed(chosen):
        step: dict[str, Any] = {
            "if": {"type": "object", "required": [kind.key]},
            "then": {"$ref": f"#/$defs/{def_name(kind)}"},
        }
        if dispatch:
            step["else"] = dispatch
        dispatch = step
    gate = {"type": "object", "anyOf": [{"required": [k.key]} for k in chosen], **dispatch}
    return {**_document(), "$defs": {"gate": gate, **defs}}


def shipped_kinds() -> list[type[GateKind]]:
    """The kinds defined in this package (not those registered at runtime elsewhere)."""
    return [k for k in kinds() if re.match(r"registry_ops\.gates\.\w+$", k.__module__)]


def shipped_text() -> str:
    """The text ``registry_ops/schemas/policy.schema.json`` must have."""
    return json.dumps(policy_schema(shipped_kinds()), indent=2, ensure_ascii=False) + "\n"


def shipped_path() -> Path:
    """The shipped schema file of this (source) installation."""
    return Path(str(resources.files("registry_ops.schemas").joinpath(SHIPPED)))


def main(argv: list[str]) -> int:
    """Rewrite the shipped schema, or with ``--check`` say whether it is up to date."""
    path = shipped_path()
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if current == shipped_text():
        print(f"{path} is up to date")
        return 0
    if "--check" in argv:
        print(f"{path} is out of date: run python -m registry_ops.gates.schema", file=sys.stderr)
        return 1
    path.write_text(shipped_text(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
