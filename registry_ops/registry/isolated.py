"""Loading and scoring a model in the sandboxed child, and checking what it answers.

The parent hands the child a local model directory and feature columns only (the labels
never leave the parent); the child hands back predictions (and class probabilities when
asked) and batch timings. Everything it returns is checked here before anything uses it:
arrays are read without pickle, must have one entry per row, and probabilities must be
finite, in [0, 1], one column per class. A child that fails, or answers something else,
raises :class:`~registry_ops.registry.sandbox.ModelRunError` naming what it did.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from registry_ops.core.redact import redact
from registry_ops.registry.sandbox import Limits, ModelRunError, Workdir, run_child

__all__ = ["LoadCheck", "Scored", "check_loadable", "score_rows", "write_features"]

# What a child's arrays may weigh: generous for real outputs, a wall against a flood.
_ARRAY_BASE_BYTES, _ARRAY_ROW_BYTES = 64 << 20, 4096


@dataclass(frozen=True)
class LoadCheck:
    """Evidence of a ``loadable`` gate: did the version load, and predict on an example.

    ``example`` says which: ``logged`` (its input example), ``signature`` (typed zeros
    built from its signature) or ``holdout`` (rows of the policy's evaluate dataset); None
    when there was nothing to predict on.
    """

    ok: bool
    detail: str
    example: str | None = None


@dataclass(frozen=True)
class Scored:
    """What the child predicted for every row, checked."""

    predictions: npt.NDArray[Any]
    timings: list[float]  # seconds per timed batch; empty for Spark
    seconds: float  # scoring only, as the child reports it
    proba: npt.NDArray[np.float64] | None = None
    classes: npt.NDArray[Any] | None = None
    proba_unavailable: str | None = None


def write_features(frame: pd.DataFrame, path: Path) -> list[str]:
    """Save feature columns for the child (numpy arrays, in order); their names."""
    arrays = {f"c{i}": frame[column].to_numpy() for i, column in enumerate(frame.columns)}
    np.savez(path, **arrays)
    return [str(c) for c in frame.columns]


def _failed(result: dict[str, Any], who: str, stderr: str, limits: Limits) -> ModelRunError:
    """The child's own account of its failure (it is the model's text: redacted, cut)."""
    stage = str(result.get("stage", "?"))[:20]
    error = redact(str(result.get("error", "no reason given"))[:500])
    said = f"; stderr: {stderr}" if stderr and stage == "child" else ""
    if "MemoryError" in error or stage == "memory":
        said += f" (its limit is {limits.memory_mb} MiB: memory_mb)"
    where = {"load": "failed to load", "predict": "failed to predict", "memory": "failed"}
    return ModelRunError(f"{who} {where.get(stage, 'failed')}: {error}{said}")


def check_loadable(
    work: Workdir,
    model: Path,
    *,
    interpreter: str,
    limits: Limits,
    who: str,
    fallback_rows: pd.DataFrame | None = None,
) -> LoadCheck:
    """Load in the child and predict on the best example there is; never raises."""
    request: dict[str, Any] = {"mode": "check", "model": str(model)}
    if fallback_rows is not None:
        request["features"] = str(work.inputs / "features.npz")
        request["columns"] = write_features(fallback_rows, work.inputs / "features.npz")
    try:
        answer = run_child(work, interpreter, request, limits, who=who)
    except ModelRunError as exc:
        return LoadCheck(False, str(exc))
    result = answer.result
    if not result["ok"]:
        failed = _failed(result, who, answer.stderr, limits)
        return LoadCheck(False, str(failed).removeprefix(f"{who} "))
    loaded = _number(result.get("load_seconds"))
    example = result.get("example")
    if example not in ("logged", "signature", "holdout"):
        why = redact(str(result.get("why") or "it has none")[:200])
        return LoadCheck(
            False,
            f"loads in {loaded:.1f}s, but has nothing to predict on: it was logged without an "
            f"input example, no example can be built from its signature ({why}), and no "
            "evaluate gate in its policy names a holdout to borrow rows from",
        )
    rows = result.get("output_rows")
    shown = f" ({rows} row{'s' if rows != 1 else ''})" if isinstance(rows, int) else ""
    source = {"logged": "its input example", "signature": "an example built from its signature",
              "holdout": "rows of the evaluate gate's holdout"}[example]  # fmt: skip
    predicted = _number(result.get("predict_seconds")) * 1000
    return LoadCheck(
        True,
        f"loads in {loaded:.1f}s and predicts on {source}{shown} in {predicted:.0f} ms",
        example,
    )


def score_rows(
    work: Workdir,
    model: Path,
    features: pd.DataFrame,
    *,
    interpreter: str,
    limits: Limits,
    who: str,
    batch_size: int,
    proba: bool = False,
    spark_master: str | None = None,
    extra_env: dict[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Scored:
    """Predict every row of ``features`` in the child (batched, timed; or on Spark).

    Raises:
        ModelRunError: the child failed, or its answer is not one prediction per row.
    """
    columns = write_features(features, work.inputs / "features.npz")
    request: dict[str, Any] = {
        "mode": "spark" if spark_master else "score",
        "model": str(model),
        "features": str(work.inputs / "features.npz"),
        "columns": columns,
        "batch_size": batch_size,
        "proba": proba,
    }
    sandbox = None
    if spark_master:
        request |= {"spark_master": spark_master, "memory_mb": limits.memory_mb}
        from registry_ops.registry.sandbox import read_roots

        # The JVM reserves far more address space than it uses and talks to its Python
        # workers over loopback TCP: no RLIMIT_AS and no TCP rule (docs/evaluation.md).
        sandbox = {
            "memory_bytes": None,
            "landlock": {
                "read": read_roots(interpreter, ("/proc", *(extra_env or {}).values())),
                "write": [str(work.path), "/dev"],
                "deny_tcp": False,
            },
        }
    answer = run_child(
        work, interpreter, request, limits, who=who, sandbox=sandbox,
        progress=progress, extra_env=extra_env,
    )  # fmt: skip
    result = answer.result
    if not result["ok"]:
        raise _failed(result, who, answer.stderr, limits)
    rows = len(features)
    predictions = _array(work.out / "predictions.npy", rows, who, "predictions")
    timings = result.get("timings", [])
    if not spark_master:
        batches = math.ceil(rows / batch_size)
        if (
            not isinstance(timings, list)
            or len(timings) != batches
            or not all(isinstance(t, int | float) and 0 <= t < math.inf for t in timings)
        ):
            raise ModelRunError(f"{who}: the model process reported unusable batch timings")
    seconds = float(sum(timings)) if timings else _number(result.get("seconds"))
    scored = Scored(predictions, [float(t) for t in timings], seconds)
    if proba:
        return _with_proba(scored, result.get("proba"), work.out, rows, who)
    return scored


def _with_proba(scored: Scored, said: Any, out: Path, rows: int, who: str) -> Scored:
    if not isinstance(said, dict) or "file" not in said:
        why = said.get("unavailable") if isinstance(said, dict) else None
        reason = redact(str(why)[:300]) if why else "the model process gave no probabilities"
        return Scored(scored.predictions, scored.timings, scored.seconds, proba_unavailable=reason)
    proba = _array(out / "proba.npy", rows, who, "probabilities")
    if proba.ndim != 2 or proba.shape[1] < 2 or proba.dtype.kind != "f":
        raise ModelRunError(f"{who}: predict_proba returned an array of shape {proba.shape}")
    if not np.all(np.isfinite(proba)) or np.any(proba < 0) or np.any(proba > 1):
        raise ModelRunError(f"{who}: predict_proba returned values outside [0, 1] or NaN")
    classes = None
    if said.get("classes"):
        classes = _array(out / "classes.npy", proba.shape[1], who, "classes")
    return Scored(scored.predictions, scored.timings, scored.seconds, proba, classes)


def _array(path: Path, rows: int, who: str, what: str) -> npt.NDArray[Any]:
    """A ``.npy`` the child wrote: no pickle, bounded size, one entry per row."""
    try:
        if path.stat().st_size > _ARRAY_BASE_BYTES + rows * _ARRAY_ROW_BYTES:
            raise ModelRunError(f"{who}: the model process wrote {what} too large for {rows} rows")
        array: npt.NDArray[Any] = np.load(path, allow_pickle=False)
    except ModelRunError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise ModelRunError(f"{who}: the model process wrote no readable {what} ({exc})") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biufUS":
        raise ModelRunError(f"{who}: the model process wrote {what} of an unusable type")
    if array.ndim == 0 or array.shape[0] != rows:
        got = "a scalar" if array.ndim == 0 else f"{array.shape[0]}"
        raise ModelRunError(f"{who} returned {got} {what} for {rows} rows")
    return array


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else 0.0
