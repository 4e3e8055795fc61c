"""Classifier metrics: what a classifier may return, which class is positive, probabilities.

What a classifier's predict may return
    * labels (1-D integers, strings, booleans, or floats that are all whole numbers):
      used as they are; ``roc_auc`` then needs probabilities from elsewhere (the flavor's
      native ``predict_proba``, which the scoring child asks for), else it is refused,
      because an AUC of hard labels is not the model's ranking quality;
    * for two classes, a 1-D float score: values all within [0, 1] are the probability of
      the greater label (label at >= 0.5); other values are a decision function (label at
      >= 0), like scikit-learn's;
    * an ``n x k`` matrix, one column per class in sorted label order (the scikit-learn
      convention; for integer labels ``0..k-1``, column ``j`` is label ``j`` even if some
      label is absent from the holdout): rows that are probabilities (within [0, 1],
      summing to 1) are used as they are, anything else (logits, e.g. the quickstart's
      torch models) goes through a softmax; the label is the argmax either way.

The positive class
    For two classes, f1, precision and recall are those of the positive class: ``pos_label``
    when the gate gives one, else 1 of 0/1 (True of False/True). Any other pair of labels
    ("no"/"yes", 1/2, -1/1) has no obvious positive class: those metrics then fail and ask
    for ``pos_label`` rather than guess. With more classes they are support-weighted
    averages, like ``mlflow.models.evaluate``'s defaults, ``pos_label`` is not used, and
    ``roc_auc`` is one-vs-rest, weighted. ``roc_auc`` of two classes is the same whichever
    class is positive.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from registry_ops.gates.evaluation.errors import EvaluationError

Arrays = tuple[npt.NDArray[Any], npt.NDArray[np.float64] | None, npt.NDArray[Any]]


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


def _columns(y_true: npt.NDArray[Any], k: int, who: str) -> npt.NDArray[Any]:
    """The labels of ``k`` score columns in sorted label order."""
    true_classes = np.unique(y_true)
    if len(true_classes) == k:
        return true_classes
    if y_true.dtype.kind in "iu" and true_classes.min() >= 0 and true_classes.max() < k:
        return np.arange(k)
    raise EvaluationError(
        f"{who} returned {k} columns of scores, but the holdout's labels are "
        f"{', '.join(map(str, true_classes))}; columns must be the classes in sorted order"
    )


def finite_floats(values: npt.NDArray[Any], who: str, what: str) -> npt.NDArray[np.float64]:
    """``values`` as float64, or the error a model's answer deserves: ``what`` (its
    predictions, its columns) are not numbers, or hold NaN or infinity."""
    try:
        out: npt.NDArray[np.float64] = values.astype(np.float64)
    except (TypeError, ValueError):
        raise EvaluationError(f"{who} returned {what} that are not numbers") from None
    if not np.all(np.isfinite(out)):
        raise EvaluationError(f"{who} returned NaN or infinite {what}")
    return out


def classify(y_true: npt.NDArray[Any], pred: npt.NDArray[Any], who: str) -> Arrays:
    """``(labels, probabilities or None, classes)`` from what a classifier returned."""
    true_classes = np.unique(y_true)
    if pred.ndim == 2:
        classes = _columns(y_true, pred.shape[1], who)
        scores = finite_floats(pred, who, "scores")
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
        try:
            classes = np.unique(np.concatenate([true_classes, np.unique(pred)]))
        except TypeError:  # numbers against strings: nothing compares
            raise EvaluationError(
                f"{who} returned labels of another type than the holdout's "
                f"({pred.dtype} against {y_true.dtype})"
            ) from None
        return pred, None, classes
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


def _is_zero_one(classes: npt.NDArray[Any]) -> bool:
    if classes.dtype.kind == "b":
        return True
    if classes.dtype.kind not in "iuf":
        return False
    return bool(np.all(np.isin(classes, [0, 1])))


def positive_class(classes: npt.NDArray[Any], pos_label: Any) -> tuple[Any, str | None]:
    """The positive class of a two-class problem, or why there is none to take."""
    if pos_label is not None:
        for label in classes:
            if label == pos_label or str(label) == str(pos_label):
                return label, None
        shown = ", ".join(repr(c.item() if hasattr(c, "item") else c) for c in classes)
        return None, f"pos_label {pos_label!r} is not one of the labels ({shown})"
    if _is_zero_one(classes):
        return (True if classes.dtype.kind == "b" else 1), None
    shown = " and ".join(repr(c.item() if hasattr(c, "item") else c) for c in classes)
    return None, (
        f"the labels are {shown}, so which class is positive is not obvious: "
        "set pos_label in the evaluate gate"
    )


def _given_proba(
    y_true: npt.NDArray[Any],
    proba: npt.NDArray[np.float64],
    classes: npt.NDArray[Any] | None,
    who: str,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[Any]]:
    """Probabilities from the native model with the labels of their columns."""
    labels = classes if classes is not None else _columns(y_true, proba.shape[1], who)
    if len(labels) != proba.shape[1]:
        raise EvaluationError(
            f"{who}: {proba.shape[1]} probability columns for {len(labels)} classes"
        )
    return proba, labels


def classifier_metrics(
    truth: npt.NDArray[Any],
    pred: npt.NDArray[Any],
    wanted: list[str],
    *,
    model: str,
    proba: npt.NDArray[np.float64] | None = None,
    classes: npt.NDArray[Any] | None = None,
    proba_unavailable: str | None = None,
    pos_label: Any = None,
) -> tuple[dict[str, float], dict[str, str]]:
    """``(values, problems)`` of the requested classifier metrics."""
    from sklearn import metrics as skm  # heavy; only evaluations pay for it

    labels, own_proba, seen = classify(truth, pred, model)
    binary = len(seen) <= 2
    positive, unclear = positive_class(seen, pos_label) if binary else (None, None)
    scores, score_classes = (own_proba, seen) if own_proba is not None else (None, None)
    if scores is None and proba is not None:
        scores, score_classes = _given_proba(truth, proba, classes, model)
    values: dict[str, float] = {}
    problems: dict[str, str] = {}
    for name in wanted:
        try:
            if name == "accuracy":
                values[name] = float(skm.accuracy_score(truth, labels))
            elif name in ("f1", "precision", "recall"):
                if unclear:
                    problems[name] = f"{name} needs a positive class: {unclear}"
                    continue
                fn = {"f1": skm.f1_score, "precision": skm.precision_score,
                      "recall": skm.recall_score}[name]  # fmt: skip
                average = "binary" if binary else "weighted"
                kwargs = {"pos_label": positive} if binary else {}
                values[name] = float(fn(truth, labels, average=average, zero_division=0, **kwargs))
            elif name == "roc_auc":
                values[name] = _roc_auc(truth, scores, score_classes, model, proba_unavailable)
        except EvaluationError as exc:
            problems[name] = str(exc)
        except (ValueError, TypeError) as exc:  # scikit-learn's refusals: mixed label types...
            problems[name] = f"cannot compute {name} for {model}: {exc}"
    return values, problems


def _roc_auc(
    truth: npt.NDArray[Any],
    scores: npt.NDArray[np.float64] | None,
    classes: npt.NDArray[Any] | None,
    model: str,
    unavailable: str | None,
) -> float:
    from sklearn import metrics as skm

    if scores is None or classes is None:
        why = f" ({unavailable})" if unavailable else ""
        raise EvaluationError(
            f"roc_auc needs scores or probabilities, and {model} returned labels, with no "
            f"predict_proba to ask{why}; log the model so that predict returns probabilities "
            "(e.g. pyfunc_predict_fn='predict_proba' for scikit-learn)"
        )
    present = np.unique(truth)
    if len(present) < 2:
        raise EvaluationError("roc_auc is undefined: the holdout has one class only")
    if len(classes) <= 2:
        column = 1 if len(classes) == 2 else 0
        return float(skm.roc_auc_score(truth == classes[column], scores[:, column]))
    return float(
        skm.roc_auc_score(truth, scores, multi_class="ovr", average="weighted", labels=classes)
    )
