"""Live evaluation of a model on a holdout set, for the ``evaluate`` gate.

Pure of MLflow: a model is any ``predict`` callable taking a pandas DataFrame
of feature columns and returning predictions (array-like, Series or
DataFrame). ``registry_ops.registry.pyfunc`` turns a model URI into such a
callable, and scores whole datasets on Spark, feeding
:func:`evaluate_predictions` so both engines share one metric code path.

- :mod:`~registry_ops.gates.evaluation.datasets`: holdout files inside the
  repository (or artifact URIs), read, checked and hashed;
- :mod:`~registry_ops.gates.evaluation.scoring`: scikit-learn metrics, and what
  a classifier's predict may return;
- :mod:`~registry_ops.gates.evaluation.batches`: scoring in batches with
  per-batch latency, several models on the same rows.

This package imports pandas and numpy, so gate discovery never imports it
(:mod:`registry_ops.gates.kinds` skips subpackages); the MLflow adapter does,
when a plan evaluates.
"""

from __future__ import annotations

from registry_ops.gates.evaluation.batches import (
    DEFAULT_BATCH_SIZE,
    Evaluation,
    Predict,
    Progress,
    ProgressEvent,
    evaluate,
    evaluate_models,
    evaluate_predictions,
)
from registry_ops.gates.evaluation.datasets import (
    Downloader,
    Holdout,
    file_digest,
    load_holdout,
    resolve_dataset,
)
from registry_ops.gates.evaluation.errors import DatasetError, EvaluationError
from registry_ops.gates.evaluation.scoring import (
    CLASSIFIER_METRICS,
    LATENCY_METRIC,
    REGRESSOR_METRICS,
    Task,
    infer_task,
    score,
)

__all__ = [
    "CLASSIFIER_METRICS",
    "DEFAULT_BATCH_SIZE",
    "LATENCY_METRIC",
    "REGRESSOR_METRICS",
    "DatasetError",
    "Downloader",
    "Evaluation",
    "EvaluationError",
    "Holdout",
    "Predict",
    "Progress",
    "ProgressEvent",
    "Task",
    "evaluate",
    "evaluate_models",
    "evaluate_predictions",
    "file_digest",
    "infer_task",
    "load_holdout",
    "resolve_dataset",
    "score",
]
