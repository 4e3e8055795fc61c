"""The outcome of one gate for one promotion, and the JSON-safe form of what it read."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class GateResult:
    """The outcome of one gate for one promotion, with what it read."""

    name: str
    passed: bool
    detail: str
    policy: str | None = None
    observed: float | None = None  # the candidate's value
    threshold: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    holder: float | None = None  # the current holder's value, for relative gates
    delta: float | None = None  # candidate minus holder

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (non-finite numbers become strings: JSON has none)."""
        return {
            "name": self.name,
            "passed": self.passed,
            "detail": self.detail,
            "policy": self.policy,
            "observed": _finite(self.observed),
            "threshold": _finite(self.threshold),
            "holder": _finite(self.holder),
            "delta": _finite(self.delta),
            "evidence": jsonable(self.evidence),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=data["name"],
            passed=data["passed"],
            detail=data.get("detail", ""),
            policy=data.get("policy"),
            observed=data.get("observed"),
            threshold=data.get("threshold"),
            evidence=data.get("evidence", {}),
            holder=data.get("holder"),
            delta=data.get("delta"),
        )


def _finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def jsonable(value: Any) -> Any:
    """``value`` with NaN and infinities spelled as strings, so it survives strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
