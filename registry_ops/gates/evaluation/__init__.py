"""Live evaluation of a model on a holdout set, for the ``evaluate`` gate.

Pure of MLflow, and never runs model code itself: the registry layer scores a
candidate in a sandboxed child process (``registry_ops.registry.sandbox``) and
hands its predictions (and class probabilities) to :func:`evaluate_predictions`;
the labels stay here, and every metric is computed here, whichever engine
scored. :func:`evaluate` scores a ``predict`` callable in this process, for
tests and for models one trusts.

- :mod:`~registry_ops.gates.evaluation.datasets`: holdout files inside the
  repository (or artifact URIs), read, checked and hashed;
- :mod:`~registry_ops.gates.evaluation.scoring`: scikit-learn metrics;
- :mod:`~registry_ops.gates.evaluation.classes`: what a classifier's predict may
  return, its positive class (``pos_label``), native probabilities;
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
    Scores,
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
    "Scores",
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
