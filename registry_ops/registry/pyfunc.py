"""Loading model versions through mlflow.pyfunc, and the evidence of model gates.

* :func:`load_pyfunc` and :func:`predictor`: a model URI as a ``predict``
  callable for :mod:`registry_ops.gates.evaluation`;
* :func:`predict_on_input_example`: the evidence of a ``loadable`` gate;
* :func:`signature_of`: the evidence of a ``signature`` gate.

mlflow and every model flavour's framework (torch, ...) are imported inside
functions: this module itself imports only the standard library,
pandas/numpy and pure registry-ops modules, so importing it costs nothing
until a model is actually used. Model files are fetched as
:mod:`registry_ops.registry.artifacts` describes (never through MLflow's
process-wide tracking URI when URIs are given).
"""

from __future__ import annotations

import tempfile
import time
import warnings
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from registry_ops.core.redact import redact
from registry_ops.gates.evaluation import Predict
from registry_ops.registry.artifacts import local_copy, resolve_model_uri
from registry_ops.registry.connection import quiet_mlflow
from registry_ops.registry.failures import ModelLoadError, first_line, translated

__all__ = [
    "LoadCheck",
    "ModelLoadError",
    "load_pyfunc",
    "predict_on_input_example",
    "predictor",
    "signature_of",
]


def load_pyfunc(
    model_uri: str,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> Any:
    """The ``mlflow.pyfunc.PyFuncModel`` at ``model_uri`` (``models:/name/3``, ``runs:/...``).

    Raises:
        ModelLoadError: download or load failed (message redacted, one line).
    """
    quiet_mlflow()
    with translated(f"cannot load {redact(model_uri)}"):
        import mlflow.pyfunc

        local, holder = local_copy(model_uri, tracking_uri, registry_uri)
        try:
            model = mlflow.pyfunc.load_model(local)
        except BaseException:
            if holder is not None:
                holder.cleanup()
            raise
        if holder is not None:
            # Some flavours read their files lazily: keep the copy as long as the model lives.
            weakref.finalize(model, holder.cleanup)
        return model


def _input_schema(model: Any) -> Any:
    metadata = getattr(model, "metadata", None)
    signature = getattr(metadata, "signature", None)
    return getattr(signature, "inputs", None)


def _conform(frame: pd.DataFrame, schema: Any) -> Any:
    """Shape a holdout batch the way the model's signature asks for it.

    A CSV's floats are float64, and MLflow refuses to narrow them to a
    float32 tensor signature (the quickstart's torch models) or column: the
    holdout is ours, so cast it here instead of failing the gate.
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


def predictor(model: Any) -> Predict:
    """A ``predict`` callable for :mod:`registry_ops.gates.evaluation` from a loaded pyfunc model.

    Batches are cast to the model's input signature first (see
    :func:`_conform`); output is returned as the model gives it.
    """
    schema = _input_schema(model)

    def predict(batch: pd.DataFrame) -> Any:
        with warnings.catch_warnings():
            # torch warns on every call that MLflow's arrays are not writable.
            warnings.filterwarnings("ignore", message=".*non-writable", category=UserWarning)
            return model.predict(_conform(batch, schema))

    return predict


def signature_of(
    model_uri: str,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> dict[str, Any] | None:
    """The model's signature as plain data, or None when it was logged without one.

    ``{"inputs": [...], "outputs": [...] or None, "params": [...] or None}``,
    each a list of MLflow's JSON column/tensor specs. Reads the MLmodel file
    only; the model itself is not loaded.

    Raises:
        ModelLoadError: the MLmodel file cannot be read.
    """
    import json

    quiet_mlflow()
    with translated(f"cannot read the MLmodel file of {redact(model_uri)}"):
        from mlflow.models import Model

        if tracking_uri is None and registry_uri is None:
            from mlflow.models import get_model_info

            signature = get_model_info(model_uri).signature
        else:
            import mlflow.artifacts

            with tempfile.TemporaryDirectory(prefix="registry-ops-mlmodel-") as tmp:
                path = mlflow.artifacts.download_artifacts(
                    artifact_uri=resolve_model_uri(model_uri, tracking_uri, registry_uri)
                    + "/MLmodel",
                    dst_path=tmp,
                    tracking_uri=tracking_uri,
                    registry_uri=registry_uri or tracking_uri,
                )
                signature = Model.load(path).signature
    if signature is None:
        return None
    raw = signature.to_dict()
    return {key: json.loads(value) if value else None for key, value in raw.items()}


@dataclass(frozen=True)
class LoadCheck:
    """Evidence of a ``loadable`` gate: did the version load, and predict on its input example.

    ``predicted`` is None when the model was logged without an input
    example (nothing to predict on); ``detail`` says what happened, with the
    error text (redacted) when something failed.
    """

    loaded: bool
    predicted: bool | None
    detail: str
    load_seconds: float
    predict_seconds: float | None = None

    @property
    def ok(self) -> bool:
        """Loaded and predicted on its input example."""
        return self.loaded and self.predicted is True


def predict_on_input_example(
    model_uri: str,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> LoadCheck:
    """Load the version through mlflow.pyfunc and predict on its logged input example.

    Never raises for a broken model: the failure is the result.
    """
    began = time.perf_counter()
    try:
        model = load_pyfunc(model_uri, tracking_uri=tracking_uri, registry_uri=registry_uri)
    except ModelLoadError as exc:
        return LoadCheck(False, None, str(exc), time.perf_counter() - began)
    load_seconds = time.perf_counter() - began
    example = model.input_example
    if example is None:
        return LoadCheck(
            True,
            None,
            f"loads in {load_seconds:.1f}s, but was logged without an input example to predict on",
            load_seconds,
        )
    began = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*non-writable", category=UserWarning)
            output = model.predict(example)
    except Exception as exc:  # the model's own failure is the evidence
        return LoadCheck(
            True,
            False,
            f"loads, but predicting on its input example failed: {type(exc).__name__}: "
            f"{first_line(exc)}",
            load_seconds,
            time.perf_counter() - began,
        )
    predict_seconds = time.perf_counter() - began
    rows = len(output) if hasattr(output, "__len__") else 1
    return LoadCheck(
        True,
        True,
        f"loads in {load_seconds:.1f}s and predicts on its input example "
        f"({rows} row{'s' if rows != 1 else ''}) in {predict_seconds * 1000:.0f} ms",
        load_seconds,
        predict_seconds,
    )
