"""Live evaluation: candidate and current holder scored on the same holdout rows.

``{evaluate: {dataset, targets, metrics: {name: {min|max|baseline...}},
latency_p95_ms, engine, task, batch_size, features, pos_label, timeout_seconds,
memory_mb, env_manager}}`` gives one result per metric threshold and one for
latency. Scores come from the context's model evidence (the MLflow adapter),
which scores each model in a sandboxed child process and caches the scores per
plan and on the version, as an authenticated tag keyed by the dataset's content
hash, so re-planning does not re-score.

A model that cannot be scored (it crashes, times out, runs out of memory,
answers garbage) fails this gate's results with the reason; a metric that alone
cannot be computed fails alone. Neither ends the plan.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from registry_ops.core.gate_result import GateResult
from registry_ops.core.model import GateSpec
from registry_ops.gates import Candidate, GateKind, ParamProblem, Written, fmt, register
from registry_ops.gates.metric import relative_result, relative_rule
from registry_ops.gates.params import check_bounds

# The metrics registry_ops.gates.evaluation computes (not imported: it brings pandas).
METRICS = ("accuracy", "f1", "precision", "recall", "roc_auc", "rmse", "mae", "r2")
#: Limits of the model child when the gate sets none: a big holdout on a slow model fits
#: in 15 minutes; 4 GiB of address space holds torch and a million-row frame.
TIMEOUT_SECONDS = 900.0
MEMORY_MB = 4096
#: The schema of the sandbox settings, shared with ``loadable``.
SANDBOX_PROPERTIES: dict[str, Any] = {
    "timeout_seconds": {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 86400,
        "description": "Wall-clock limit of the model process, in seconds; past it, it is killed "
        "and the gate fails.",
    },
    "memory_mb": {
        "type": "integer",
        "minimum": 64,
        "description": "Address-space limit of the model process (RLIMIT_AS), in MiB "
        "(default 4096); an allocation past it fails the gate.",
    },
    "env_manager": {
        "enum": ["local", "virtualenv", "uv"],
        "description": "The model's interpreter: local (the planning one), or an environment "
        "made once (and cached) from the requirements logged with the model, by python -m venv "
        "and pip (virtualenv) or by uv. Unset: REGISTRY_OPS_ENV_MANAGER where the plan runs, "
        "else local.",
    },
}
# A URI scheme of two or more characters: "C:\\data.csv" stays a path.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


@register
class EvaluateGate(GateKind):
    """Thresholds on a live evaluation, absolute or relative to the holder."""

    key = "evaluate"
    order = 60
    defs = {
        "evalThreshold": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "min": {"type": "number"},
                "max": {"type": "number"},
                "baseline": {"const": "current"},
                "min_absolute_change": {"type": "number", "minimum": 0},
                "min_relative_change": {"type": "number", "minimum": 0, "maximum": 1},
                "greater_is_better": {"type": "boolean"},
            },
        }
    }
    schema = {
        "description": (
            "Live evaluation on a holdout set: the candidate and the current holder are scored "
            "on the same rows, each in a sandboxed process of its own. Results are cached on "
            "each version as a tag keyed by the dataset's content hash."
        ),
        "type": "object",
        "required": ["evaluate"],
        "additionalProperties": False,
        "properties": {
            "evaluate": {
                "type": "object",
                "required": ["dataset", "targets"],
                "additionalProperties": False,
                "anyOf": [{"required": ["metrics"]}, {"required": ["latency_p95_ms"]}],
                "properties": {
                    "dataset": {
                        "type": "string",
                        "minLength": 1,
                        "description": (
                            "A CSV or Parquet file inside the repository (relative to the "
                            "root), or an MLflow artifact URI (runs:/, models:/, "
                            "mlflow-artifacts:/)."
                        ),
                    },
                    "targets": {
                        "type": "string",
                        "minLength": 1,
                        "description": (
                            "The label column; the other columns are the features unless "
                            "`features` lists them."
                        ),
                    },
                    "features": {
                        "type": "array",
                        "items": {"type": "string", "minLength": 1},
                        "minItems": 1,
                    },
                    "task": {"enum": ["classifier", "regressor"]},
                    "metrics": {
                        "type": "object",
                        "minProperties": 1,
                        "propertyNames": {"enum": list(METRICS)},
                        "additionalProperties": {"$ref": "#/$defs/evalThreshold"},
                    },
                    "latency_p95_ms": {
                        "type": "number",
                        "exclusiveMinimum": 0,
                        "description": (
                            "p95 of per-batch predict time over the holdout, in milliseconds, "
                            "at most this."
                        ),
                    },
                    "batch_size": {"type": "integer", "minimum": 1},
                    "pos_label": {
                        "type": ["string", "integer", "boolean"],
                        "description": (
                            "The positive class of f1, precision and recall with two classes. "
                            "Needed unless the labels are 0/1 or false/true."
                        ),
                    },
                    **SANDBOX_PROPERTIES,
                    "engine": {
                        "enum": ["in-process", "spark"],
                        "description": (
                            "in-process (default) or spark: mlflow.pyfunc.spark_udf on a Spark "
                            "session: the cluster whose master URL REGISTRY_OPS_SPARK_MASTER "
                            "names, else a local one (local[2])."
                        ),
                    },
                },
            },
        },
    }

    def __init__(self, spec: GateSpec) -> None:
        self.spec: dict[str, Any] = dict(spec.params["evaluate"])
        self.dataset: str = self.spec["dataset"]
        self.name = f"evaluate on {self.dataset}"

    @classmethod
    def check(cls, params: Mapping[Any, Any], written: Written) -> list[ParamProblem]:
        """Finite thresholds (latency and each metric's), and a holdout inside the repository."""
        spec = params.get("evaluate")
        if not isinstance(spec, dict):
            return []
        base = ("evaluate",)
        found = check_bounds(base, {"latency_p95_ms": spec.get("latency_p95_ms")}, written)
        metrics = spec.get("metrics")
        for name, bounds in metrics.items() if isinstance(metrics, dict) else ():
            if isinstance(bounds, dict):
                found += check_bounds((*base, "metrics", name), bounds, written)
        return found + _check_dataset(base, spec.get("dataset"))

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
        shown = ("cache_trust", "env_manager", "env_created_seconds", "sandbox")
        evidence |= {k: mine[k] for k in shown if k in mine}
        results = []
        for metric, bounds in sorted(self.spec.get("metrics", {}).items()):
            label = f"{metric} on {self.dataset}"
            if bounds.get("baseline") == "current":
                rule = relative_rule(bounds)
                name = rule.describe(label)
                why = _unscored(metric, f"v{candidate.version.version}", mine)
                if why is None and theirs is not None and holder is not None:
                    why = _unscored(metric, f"the current holder v{holder.version}", theirs)
                if why is not None:
                    result = GateResult(name, False, why)
                else:
                    result = relative_result(
                        name, metric, candidate, rule, mine["metrics"],
                        theirs["metrics"] if theirs is not None else None,
                    )  # fmt: skip
            else:
                result = _absolute(label, metric, bounds, mine)
            result.evidence = {**evidence, **result.evidence}
            results.append(result)
        limit = self.spec.get("latency_p95_ms")
        if limit is not None:
            results.append(self._latency(limit, mine, evidence))
        return results

    def _latency(self, limit: float, mine: dict[str, Any], evidence: dict[str, Any]) -> GateResult:
        value = mine.get("metrics", {}).get("latency_p95_ms")
        name = f"latency p95 <= {fmt(limit)} ms on {self.dataset}"
        if mine.get("error"):
            passed, detail = False, f"could not be scored: {mine['error']}"
        elif value is None:
            passed, detail = False, f"the {mine.get('engine')} engine measures no latency"
        else:
            passed = value <= limit
            detail = f"p95 {fmt(value)} ms over {mine.get('batches', '?')} batches"
            detail += "" if passed else f", above {fmt(limit)} ms"
        return GateResult(name, passed, detail, observed=value, threshold=limit, evidence=evidence)


def _unscored(metric: str, who: str, scores: dict[str, Any]) -> str | None:
    """Why ``who`` has no value of ``metric``: it could not be scored, or the metric alone."""
    if scores.get("error"):
        return f"{who} could not be scored: {scores['error']}"
    problem = (scores.get("problems") or {}).get(metric)
    if problem:
        return f"{metric} of {who}: {problem}"
    return None


def _absolute(name: str, metric: str, bounds: dict[str, Any], mine: dict[str, Any]) -> GateResult:
    low, high = bounds.get("min"), bounds.get("max")
    shown = " and ".join(
        part for part in (f">= {fmt(low)}" if low is not None else "",
                          f"<= {fmt(high)}" if high is not None else "") if part
    )  # fmt: skip
    name = f"{name.split(' on ')[0]} {shown} on {name.split(' on ', 1)[1]}"
    threshold = low if low is not None else high
    if mine.get("error"):
        return GateResult(name, False, f"could not be scored: {mine['error']}", threshold=threshold)
    problem = (mine.get("problems") or {}).get(metric)
    value = mine.get("metrics", {}).get(metric)
    if value is None or value != value:
        detail = problem or f"{metric} could not be computed"
        return GateResult(name, False, detail, threshold=threshold)
    if low is not None and value < low:
        detail = f"{metric} = {fmt(value)}, below the minimum {fmt(low)}"
        return GateResult(name, False, detail, observed=value, threshold=low)
    if high is not None and value > high:
        detail = f"{metric} = {fmt(value)}, above the maximum {fmt(high)}"
        return GateResult(name, False, detail, observed=value, threshold=high)
    return GateResult(name, True, f"{metric} = {fmt(value)}", observed=value, threshold=threshold)


#: Where a holdout may be fetched from besides the repository: MLflow's own artifact
#: URIs, read through the registry's tracking URI. Any other scheme (s3://, https://,
#: dbfs:/...) would let a policy in a pull request make CI fetch what it likes.
HOLDOUT_SCHEMES = ("runs", "models", "mlflow-artifacts")


def holdout_problem(dataset: str) -> str | None:
    """Why ``dataset`` cannot name a holdout (None when it can): a path leaving the
    repository, or a URI of a scheme other than :data:`HOLDOUT_SCHEMES` and ``file:``."""
    match = _URI.match(dataset)
    if match is None:
        if Path(dataset).is_absolute() or ".." in Path(dataset).parts:
            return (
                f"dataset {dataset!r} escapes the repository: give a path inside it "
                "(relative to the root) or an MLflow artifact URI"
            )
        return None
    scheme = match.group()[:-1].lower()
    if scheme == "file" or scheme in HOLDOUT_SCHEMES:
        return None  # file: URIs are paths, held inside the repository when read
    allowed = ", ".join(f"{s}:/" for s in HOLDOUT_SCHEMES)
    return (
        f"dataset {dataset!r}: {scheme}: is not a place a holdout may come from; give a "
        f"file in the repository or an MLflow artifact URI ({allowed})"
    )


def _check_dataset(base: tuple[str, ...], dataset: Any) -> list[ParamProblem]:
    """A holdout is a path inside the repository or an allowed artifact URI."""
    problem = holdout_problem(dataset) if isinstance(dataset, str) else None
    return [ParamProblem((*base, "dataset"), problem)] if problem else []
