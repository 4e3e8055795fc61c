"""The scoring child: loads one model and predicts, in a process that holds no secret.

A standalone script (standard library, numpy, pandas and mlflow; never registry-ops), run
by :mod:`registry_ops.registry.sandbox` through :mod:`~registry_ops.registry.confine`,
possibly in another interpreter (the model's own environment). It gets one argument, the
path of a request (JSON) in a private directory, and writes its answer there:

* ``mode: check`` (the ``loadable`` gate): load, then predict on an example: the logged
  input example, else rows built from the signature (typed zeros, empty strings), else the
  rows the parent supplied (a few holdout rows, features only);
* ``mode: score`` (the ``evaluate`` gate): predict the supplied feature rows in batches,
  timing each call; with ``proba``, also ask the flavor's native model for class
  probabilities, as ``mlflow.models.evaluate`` does (scikit-learn, XGBoost, LightGBM,
  CatBoost).

The answer is ``result.json`` (timings, counts, and what failed where) plus ``.npy`` arrays
written without pickle. The parent trusts none of it beyond its shape: it keeps the
labels and computes every metric itself. Progress lines (``done rows``) go to the file
descriptor the request names.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import warnings
from typing import Any

import numpy as np
import pandas as pd

# Flavors whose native model has predict_proba (mlflow.models.evaluate's list).
PROBA_FLAVORS = ("mlflow.sklearn", "mlflow.xgboost", "mlflow.lightgbm", "mlflow.catboost")


class Failure(Exception):
    """What went wrong, at which stage: reported to the parent instead of a traceback."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:500] if first else type(exc).__name__


def read_features(path: str, columns: list[str]) -> pd.DataFrame:
    """The feature rows the parent wrote (``c0``, ``c1``... in ``columns`` order)."""
    # The parent wrote this file; object columns (strings with gaps) are pickled by it.
    with np.load(path, allow_pickle=True) as data:
        return pd.DataFrame({name: data[f"c{i}"] for i, name in enumerate(columns)})


def conform(frame: pd.DataFrame, schema: Any) -> Any:
    """Shape feature rows the way the model's signature asks for them.

    A CSV's floats are float64, and MLflow refuses to narrow them to a float32 tensor
    signature (the quickstart's torch models) or column: the holdout is the parent's, so
    cast it here instead of failing the gate.
    """
    if schema is None:
        return frame
    if schema.is_tensor_spec():
        specs = schema.inputs
        if len(specs) == 1 and not schema.has_input_names():
            spec = specs[0]
            array = frame.to_numpy(dtype=spec.type)
            shape = tuple(spec.shape)
            if len(shape) > 2:  # e.g. (-1, 28, 28): rows of flattened values
                array = array.reshape((-1, *shape[1:]))
            return array
        return frame
    try:
        wanted = dict(zip(schema.input_names(), schema.numpy_types(), strict=False))
    except Exception:  # object, array or map columns: nothing numeric to narrow
        return frame
    casts = {
        name: dtype
        for name, dtype in wanted.items()
        if name in frame.columns
        and isinstance(name, str)
        and np.dtype(dtype).kind in "fiu"
        and frame[name].dtype.kind in "fiu"
        and frame[name].dtype != dtype
    }
    return frame.astype(casts) if casts else frame


