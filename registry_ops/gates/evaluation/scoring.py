"""Quality metrics of a model's predictions on a holdout, with scikit-learn.

Classifiers: ``accuracy``, ``f1``, ``precision``, ``recall``, ``roc_auc``;
regressors: ``rmse``, ``mae``, ``r2``; every engine that times batches adds
``latency_p95_ms``. The task is given or inferred from the metric names. For
two classes f1/precision/recall are those of the positive class, the greater
label (1 of 0/1, True, "yes" of "no"/"yes"); with more classes they are
support-weighted averages, like ``mlflow.models.evaluate``'s defaults, and
``roc_auc`` is one-vs-rest, weighted.

What a classifier's predict may return
    * labels (1-D integers, strings, booleans, or floats that are all
      whole numbers): used as they are; ``roc_auc`` is then refused,
      because an AUC of hard labels is not the model's ranking quality;
    * for two classes, a 1-D float score: values all within [0, 1] are the
      positive class's probability (label at >= 0.5); other values are a
      decision function (label at >= 0), like scikit-learn's;
    * an ``n x k`` matrix, one column per class in sorted label order (the
      scikit-learn convention; for integer labels ``0..k-1``, column ``j``
      is label ``j`` even if some label is absent from the holdout): rows
      that are probabilities (within [0, 1], summing to 1) are used as they
      are, anything else (logits, e.g. the quickstart's torch models) goes
      through a softmax; the label is the argmax either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

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


def _whole_numbers(array: npt.NDArray[Any]) -> bool:
    if array.dtype.kind in "biuOUS":
        return True
    finite = array[np.isfinite(array)]
    return len(finite) == len(array) and bool(np.all(np.equal(np.mod(finite, 1), 0)))


def _softmax(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    out: npt.NDArray[np.float64] = exp / exp.sum(axis=1, keepdims=True)
    return out


def _classify(
    y_true: npt.NDArray[Any], pred: npt.NDArray[Any], who: str
) -> tuple[npt.NDArray[Any], npt.NDArray[np.float64] | None, npt.NDArray[Any]]:
    """``(labels, probabilities or None, classes)`` from what a classifier returned."""
    true_classes = np.unique(y_true)
    if pred.ndim == 2:
        k = pred.shape[1]
        if len(true_classes) == k:
            classes = true_classes
        elif y_true.dtype.kind in "iu" and true_classes.min() >= 0 and true_classes.max() < k:
            classes = np.arange(k)
        else:
            raise EvaluationError(
                f"{who} returned {k} columns of scores, but the holdout's labels are "
                f"{', '.join(map(str, true_classes))}; columns must be the classes in "
                "sorted order"
            )
        scores = pred.astype(np.float64)
        if not np.all(np.isfinite(scores)):
            raise EvaluationError(f"{who} returned NaN or infinite scores")
        is_proba = bool(
            np.all((scores >= 0) & (scores <= 1))
            and np.allclose(scores.sum(axis=1), 1.0, atol=1e-6)
        )
        proba = scores / scores.sum(axis=1, keepdims=True) if is_proba else _softmax(scores)
        return classes[np.argmax(proba, axis=1)], proba, classes
    if _whole_numbers(pred):
        if pred.dtype.kind == "f":
            # 0.0/1.0 from a pyfunc that returns floats: the labels' own type.
            pred = pred.astype(y_true.dtype) if y_true.dtype.kind in "iub" else pred
        return pred, None, np.unique(np.concatenate([true_classes, np.unique(pred)]))
    scores = pred.astype(np.float64)
    if np.any(np.isnan(scores)):
        raise EvaluationError(f"{who} returned NaN predictions")
    if len(true_classes) > 2:
        raise EvaluationError(
            f"{who} returned one score per row for {len(true_classes)} classes; return labels "
            "or one column of probabilities per class"
        )
    classes = true_classes if len(true_classes) == 2 else np.array([0, 1])
    cut = 0.5 if np.all((scores >= 0) & (scores <= 1)) else 0.0
    # A decision function through a sigmoid: monotone, so the AUC is unchanged.
    positive = 1.0 / (1.0 + np.exp(-np.clip(scores, -500, 500))) if cut == 0.0 else scores
    proba = np.stack([1.0 - positive, positive], axis=1)
    return classes[(scores >= cut).astype(int)], proba, classes


def score(
    y_true: npt.ArrayLike,
    predictions: Any,
    metrics: Iterable[str],
    task: Task,
    *,
    model: str = "the model",
) -> dict[str, float]:
    """Compute the requested quality metrics (not latency) with scikit-learn.

    Raises:
        EvaluationError: predictions unusable (wrong length, NaN, wrong shape,
            labels where roc_auc needs scores) or a metric undefined on this
            holdout (e.g. roc_auc with one class only).
    """
    from sklearn import metrics as skm  # heavy; only evaluations pay for it

    truth = np.asarray(y_true)
    pred = as_array(predictions, len(truth), model)
    wanted = [m for m in metrics if m != LATENCY_METRIC]
    out: dict[str, float] = {}
    try:
        if task == "regressor":
            if pred.ndim != 1:
                raise EvaluationError(f"{model} returned {pred.shape[1]} values per row")
            values = pred.astype(np.float64)
            if not np.all(np.isfinite(values)):
                raise EvaluationError(f"{model} returned NaN or infinite predictions")
            regress = {
                "rmse": skm.root_mean_squared_error,
                "mae": skm.mean_absolute_error,
                "r2": skm.r2_score,
            }
            for name in wanted:
                out[name] = float(regress[name](truth, values))
            return out
        labels, proba, classes = _classify(truth, pred, model)
        binary = len(classes) <= 2
        average = "binary" if binary else "weighted"
        positive = classes.max() if binary else 1
        for name in wanted:
            if name == "accuracy":
                out[name] = float(skm.accuracy_score(truth, labels))
            elif name in ("f1", "precision", "recall"):
                fn = {
                    "f1": skm.f1_score,
                    "precision": skm.precision_score,
                    "recall": skm.recall_score,
                }[name]
                out[name] = float(
                    fn(truth, labels, average=average, pos_label=positive, zero_division=0)
                )
            elif name == "roc_auc":
                if proba is None:
                    raise EvaluationError(
                        f"roc_auc needs scores or probabilities, and {model} returned labels; "
                        "log the model so that predict returns probabilities "
                        "(e.g. pyfunc_predict_fn='predict_proba' for scikit-learn)"
                    )
                if len(np.unique(truth)) < 2:
                    raise EvaluationError("roc_auc is undefined: the holdout has one class only")
                if binary:
                    column = int(np.flatnonzero(classes == positive)[0])
                    out[name] = float(skm.roc_auc_score(truth == positive, proba[:, column]))
                else:
                    out[name] = float(
                        skm.roc_auc_score(
                            truth, proba, multi_class="ovr", average="weighted", labels=classes
                        )
                    )
    except EvaluationError:
        raise
    except (ValueError, TypeError) as exc:  # scikit-learn's refusals: mixed label types, ...
        raise EvaluationError(f"cannot score {model}: {exc}") from None
    return out
