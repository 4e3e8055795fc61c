"""Metric gates on the version's source run: absolute bounds, or relative to the holder."""

from __future__ import annotations

import math

from registry_ops.core.gate_result import GateResult
from registry_ops.core.model import GateSpec
from registry_ops.gates import Candidate, Gate, GateKind, fmt, register
from registry_ops.gates.relative import RelativeThreshold, check_relative
from registry_ops.gates.schema import yaml_string


@register
class MetricGate(GateKind):
    """``{metric: NAME, min: X, max: Y}``: min and max are inclusive bounds; with
    ``baseline: current`` the gate is a :class:`RelativeMetricGate`."""

    key = "metric"
    order = 10
    schema = {
        "description": (
            "A metric of the version's source run: absolute bounds (min, max), or relative to "
            "the version that holds the target now (baseline: current) with "
            "mlflow.models.MetricThreshold's meaning: min_absolute_change, min_relative_change "
            "(a fraction), greater_is_better (default true). 0 means 'no worse than the "
            "holder'. A first promotion (no holder) passes the relative part and says so. "
            "Thresholds are finite numbers (.nan and .inf are refused) and min may not exceed "
            "max."
        ),
        "type": "object",
        "required": ["metric"],
        "additionalProperties": False,
        "anyOf": [{"required": ["min"]}, {"required": ["max"]}, {"required": ["baseline"]}],
        "properties": {
            "metric": {
                "type": "string",
                "minLength": 1,
                "description": yaml_string("Metric name, as logged to the run."),
            },
            "min": {
                "type": "number",
                "description": "The metric must be >= min (a finite number).",
            },
            "max": {
                "type": "number",
                "description": "The metric must be <= max (a finite number).",
            },
            "baseline": {
                "const": "current",
                "description": "Compare with the version that holds the target now.",
            },
            "min_absolute_change": {
                "type": "number",
                "minimum": 0,
                "description": (
                    "Candidate >= holder + this (greater is better), or <= holder - this."
                ),
            },
            "min_relative_change": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": (
                    "Candidate better than the holder by at least this fraction of the "
                    "holder's value."
                ),
            },
            "greater_is_better": {"type": "boolean", "description": "Default true."},
        },
        "dependentRequired": {
            "min_absolute_change": ["baseline"],
            "min_relative_change": ["baseline"],
            "greater_is_better": ["baseline"],
        },
    }
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

    @classmethod
    def create(cls, spec: GateSpec) -> Gate:
        """A relative gate for ``baseline: current``, else bounds on the candidate's metric."""
        if spec.params.get("baseline") == "current":
            return RelativeMetricGate(spec)
        return cls(spec)

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


def relative_rule(params: dict[str, object]) -> RelativeThreshold:
    """The thresholds of a relative gate; ``baseline`` alone means "no worse than the holder"."""
    greater = bool(params.get("greater_is_better", True))
    absolute = params.get("min_absolute_change")
    relative = params.get("min_relative_change")
    bound = params.get("min") if greater else params.get("max")
    if absolute is None and relative is None:
        absolute = 0.0
    return RelativeThreshold(
        greater_is_better=greater,
        min_absolute_change=float(absolute) if isinstance(absolute, int | float) else None,
        min_relative_change=float(relative) if isinstance(relative, int | float) else None,
        threshold=float(bound) if isinstance(bound, int | float) else None,
    )


def relative_result(
    name: str,
    metric: str,
    candidate: Candidate,
    rule: RelativeThreshold,
    mine: dict[str, float] | None,
    theirs: dict[str, float] | None,
) -> GateResult:
    """One relative check as a gate result with the numbers a reviewer needs."""
    holder = candidate.holder
    outcome = check_relative(
        metric,
        rule,
        mine,
        theirs,
        has_holder=holder is not None,
        candidate_label=f"v{candidate.version.version}",
        holder_label=f"v{holder.version} (current holder)" if holder else "the current holder",
    )
    evidence: dict[str, object] = {"first_promotion": outcome.first_promotion}
    if holder is not None:
        evidence["holder_version"] = holder.version
        evidence["holder_run_id"] = holder.run_id
    return GateResult(
        name,
        outcome.passed,
        outcome.detail,
        observed=outcome.candidate,
        threshold=outcome.required,
        holder=outcome.holder,
        delta=outcome.absolute_change,
        evidence=evidence,
    )


class RelativeMetricGate:
    """``{metric, baseline: current, min_absolute_change, min_relative_change,
    greater_is_better}``: MLflow's MetricThreshold against the current holder."""

    needs_metrics = True

    def __init__(self, spec: GateSpec) -> None:
        self.metric: str = spec.params["metric"]
        self.rule = relative_rule(spec.params)
        self.name = self.rule.describe(self.metric)

    def evaluate(self, candidate: Candidate) -> GateResult:
        """Compare the candidate's metric with the holder's (a first promotion passes)."""
        return relative_result(
            self.name, self.metric, candidate, self.rule, candidate.metrics,
            candidate.holder_metrics,
        )  # fmt: skip
