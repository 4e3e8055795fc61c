"""Live evaluation of a model on a holdout set, for the ``evaluate`` gate.

Pure of MLflow: a model is any ``predict`` callable taking a pandas DataFrame
of feature columns and returning predictions (array-like, Series or
DataFrame). ``registry_ops.registry.models`` turns a model URI into such
a callable, and scores whole datasets on Spark, feeding
:func:`evaluate_predictions` so both engines share one metric code path.

Datasets
    A CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``) file
    inside the repository root, or an MLflow artifact URI (``runs:/``,
    ``models:/``, ``mlflow-artifacts:/``, ``s3://``, ...) fetched by a
    ``download`` callable the caller supplies. Paths that leave the root
    (``../``, absolute paths elsewhere, symlinks pointing out) are refused:
    policies arrive in pull requests, and a gate must not read arbitrary
    files of the CI runner. ``file://`` URIs are local paths and obey the
    same rule. Each file is identified by the sha256 of its bytes
    (:attr:`Holdout.digest`), a cache key for results.

Metrics (scikit-learn)
    Classifiers: ``accuracy``, ``f1``, ``precision``, ``recall``,
    ``roc_auc``; regressors: ``rmse``, ``mae``, ``r2``; every engine that
    times batches adds ``latency_p95_ms``. The task is given or inferred
    from the metric names. For two classes f1/precision/recall are those of
    the positive class, the greater label (1 of 0/1, True, "yes" of
    "no"/"yes"); with more classes they are support-weighted averages, like
    ``mlflow.models.evaluate``'s defaults, and ``roc_auc`` is one-vs-rest,
    weighted.

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

import hashlib
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from registry_ops.errors import RegistryOpsError

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

Task = Literal["classifier", "regressor"]
CLASSIFIER_METRICS: tuple[str, ...] = ("accuracy", "f1", "precision", "recall", "roc_auc")
REGRESSOR_METRICS: tuple[str, ...] = ("rmse", "mae", "r2")
LATENCY_METRIC = "latency_p95_ms"
# Large enough that per-call overhead (schema checks, tensor conversion)
# does not dominate, small enough to resemble online request sizes.
DEFAULT_BATCH_SIZE = 256

Predict = Callable[[pd.DataFrame], Any]
# Fetches an artifact URI to a local file and returns its path.
Downloader = Callable[[str], "str | os.PathLike[str]"]

_CSV_SUFFIXES = (".csv", ".csv.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")
# A URI scheme of two or more characters: "C:\\data.csv" stays a path.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


class EvaluationError(RegistryOpsError):
    """A live evaluation could not be done: bad settings, predict failed, unusable output."""


class DatasetError(EvaluationError):
    """A holdout dataset is missing, outside the repository, unreadable or unfit."""


# ---- datasets -------------------------------------------------------------------------


def file_digest(path: str | os.PathLike[str]) -> str:
    """``sha256:<hex>`` of a file's bytes, read in chunks (datasets can be large)."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return f"sha256:{sha.hexdigest()}"


def _inside(path: Path, root: Path, shown: str) -> Path:
    """``path`` resolved (symlinks followed); refuse it unless it stays under ``root``."""
    real_root = root.resolve()
    real = path.resolve()
    if not real.is_relative_to(real_root):
        why = "resolves to" if path.is_symlink() or ".." in path.parts else "is"
        raise DatasetError(
            f"dataset {shown} {why} {real}, outside the repository root {real_root}; "
            "holdout files must live in the repository (or be given as an MLflow artifact URI)"
        )
    return real


def resolve_dataset(
    dataset: str, root: str | os.PathLike[str], download: Downloader | None = None
) -> Path:
    """The local file a gate's ``dataset`` names.

    Args:
        dataset: A path relative to ``root`` (or absolute inside it), a
            ``file://`` URI inside it, or an MLflow artifact URI.
        root: The repository root (the directory holding ``policies/``).
        download: Fetches artifact URIs; without it they are refused.

    Raises:
        DatasetError: outside the root, missing, a directory, or a URI with no downloader.
    """
    root_path = Path(root)
    if dataset.startswith("file:"):
        # A local file is a local file: writing it as a URI must not escape the root.
        from urllib.parse import unquote, urlparse

        parsed = urlparse(dataset)
        if parsed.netloc not in ("", "localhost"):
            raise DatasetError(f"dataset {dataset}: file:// URIs must be local")
        local = Path(unquote(parsed.path))
        path = _inside(local if local.is_absolute() else root_path / local, root_path, dataset)
    elif _URI.match(dataset):
        if download is None:
            raise DatasetError(
                f"dataset {dataset} is an artifact URI, and no MLflow connection was given "
                "to download it"
            )
        try:
            path = Path(download(dataset))
        except Exception as exc:  # the downloader's own errors, whatever they are
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DatasetError(f"dataset {dataset} could not be downloaded: {text}") from None
    else:
        given = Path(dataset)
        path = _inside(given if given.is_absolute() else root_path / given, root_path, dataset)
    if not path.exists():
        raise DatasetError(f"dataset {dataset}: no such file ({path})")
    if path.is_dir():
        raise DatasetError(f"dataset {dataset} is a directory; name one CSV or Parquet file in it")
    return path


