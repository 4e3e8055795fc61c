"""Quality metrics of a model's predictions on a holdout, with scikit-learn.

Classifiers: ``accuracy``, ``f1``, ``precision``, ``recall``, ``roc_auc``;
regressors: ``rmse``, ``mae``, ``r2``; every engine that times batches adds
``latency_p95_ms``. The task is given or inferred from the metric names.
What a classifier may return, and which class is positive, is
:mod:`~registry_ops.gates.evaluation.classes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from registry_ops.gates.evaluation.classes import finite_floats
from registry_ops.gates.evaluation.errors import EvaluationError

Task = Literal["classifier", "regressor"]
CLASSIFIER_METRICS: tuple[str, ...] = ("accuracy", "f1", "precision", "recall", "roc_auc")
REGRESSOR_METRICS: tuple[str, ...] = ("rmse", "mae", "r2")
LATENCY_METRIC = "latency_p95_ms"


def infer_task(metrics: Iterable[str], task: str | None = None) -> Task | None:
    """The task the requested metrics imply, checked against ``task`` when given.

    Returns None when only latency is asked for and no task is given.

    Raises:
        EvaluationError: unknown metric names, a mix of both kinds, or a
            metric that does not fit the given task.
    """
    names = [m for m in metrics if m != LATENCY_METRIC]
    known = set(CLASSIFIER_METRICS) | set(REGRESSOR_METRICS)
    unknown = [m for m in names if m not in known]
    if unknown:
        raise EvaluationError(
            f"unknown metric(s) {', '.join(unknown)}; known: "
            f"{', '.join((*CLASSIFIER_METRICS, *REGRESSOR_METRICS, LATENCY_METRIC))}"
        )
    if task is not None and task not in ("classifier", "regressor"):
        raise EvaluationError(f"task must be classifier or regressor, not {task!r}")
    kinds = {"classifier" if m in CLASSIFIER_METRICS else "regressor" for m in names}
    if task is not None:
        wrong = [m for m in names if (m in CLASSIFIER_METRICS) != (task == "classifier")]
        if wrong:
            raise EvaluationError(f"metric(s) {', '.join(wrong)} do not apply to a {task}")
        return "classifier" if task == "classifier" else "regressor"
    if len(kinds) > 1:
        raise EvaluationError(
            f"metrics {', '.join(names)} mix classifier and regressor metrics; "
            "set task: classifier or task: regressor"
        )
    if not kinds:
        return None
    return "classifier" if kinds == {"classifier"} else "regressor"


def as_array(output: Any, rows: int, who: str) -> npt.NDArray[Any]:
    """Predictions as a numpy array with one entry (or row) per input row."""
    array: npt.NDArray[Any]
    if isinstance(output, pd.DataFrame | pd.Series):
        array = output.to_numpy()
    elif isinstance(output, Mapping):
        raise EvaluationError(
            f"{who} returned a mapping ({', '.join(map(str, output))}); "
            "expected one prediction per row"
        )
    else:
        array = np.asarray(output)
    if array.ndim == 0 or len(array) != rows:
        got = "a scalar" if array.ndim == 0 else f"{len(array)} predictions"
        raise EvaluationError(f"{who} returned {got} for {rows} rows")
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim > 2:
        raise EvaluationError(f"{who} returned an array of shape {array.shape}")
    return array


@dataclass(frozen=True)
class Scores:
    """Metric values, and why each metric that has none could not be computed."""

    values: dict[str, float]
    problems: dict[str, str] = field(default_factory=dict)


def score(
    y_true: npt.ArrayLike,
    predictions: Any,
    metrics: Iterable[str],
    task: Task,
    *,
    model: str = "the model",
    proba: npt.NDArray[np.float64] | None = None,
    classes: npt.NDArray[Any] | None = None,
    proba_unavailable: str | None = None,
    pos_label: Any = None,
) -> Scores:
    """Compute the requested quality metrics (not latency) with scikit-learn.

    ``proba`` (with ``classes``, its columns' labels) are class probabilities from the
    flavor's native model, for ``roc_auc`` when ``predictions`` are labels;
    ``proba_unavailable`` says why there are none. A metric that cannot be computed
    (``roc_auc`` of labels, f1 with labels that do not say which class is positive, a
    metric undefined on this holdout) gets a reason in :attr:`Scores.problems`; the
    others are computed all the same.

    Raises:
        EvaluationError: predictions unusable for every metric (wrong length, NaN,
            wrong shape).
    """
    from sklearn import metrics as skm  # heavy; only evaluations pay for it

    from registry_ops.gates.evaluation.classes import classifier_metrics

    truth = np.asarray(y_true)
    pred = as_array(predictions, len(truth), model)
    wanted = [m for m in metrics if m != LATENCY_METRIC]
    if task == "classifier":
        found, unmet = classifier_metrics(
            truth, pred, wanted, model=model, proba=proba, classes=classes,
            proba_unavailable=proba_unavailable, pos_label=pos_label,
        )  # fmt: skip
        return Scores(found, unmet)
    if pred.ndim != 1:
        raise EvaluationError(f"{model} returned {pred.shape[1]} values per row")
    values = finite_floats(pred, model, "predictions")
    regress = {
        "rmse": skm.root_mean_squared_error,
        "mae": skm.mean_absolute_error,
        "r2": skm.r2_score,
    }
    out: dict[str, float] = {}
    problems: dict[str, str] = {}
    for name in wanted:
        try:
            value = float(regress[name](truth, values))
        except (ValueError, TypeError) as exc:  # scikit-learn's refusals
            problems[name] = f"cannot compute {name}: {exc}"
            continue
        if np.isfinite(value):
            out[name] = value
        else:
            problems[name] = f"{name} is undefined on this holdout"
    return Scores(out, problems)
