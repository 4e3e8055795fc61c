"""Required-tags gate: the version carries these tags with these values."""

from __future__ import annotations

from typing import Any

from registry_ops.core.gate_result import GateResult
from registry_ops.core.model import GateSpec
from registry_ops.gates import Candidate, GateKind, register


@register
class TagsGate(GateKind):
    """``{tags: {key: value}}``: every key present on the version with exactly that value."""

    key = "tags"
    order = 20
    schema = {
        "description": (
            "Tags the version must carry, with these exact values. Keys and values are "
            "strings: a bare number, boolean, null or date (which YAML 1.1 rewrites: NO -> "
            'false, 1.10 -> 1.1) is an error; quote it, e.g. validation_status: "yes".'
        ),
        "type": "object",
        "required": ["tags"],
        "additionalProperties": False,
        "properties": {
            "tags": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {"type": "string"},
                "propertyNames": {"type": "string", "minLength": 1},
            },
        },
    }

    def __init__(self, spec: GateSpec) -> None:
        self.tags: dict[str, str] = spec.params["tags"]
        self.name = "tags " + ", ".join(f"{k}={v}" for k, v in sorted(self.tags.items()))

    @classmethod
    def params(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """Tags as MLflow stores them; the schema has already made sure they are strings."""
        return {**raw, "tags": {str(k): str(v) for k, v in raw["tags"].items()}}

    def evaluate(self, candidate: Candidate) -> GateResult:
        """Fail naming every tag that is missing or has another value."""
        have = candidate.version.tags
        wrong = []
        for key, value in sorted(self.tags.items()):
            if key not in have:
                wrong.append(f"{key} is missing")
            elif have[key] != value:
                wrong.append(f"{key} is {have[key]!r}, not {value!r}")
        if wrong:
            return GateResult(self.name, False, "; ".join(wrong))
        return GateResult(self.name, True, "all required tags present")