def _read(path: Path, shown: str) -> pd.DataFrame:
    """Parse a CSV or Parquet file; every parser failure becomes a DatasetError naming it."""
    name = path.name.lower()
    with open(path, "rb") as handle:
        magic = handle.read(4)
    try:
        if name.endswith(_PARQUET_SUFFIXES) or magic == b"PAR1":
            return pd.read_parquet(path)
        if name.endswith(_CSV_SUFFIXES):
            # Strict: a row with too many fields is corruption, not data to guess at.
            return pd.read_csv(path, on_bad_lines="error")
    except pd.errors.EmptyDataError:
        raise DatasetError(f"dataset {shown} is empty (no header, no rows)") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"dataset {shown} is not a text CSV file (undecodable byte at offset {exc.start})"
        ) from None
    except Exception as exc:  # pandas ParserError, pyarrow ArrowInvalid, OSError, ...
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        kind = "Parquet" if name.endswith(_PARQUET_SUFFIXES) or magic == b"PAR1" else "CSV"
        raise DatasetError(f"dataset {shown} is not a readable {kind} file: {message}") from None
    raise DatasetError(
        f"dataset {shown}: unsupported file type; use .csv, .csv.gz, .parquet or .pq"
    )


@dataclass(frozen=True, eq=False)
class Holdout:
    """A loaded holdout set: labelled rows plus where they came from.

    ``frame`` holds the feature columns (in order) and the target column;
    scoring several models on one Holdout scores them on the same rows.
    """

    source: str
    path: Path
    digest: str
    target: str
    features: tuple[str, ...]
    frame: pd.DataFrame = field(repr=False)

    @property
    def rows(self) -> int:
        """Number of labelled rows."""
        return len(self.frame)

    @property
    def X(self) -> pd.DataFrame:  # noqa: N802 - the usual name for a feature matrix
        """The feature columns, in order: what a model's predict receives."""
        return self.frame.loc[:, list(self.features)]

    @property
    def y(self) -> npt.NDArray[Any]:
        """The labels."""
        labels: npt.NDArray[Any] = self.frame[self.target].to_numpy()
        return labels


def load_holdout(
    dataset: str,
    *,
    root: str | os.PathLike[str],
    targets: str,
    features: Sequence[str] | None = None,
    download: Downloader | None = None,
) -> Holdout:
    """Resolve, hash and parse a holdout dataset, checking it is fit for evaluation.

    Args:
        dataset: See :func:`resolve_dataset`.
        root: The repository root.
        targets: The label column.
        features: The feature columns, in the order the model expects; by
            default every other column, in file order.
        download: Fetches artifact URIs.

    Raises:
        DatasetError: the file cannot be used, with the file's name and what is wrong.
    """
    path = resolve_dataset(dataset, root, download)
    digest = file_digest(path)
    frame = _read(path, dataset)
    columns = [str(c) for c in frame.columns]
    frame.columns = pd.Index(columns)
    if targets not in columns:
        raise DatasetError(
            f"dataset {dataset} has no target column '{targets}'; its columns are: "
            + ", ".join(columns)
        )
    if features is None:
        chosen = tuple(c for c in columns if c != targets)
    else:
        chosen = tuple(features)
        missing = [c for c in chosen if c not in columns]
        if missing:
            raise DatasetError(
                f"dataset {dataset} lacks feature column(s) {', '.join(missing)}; its columns "
                "are: " + ", ".join(columns)
            )
        if targets in chosen:
            raise DatasetError(f"dataset {dataset}: the target '{targets}' is also a feature")
    if not chosen:
        raise DatasetError(f"dataset {dataset} has no feature columns besides '{targets}'")
    if frame.empty:
        raise DatasetError(f"dataset {dataset} has a header but no rows")
    unlabelled = int(frame[targets].isna().sum())
    if unlabelled:
        raise DatasetError(
            f"dataset {dataset}: {unlabelled} of {len(frame)} rows have no value in the "
            f"target column '{targets}'"
        )
    frame = frame.loc[:, [*chosen, targets]].reset_index(drop=True)
    return Holdout(dataset, path, digest, targets, chosen, frame)


# ---- metrics --------------------------------------------------------------------------


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


def _as_array(output: Any, rows: int, who: str) -> npt.NDArray[Any]:
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
    pred = _as_array(predictions, len(truth), model)
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


# ---- evaluation -----------------------------------------------------------------------


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
        parts.append(_as_array(output, len(batch), f"{model} (batch {number})"))
        if progress is not None:
            progress(ProgressEvent(model, number, len(starts), min(start + batch_size, rows), rows))
    predictions = parts[0] if len(parts) == 1 else np.concatenate(parts)
    result = score(holdout.y, predictions, names, chosen, model=model) if chosen else {}
    # numpy's default (linear) percentile: with few batches p95 sits near the slowest.
    result[LATENCY_METRIC] = float(np.percentile(np.asarray(timings) * 1000.0, 95))
    return Evaluation(
        metrics={m: result[m] for m in [*names, LATENCY_METRIC] if m in result},
        rows=rows,
        batches=len(timings),
        digest=holdout.digest,
        engine="in-process",
        seconds=float(sum(timings)),
        task=chosen,
    )


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
) -> Evaluation:
    """Metrics of predictions scored elsewhere (e.g. a Spark job) on ``holdout``'s rows.

    ``predictions`` must be in the holdout's row order. No latency is
    reported: a distributed job's timings say nothing about serving latency.
    """
    names, chosen = _metrics_and_task(metrics, task)
    result = score(holdout.y, predictions, names, chosen, model=model) if chosen else {}
    return Evaluation(
        metrics={m: result[m] for m in names if m in result},
        rows=holdout.rows,
        batches=batches,
        digest=holdout.digest,
        engine=engine,
        seconds=seconds,
        task=chosen,
    )
