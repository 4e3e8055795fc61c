"""Live evaluation: candidate and current holder scored on the same holdout rows.

``{evaluate: {dataset, targets, metrics: {name: {min|max|baseline...}},
latency_p95_ms, engine, task, batch_size, features}}`` gives one result per
metric threshold and one for latency. Scores come from the context's model
evidence (the MLflow adapter), which caches them per plan and on the version
as a tag keyed by the dataset's content hash, so re-planning does not re-score.
"""

from __future__ import annotations

from typing import Any

from registry_ops.core.gate_result import GateResult
from registry_ops.core.model import GateSpec
from registry_ops.gates import Candidate, fmt, register
from registry_ops.gates.metric import relative_result, relative_rule


@register("evaluate")
class EvaluateGate:
    """Thresholds on a live evaluation, absolute or relative to the holder."""

    needs_metrics = False

    def __init__(self, spec: GateSpec) -> None:
        self.spec: dict[str, Any] = dict(spec.params["evaluate"])
        self.dataset: str = self.spec["dataset"]
        self.name = f"evaluate on {self.dataset}"

    def _scores(self, candidate: Candidate, number: int) -> dict[str, Any]:
        models = candidate.context.models
        assert models is not None and candidate.observed is not None
        version = candidate.observed.versions[number]
        key = ("evaluate", candidate.model, number, repr(sorted(self.spec.items())))
        return candidate.context.once(  # type: ignore[no-any-return]
            key,
            lambda: models.evaluate(candidate.model, version, self.spec, candidate.context.root),
        )

    def evaluate(self, candidate: Candidate) -> list[GateResult]:
        """Score the candidate (and the holder when a threshold is relative), then judge."""
        if candidate.context.models is None or candidate.observed is None:
            return [GateResult(self.name, False, "model evaluation is not available here")]
        mine = self._scores(candidate, candidate.version.version)
        relative = any(
            isinstance(b, dict) and b.get("baseline") == "current"
            for b in self.spec.get("metrics", {}).values()
        )
        holder = candidate.holder
        theirs = self._scores(candidate, holder.version) if holder and relative else None
        evidence = {
            "dataset": self.dataset,
            "digest": mine.get("digest"),
            "rows": mine.get("rows"),
            "engine": mine.get("engine"),
            "cached": mine.get("cached", False),
        }
        results = []
        for metric, bounds in sorted(self.spec.get("metrics", {}).items()):
            label = f"{metric} on {self.dataset}"
            if bounds.get("baseline") == "current":
                rule = relative_rule(bounds)
                result = relative_result(
                    rule.describe(label), metric, candidate, rule, mine["metrics"],
                    theirs["metrics"] if theirs is not None else None,
                )  # fmt: skip
            else:
                result = _absolute(label, metric, bounds, mine["metrics"])
            result.evidence = {**evidence, **result.evidence}
            results.append(result)
        limit = self.spec.get("latency_p95_ms")
        if limit is not None:
            value = mine["metrics"].get("latency_p95_ms")
            name = f"latency p95 <= {fmt(limit)} ms on {self.dataset}"
            if value is None:
                passed, detail = False, f"the {mine.get('engine')} engine measures no latency"
            else:
                passed = value <= limit
                detail = f"p95 {fmt(value)} ms over {mine.get('batches', '?')} batches"
                detail += "" if passed else f", above {fmt(limit)} ms"
            results.append(
                GateResult(name, passed, detail, observed=value, threshold=limit, evidence=evidence)
            )
        return results


def _absolute(
    name: str, metric: str, bounds: dict[str, Any], scores: dict[str, float]
) -> GateResult:
    low, high = bounds.get("min"), bounds.get("max")
    shown = " and ".join(
        part for part in (f">= {fmt(low)}" if low is not None else "",
                          f"<= {fmt(high)}" if high is not None else "") if part
    )  # fmt: skip
    name = f"{name.split(' on ')[0]} {shown} on {name.split(' on ', 1)[1]}"
    value = scores.get(metric)
    threshold = low if low is not None else high
    if value is None or value != value:
        return GateResult(name, False, f"{metric} could not be computed", threshold=threshold)
    if low is not None and value < low:
        detail = f"{metric} = {fmt(value)}, below the minimum {fmt(low)}"
        return GateResult(name, False, detail, observed=value, threshold=low)
    if high is not None and value > high:
        detail = f"{metric} = {fmt(value)}, above the maximum {fmt(high)}"
        return GateResult(name, False, detail, observed=value, threshold=high)
    return GateResult(name, True, f"{metric} = {fmt(value)}", observed=value, threshold=threshold)
