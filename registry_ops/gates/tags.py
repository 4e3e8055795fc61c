"""Required-tags gate: the version carries these tags with these values."""

from __future__ import annotations

from registry_ops.core.gate_result import GateResult
from registry_ops.core.model import GateSpec
from registry_ops.gates import Candidate, register


@register("tags")
class TagsGate:
    """``{tags: {key: value}}``: every key present on the version with exactly that value."""

    needs_metrics = False

    def __init__(self, spec: GateSpec) -> None:
        self.tags: dict[str, str] = spec.params["tags"]
        self.name = "tags " + ", ".join(f"{k}={v}" for k, v in sorted(self.tags.items()))

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
