"""Ordered promotion: a version takes this target only after it held another one."""

from __future__ import annotations

from registry_ops.core.gate_result import GateResult
from registry_ops.core.model import STAGES, GateSpec
from registry_ops.core.provenance import held_since
from registry_ops.gates import Candidate, GateKind, register


@register
class RequiresPreviousGate(GateKind):
    """``{requires_previous: challenger}``: the version holds, or has held, that target."""

    key = "requires_previous"
    order = 70
    schema = {
        "description": (
            "Ordered promotion: the version holds, or has held, this target first (the "
            "registry's provenance tells)."
        ),
        "type": "object",
        "required": ["requires_previous"],
        "additionalProperties": False,
        "properties": {"requires_previous": {"type": "string", "minLength": 1}},
    }

    def __init__(self, spec: GateSpec) -> None:
        self.previous: str = spec.params["requires_previous"]
        self.name = f"held {self.previous} first"

    def evaluate(self, candidate: Candidate) -> GateResult:
        """Now (from the registry) or before (from the version's provenance record)."""
        number = candidate.version.version
        kind = "stage" if self.previous in STAGES else "alias"
        key = f"{kind}:{self.previous}"
        model = candidate.observed
        if model is not None and number in model.holders(key):
            return GateResult(self.name, True, f"v{number} holds {self.previous} now")
        since = held_since(candidate.version, key)
        if since:
            return GateResult(
                self.name,
                True,
                f"v{number} held {self.previous} from {since[:19]}",
                evidence={"held": {key: since}},
            )
        return GateResult(
            self.name,
            False,
            f"v{number} has never held {self.previous}: promote it there first",
        )