def example_from_signature(schema: Any, rows: int = 3) -> tuple[Any, str | None]:
    """A few rows of typed zeros (empty strings, false) shaped as ``schema``; or why not.

    Autologged models carry a signature but no input example: this is what lets a
    ``loadable`` gate predict on them.
    """
    if schema is None:
        return None, "it has no signature"
    if schema.is_tensor_spec():
        arrays = {}
        for spec in schema.inputs:
            shape = tuple(rows if dim == -1 else dim for dim in spec.shape) or (rows,)
            if any(dim < 0 for dim in shape):
                return None, f"its tensor input's shape {tuple(spec.shape)} is not fixed"
            arrays[spec.name] = np.zeros(shape, dtype=spec.type)
        if not schema.has_input_names():
            return next(iter(arrays.values())), None
        return arrays, None
    from mlflow.types import DataType

    columns: dict[Any, Any] = {}
    for index, spec in enumerate(schema.inputs):
        kind = spec.type
        if not isinstance(kind, DataType):
            return None, f"its input {spec.name or index!r} is of type {kind}"
        if kind == DataType.string:
            value: Any = np.array([""] * rows, dtype=object)
        elif kind == DataType.binary:
            value = np.array([b""] * rows, dtype=object)
        elif kind == DataType.datetime:
            value = np.zeros(rows, dtype="datetime64[ns]")
        else:
            value = np.zeros(rows, dtype=kind.to_numpy())
        columns[spec.name if spec.name is not None else index] = value
    return pd.DataFrame(columns), None


def as_output(value: Any) -> np.ndarray:
    """A prediction as an array numpy can save without pickle; Failure when it is not one."""
    if isinstance(value, dict):
        raise Failure("predict", f"returned a mapping ({', '.join(map(str, list(value)[:5]))})")
    if isinstance(value, pd.DataFrame | pd.Series):
        value = value.to_numpy()
    array = np.asarray(value)
    if array.dtype.kind == "O":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            if not all(isinstance(v, str | bool | int | float) for v in array.ravel()[:1000]):
                raise Failure(
                    "predict", "returned values that are neither numbers nor strings"
                ) from None
            array = array.astype(str)
    if array.dtype.kind not in "biufUS":
        raise Failure("predict", f"returned values of dtype {array.dtype}")
    return array


def _quiet() -> None:
    warnings.filterwarnings("ignore")
    import logging

    for name in ("mlflow", "alembic", "py4j"):
        logging.getLogger(name).setLevel(logging.ERROR)


def load(path: str) -> Any:
    """The model through mlflow.pyfunc, a load failure as a Failure."""
    try:
        import mlflow.pyfunc

        return mlflow.pyfunc.load_model(path)
    except Exception as exc:  # whatever the model's own code raises
        raise Failure("load", _one_line(exc)) from exc


def input_schema(model: Any) -> Any:
    """The model's input schema, or None."""
    signature = getattr(getattr(model, "metadata", None), "signature", None)
    return getattr(signature, "inputs", None)


def check(request: dict[str, Any], out: str) -> dict[str, Any]:
    """Load, then predict on the best example there is."""
    began = time.perf_counter()
    model = load(request["model"])
    load_seconds = time.perf_counter() - began
    example, source = model.input_example, "logged"
    why_not = None
    if example is None:
        example, why_not = example_from_signature(input_schema(model))
        source = "signature"
    if example is None and request.get("features"):
        example = read_features(request["features"], request["columns"])
        example, source = conform(example, input_schema(model)), "holdout"
    if example is None:
        return {"ok": True, "load_seconds": load_seconds, "example": None, "why": why_not}
    began = time.perf_counter()
    try:
        output = model.predict(example)
    except Exception as exc:  # the model's own failure is the evidence
        raise Failure("predict", f"on its {source} example: {_one_line(exc)}") from exc
    rows = len(output) if hasattr(output, "__len__") else 1
    return {
        "ok": True,
        "load_seconds": load_seconds,
        "predict_seconds": time.perf_counter() - began,
        "example": source,
        "output_rows": rows,
    }


def raw_predict_proba(model: Any) -> tuple[Any, str | None]:
    """The native model's predict_proba and its classes, as mlflow.models.evaluate finds it."""
    flavors = getattr(getattr(model, "metadata", None), "flavors", {}) or {}
    loader = flavors.get("python_function", {}).get("loader_module")
    if loader not in PROBA_FLAVORS:
        return None, f"its flavor ({loader or 'unknown'}) has no native predict_proba"
    try:
        raw = model.get_raw_model()
    except Exception:  # older wrappers: the implementation is the raw model
        impl = getattr(model, "_model_impl", None)
        raw = getattr(impl, "sklearn_model", None) or getattr(impl, "xgb_model", None) or impl
    method = getattr(raw, "predict_proba", None)
    if method is None:
        return None, f"its {loader} model ({type(raw).__name__}) has no predict_proba"
    return raw, None


