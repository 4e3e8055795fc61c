"""Metric gates: absolute bounds, or relative to the holder.

The value is the version's logged-model metric, else its source run's
(:mod:`registry_ops.core.metrics`), for the dataset the gate names; every
result says where each value came from, in its detail and its evidence.
"""

from __future__ import annotations

import math
from typing import Any

from registry_ops.core.gate_result import GateResult
from registry_ops.core.metrics import Missing, Reading, VersionMetrics, label
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
            "A metric of the version: its logged model's (MLflow 3), else its source run's. "
            "With dataset, the value logged for that dataset (name or digest); without, a "
            "metric logged for several datasets fails and lists them. Absolute bounds (min, "
            "max), or relative to "
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
                "description": yaml_string(
                    "Metric name, as logged on the logged model or the run."
                ),
            },
            "dataset": {
                "type": "string",
                "minLength": 1,
                "description": yaml_string(
                    "Which dataset's value (its name or digest, as in "
                    "mlflow.log_metric(..., dataset=...)); required when the metric has "
                    "values for several datasets."
                ),
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
        self.dataset: str | None = spec.params.get("dataset")
        self.min: float | None = spec.params.get("min")
        self.max: float | None = spec.params.get("max")
        bounds = []
        if self.min is not None:
            bounds.append(f">= {fmt(self.min)}")
        if self.max is not None:
            bounds.append(f"<= {fmt(self.max)}")
        self.name = f"{label(self.metric, self.dataset)} {' and '.join(bounds)}"

    @classmethod
    def create(cls, spec: GateSpec) -> Gate:
        """A relative gate for ``baseline: current``, else bounds on the candidate's metric."""
        if spec.params.get("baseline") == "current":
            return RelativeMetricGate(spec)
        return cls(spec)

    def evaluate(self, candidate: Candidate) -> GateResult:
        """Pass when the candidate's metric lies within the bounds."""
        threshold = self.min if self.min is not None else self.max
        read = _read(candidate.metrics, candidate, self.metric, self.dataset)
        if isinstance(read, Missing):
            return GateResult(
                self.name, False, read.reason, threshold=threshold, evidence={"read": read.pin()}
            )
        value, name = read.value, self.metric
        evidence = {"read": read.to_dict()}
        where = f" ({read.describe()})"
        if math.isnan(value):
            return GateResult(
                self.name, False, f"{name} is NaN{where}", threshold=threshold, evidence=evidence
            )
        if self.min is not None and value < self.min:
            return GateResult(
                self.name,
                False,
                f"{name} = {fmt(value)}, below the minimum {fmt(self.min)}{where}",
                observed=value,
                threshold=self.min,
                evidence=evidence,
            )
        if self.max is not None and value > self.max:
            return GateResult(
                self.name,
                False,
                f"{name} = {fmt(value)}, above the maximum {fmt(self.max)}{where}",
                observed=value,
                threshold=self.max,
                evidence=evidence,
            )
        return GateResult(
            self.name,
            True,
            f"{name} = {fmt(value)}{where}",
            observed=value,
            threshold=threshold,
            evidence=evidence,
        )


def _read(
    metrics: VersionMetrics | None, candidate: Candidate, metric: str, dataset: str | None
) -> Reading | Missing:
    if metrics is None:  # the runner reads metrics for every gate that needs them
        return Missing(metric, f"the metrics of version {candidate.version.version} were not read")
    return metrics.read(metric, dataset)


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


def relative_read_result(
    name: str,
    metric: str,
    candidate: Candidate,
    rule: RelativeThreshold,
    dataset: str | None = None,
) -> GateResult:
    """A relative check on the versions' metric evidence: the numbers a reviewer needs,
    and where each came from."""
    holder = candidate.holder
    mine = _read(candidate.metrics, candidate, metric, dataset)
    theirs = (
        _read(candidate.holder_metrics, candidate, metric, dataset) if holder is not None else None
    )
    evidence: dict[str, Any] = {"first_promotion": holder is None}
    if holder is not None:
        evidence["holder_version"] = holder.version
        evidence["holder_run_id"] = holder.run_id
        if holder.model_id:
            evidence["holder_model_id"] = holder.model_id
    evidence["read"] = mine.pin() if isinstance(mine, Missing) else mine.to_dict()
    if theirs is not None:
        evidence["holder_read"] = theirs.pin() if isinstance(theirs, Missing) else theirs.to_dict()
    if isinstance(mine, Missing):
        return GateResult(name, False, mine.reason, evidence=evidence)
    if isinstance(theirs, Missing):
        assert holder is not None  # only a holder's read can be missing
        detail = (
            f"the current holder v{holder.version}: {theirs.reason}, "
            f"so the change in {metric} cannot be measured"
        )
        return GateResult(name, False, detail, observed=mine.value, evidence=evidence)
    outcome = check_relative(
        metric,
        rule,
        {metric: mine.value},
        {metric: theirs.value} if theirs is not None else None,
        has_holder=holder is not None,
        candidate_label=f"v{candidate.version.version}",
        holder_label=f"v{holder.version} (current holder)" if holder else "the current holder",
    )
    sources = f"v{candidate.version.version}: {mine.describe()}"
    if theirs is not None and holder is not None:
        sources += f"; v{holder.version}: {theirs.describe()}"
    return GateResult(
        name,
        outcome.passed,
        f"{outcome.detail} ({sources})",
        observed=outcome.candidate,
        threshold=outcome.required,
        holder=outcome.holder,
        delta=outcome.absolute_change,
        evidence=evidence,
    )


class RelativeMetricGate:
    """``{metric, baseline: current, min_absolute_change, min_relative_change,
    greater_is_better, dataset}``: MLflow's MetricThreshold against the current holder."""

    needs_metrics = True

    def __init__(self, spec: GateSpec) -> None:
        self.metric: str = spec.params["metric"]
        self.dataset: str | None = spec.params.get("dataset")
        self.rule = relative_rule(spec.params)
        self.name = self.rule.describe(label(self.metric, self.dataset))

    def evaluate(self, candidate: Candidate) -> GateResult:
        """Compare the candidate's metric with the holder's (a first promotion passes)."""
        return relative_read_result(self.name, self.metric, candidate, self.rule, self.dataset)
