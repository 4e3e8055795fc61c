"""Maximum-age gate: the version was registered at most N days ago."""

from __future__ import annotations

from registry_ops.core.gate_result import GateResult
from registry_ops.core.model import GateSpec
from registry_ops.gates import Candidate, GateKind, fmt, register

_DAY_MS = 86_400_000


@register
class AgeGate(GateKind):
    """``{max_age_days: N}``: stale versions are not promoted."""

    key = "max_age_days"
    order = 30
    schema = {
        "description": "The version must have been created at most this many days ago.",
        "type": "object",
        "required": ["max_age_days"],
        "additionalProperties": False,
        "properties": {
            "max_age_days": {
                "type": "number",
                "exclusiveMinimum": 0,
                "description": "At most this many days old (a finite number > 0).",
            },
        },
    }

    def __init__(self, spec: GateSpec) -> None:
        self.days: float = spec.params["max_age_days"]
        self.name = f"age <= {fmt(self.days)} days"

    def evaluate(self, candidate: Candidate) -> GateResult:
        """Compare the version's creation time with the plan's clock."""
        now_ms = candidate.now.timestamp() * 1000
        age = (now_ms - candidate.version.creation_timestamp) / _DAY_MS
        passed = age <= self.days
        detail = f"registered {age:.1f} days ago"
        if not passed:
            detail += f", older than {fmt(self.days)} days"
        return GateResult(self.name, passed, detail, observed=round(age, 3), threshold=self.days)
