"""Absolute metric gate: a metric of the version's source run within [min, max]."""

from __future__ import annotations

import math

from registry_ops.gates import Candidate, fmt, register
from registry_ops.model import GateSpec
from registry_ops.plan import GateResult


@register("metric")
class MetricGate:
    """``{metric: NAME, min: X, max: Y}``: min and max are inclusive bounds."""

    needs_metrics = True

    def __init__(self, spec: GateSpec) -> None:
        self.metric: str = spec.params["metric"]
        self.min: float | None = spec.params.get("min")
        self.max: float | None = spec.params.get("max")
        bounds = []
        if self.min is not None:
            bounds.append(f">= {fmt(self.min)}")
        if self.max is not None:
            bounds.append(f"<= {fmt(self.max)}")
        self.name = f"{self.metric} {' and '.join(bounds)}"

    def evaluate(self, candidate: Candidate) -> GateResult:
        """Pass when the candidate's metric lies within the bounds."""
        threshold = self.min if self.min is not None else self.max
        if candidate.metrics is None:
            return GateResult(
                self.name,
                False,
                f"version {candidate.version.version} has no source run, "
                f"so metric '{self.metric}' is unknown",
                threshold=threshold,
            )
        value = candidate.metrics.get(self.metric)
        if value is None:
            return GateResult(
                self.name,
                False,
                f"metric '{self.metric}' is missing from run {candidate.version.run_id}",
                threshold=threshold,
            )
        if math.isnan(value):
            return GateResult(self.name, False, f"{self.metric} is NaN", threshold=threshold)
        if self.min is not None and value < self.min:
            return GateResult(
                self.name,
                False,
                f"{self.metric} = {fmt(value)}, below the minimum {fmt(self.min)}",
                observed=value,
                threshold=self.min,
            )
        if self.max is not None and value > self.max:
            return GateResult(
                self.name,
                False,
                f"{self.metric} = {fmt(value)}, above the maximum {fmt(self.max)}",
                observed=value,
                threshold=self.max,
            )
        return GateResult(
            self.name, True, f"{self.metric} = {fmt(value)}", observed=value, threshold=threshold
        )