def score(request: dict[str, Any], out: str) -> dict[str, Any]:
    """Predict every row in batches (timed), and class probabilities when asked."""
    began = time.perf_counter()
    model = load(request["model"])
    load_seconds = time.perf_counter() - began
    schema = input_schema(model)
    features = read_features(request["features"], request["columns"])
    size = int(request["batch_size"])
    progress = request.get("progress_fd")
    parts: list[np.ndarray] = []
    timings: list[float] = []
    for number, start in enumerate(range(0, len(features), size), 1):
        batch = conform(features.iloc[start : start + size], schema)
        try:
            if number == 1 and request.get("warmup", True):
                model.predict(batch)  # one-off costs a serving process pays once
            clock = time.perf_counter()
            output = model.predict(batch)
            timings.append(time.perf_counter() - clock)
        except Exception as exc:  # the model's own failure is the evidence
            raise Failure("predict", f"batch {number}: {_one_line(exc)}") from exc
        parts.append(as_output(output))
        if isinstance(progress, int):
            os.write(progress, f"{min(start + size, len(features))}\n".encode())
    predictions = parts[0] if len(parts) == 1 else np.concatenate(parts)
    np.save(os.path.join(out, "predictions.npy"), predictions, allow_pickle=False)
    result: dict[str, Any] = {"ok": True, "load_seconds": load_seconds, "timings": timings}
    if request.get("proba"):
        result["proba"] = _proba(model, features, schema, size, out)
    return result


def _proba(model: Any, features: pd.DataFrame, schema: Any, size: int, out: str) -> Any:
    raw, why = raw_predict_proba(model)
    if raw is None:
        return {"unavailable": why}
    parts = []
    try:
        for start in range(0, len(features), size):
            parts.append(
                np.asarray(raw.predict_proba(conform(features[start : start + size], schema)))
            )
    except Exception as exc:  # the model's own failure is the evidence
        return {"unavailable": f"predict_proba failed: {_one_line(exc)}"}
    np.save(os.path.join(out, "proba.npy"), np.concatenate(parts).astype(np.float64))
    classes = getattr(raw, "classes_", None)
    if classes is not None:
        np.save(os.path.join(out, "classes.npy"), as_output(np.asarray(classes)))
    return {"file": "proba.npy", "classes": "classes.npy" if classes is not None else None}


MODES = {"check": check, "score": score}


def main(argv: list[str]) -> int:
    """``model_child.py REQUEST``: do what the request says, answer in its directory."""
    with open(argv[1], encoding="utf-8") as handle:
        request = json.load(handle)
    out = request["out"]
    _quiet()
    if request["mode"] == "spark":
        from spark_child import spark_score  # copied next to this script

        run = spark_score
    else:
        run = MODES[request["mode"]]
    try:
        result = run(request, out)
    except Failure as failure:
        result = {"ok": False, "stage": failure.stage, "error": str(failure)}
    except MemoryError:
        result = {"ok": False, "stage": "memory", "error": "ran out of memory (MemoryError)"}
    except Exception as exc:  # an unexpected failure: the traceback's tail goes to stderr
        traceback.print_exc()
        result = {"ok": False, "stage": "child", "error": _one_line(exc)}
    temporary = os.path.join(out, "result.json.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    os.replace(temporary, os.path.join(out, "result.json"))
    sys.stdout.flush()
    # Model libraries can leave threads that hang interpreter shutdown: the answer is written.
    os._exit(0)


if __name__ == "__main__":
    # Run as the module ``model_child`` (its directory is sys.path[0]), not as __main__: the
    # Spark engine imports it by that name, and there must be one Failure class, not two.
    import model_child

    sys.exit(model_child.main(sys.argv))
