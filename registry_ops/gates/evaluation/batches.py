"""Scoring models on a holdout in batches: quality metrics and per-batch latency.

A model is any ``predict`` callable taking a pandas DataFrame of feature
columns and returning predictions. :func:`evaluate` times each batch (p95 is
``latency_p95_ms``); :func:`evaluate_predictions` takes predictions made
elsewhere (a Spark job) so both engines share one metric code path.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from registry_ops.errors import RegistryOpsError
from registry_ops.gates.evaluation.datasets import Holdout
from registry_ops.gates.evaluation.errors import EvaluationError
from registry_ops.gates.evaluation.scoring import (
    CLASSIFIER_METRICS,
    LATENCY_METRIC,
    REGRESSOR_METRICS,
    Scores,
    Task,
    as_array,
    infer_task,
    score,
)

# Large enough that per-call overhead (schema checks, tensor conversion)
# does not dominate, small enough to resemble online request sizes.
DEFAULT_BATCH_SIZE = 256

Predict = Callable[[pd.DataFrame], Any]


@dataclass(frozen=True)
class ProgressEvent:
    """Sent after each scored batch, so a terminal can draw progress."""

    model: str
    batch: int  # 1-based
    batches: int
    rows_done: int
    rows: int


Progress = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class Evaluation:
    """One model's result on one holdout.

    ``metrics`` maps each requested metric (and ``latency_p95_ms`` where the
    engine timed batches) to a float. ``seconds`` is the time spent in
    predict (in-process) or in the scoring job (Spark), not loading.
    """

    metrics: dict[str, float]
    rows: int
    batches: int
    digest: str
    engine: str
    seconds: float
    task: Task | None = None
    #: why a requested metric has no value (roc_auc of labels, f1 without a positive class)
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        """Throughput of scoring alone."""
        return self.rows / self.seconds if self.seconds > 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "metrics": dict(self.metrics),
            "rows": self.rows,
            "batches": self.batches,
            "digest": self.digest,
            "engine": self.engine,
            "seconds": self.seconds,
            "task": self.task,
            "problems": dict(self.problems),
        }


def _metrics_and_task(
    metrics: Iterable[str] | None, task: str | None
) -> tuple[list[str], Task | None]:
    if metrics is None:
        if task is None:
            raise EvaluationError("say which metrics to compute, or the task")
        chosen = infer_task([], task)
        return list(CLASSIFIER_METRICS if chosen == "classifier" else REGRESSOR_METRICS), chosen
    names = list(dict.fromkeys(metrics))
    return names, infer_task(names, task)


def evaluate(
    predict: Predict,
    holdout: Holdout,
    *,
    metrics: Iterable[str] | None = None,
    task: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    model: str = "model",
    warmup: bool = True,
    pos_label: Any = None,
) -> Evaluation:
    """Score one model on a holdout in batches; quality metrics plus ``latency_p95_ms``.

    Args:
        predict: DataFrame of features -> predictions.
        holdout: From :func:`load_holdout`.
        metrics: Metric names; None: every metric of ``task``.
        task: ``classifier`` or ``regressor``; None: inferred from ``metrics``.
        batch_size: Rows per predict call; latency is measured per call.
        progress: Called after each batch.
        model: How messages and progress events name the model.
        warmup: Call predict once on the first batch, untimed, first: the
            first call pays one-off costs (lazy imports, thread pools,
            allocator growth) that a serving process pays once, not per
            request, and would otherwise dominate p95 on small holdouts.
        pos_label: The positive class of two-class metrics (see ``classes``).

    Raises:
        EvaluationError: bad settings, predict raised, or unusable predictions.
    """
    names, chosen = _metrics_and_task(metrics, task)
    if batch_size < 1:
        raise EvaluationError(f"batch_size must be at least 1, got {batch_size}")
    features = holdout.X
    rows = len(features)
    starts = range(0, rows, batch_size)
    parts: list[npt.NDArray[Any]] = []
    timings: list[float] = []
    for number, start in enumerate(starts, 1):
        batch = features.iloc[start : start + batch_size]
        if warmup and number == 1:
            _call(predict, batch, model, number)
        began = time.perf_counter()
        output = _call(predict, batch, model, number)
        timings.append(time.perf_counter() - began)
        parts.append(as_array(output, len(batch), f"{model} (batch {number})"))
        if progress is not None:
            progress(ProgressEvent(model, number, len(starts), min(start + batch_size, rows), rows))
    predictions = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return evaluate_predictions(
        predictions, holdout, metrics=names, task=chosen, engine="in-process",
        seconds=float(sum(timings)), batches=len(timings), model=model, timings=timings,
        pos_label=pos_label,
    )  # fmt: skip


def _call(predict: Predict, batch: pd.DataFrame, model: str, number: int) -> Any:
    try:
        return predict(batch)
    except RegistryOpsError:
        raise
    except Exception as exc:  # whatever the model raises is the gate's evidence
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise EvaluationError(
            f"{model} failed to predict batch {number}: {type(exc).__name__}: {text}"
        ) from exc


def evaluate_models(
    models: Mapping[str, Predict],
    holdout: Holdout,
    *,
    metrics: Iterable[str] | None = None,
    task: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    warmup: bool = True,
) -> dict[str, Evaluation]:
    """Score several models (e.g. candidate and current holder) on the same loaded rows.

    Models run one after the other, never interleaved, so one model's
    latency is not measured while another competes for the CPU.
    """
    names = list(metrics) if metrics is not None else None
    return {
        label: evaluate(
            predict,
            holdout,
            metrics=names,
            task=task,
            batch_size=batch_size,
            progress=progress,
            model=label,
            warmup=warmup,
        )
        for label, predict in models.items()
    }


def evaluate_predictions(
    predictions: Any,
    holdout: Holdout,
    *,
    metrics: Iterable[str] | None = None,
    task: str | None = None,
    engine: str,
    seconds: float,
    batches: int = 1,
    model: str = "model",
    timings: Sequence[float] | None = None,
    proba: npt.NDArray[np.float64] | None = None,
    classes: npt.NDArray[Any] | None = None,
    proba_unavailable: str | None = None,
    pos_label: Any = None,
) -> Evaluation:
    """Metrics of predictions made elsewhere (the scoring child, a Spark job) on ``holdout``.

    ``predictions`` must be in the holdout's row order. ``timings`` (seconds per batch)
    give ``latency_p95_ms``; without them none is reported (a distributed job's timings
    say nothing about serving latency). ``proba``/``classes``: the flavor's own class
    probabilities, for ``roc_auc`` when ``predictions`` are labels.

    Raises:
        EvaluationError: predictions unusable for every metric; a metric that alone
            cannot be computed is in :attr:`Evaluation.problems` instead.
    """
    names, chosen = _metrics_and_task(metrics, task)
    scores = (
        score(
            holdout.y, predictions, names, chosen, model=model, proba=proba, classes=classes,
            proba_unavailable=proba_unavailable, pos_label=pos_label,
        )
        if chosen
        else Scores({})
    )  # fmt: skip
    result = dict(scores.values)
    if timings:
        # numpy's default (linear) percentile: with few batches p95 sits near the slowest.
        result[LATENCY_METRIC] = float(np.percentile(np.asarray(timings) * 1000.0, 95))
    return Evaluation(
        metrics={m: result[m] for m in [*names, LATENCY_METRIC] if m in result},
        rows=holdout.rows,
        batches=len(timings) if timings else batches,
        digest=holdout.digest,
        engine=engine,
        seconds=seconds,
        task=chosen,
        problems=dict(scores.problems),
    )
