"""Loading model versions through mlflow.pyfunc in this process, and model signatures.

* :func:`load_pyfunc` and :func:`predictor`: a model URI as a ``predict``
  callable, for :func:`registry_ops.load_model` (a service loading a model it
  chose to trust) and as the in-process reference of tests and benchmarks.
  Gates never use them: a candidate's code runs in the sandboxed child
  (:mod:`~registry_ops.registry.sandbox`), never in the planning process;
* :func:`signature_of`: the evidence of a ``signature`` gate (it reads the
  MLmodel file only, and runs nothing).

mlflow and every model flavour's framework (torch, ...) are imported inside
functions: this module itself imports only the standard library,
pandas/numpy and pure registry-ops modules, so importing it costs nothing
until a model is actually used. Model files are fetched as
:mod:`registry_ops.registry.artifacts` describes (never through MLflow's
process-wide tracking URI when URIs are given).
"""

from __future__ import annotations

import tempfile
import warnings
import weakref
from typing import Any

import pandas as pd

from registry_ops.core.redact import redact
from registry_ops.gates.evaluation import Predict
from registry_ops.registry.artifacts import local_copy, resolve_model_uri
from registry_ops.registry.connection import quiet_mlflow
from registry_ops.registry.failures import ModelLoadError, translated
from registry_ops.registry.model_child import conform

__all__ = ["ModelLoadError", "load_pyfunc", "predictor", "signature_of"]


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


def predictor(model: Any) -> Predict:
    """A ``predict`` callable for :mod:`registry_ops.gates.evaluation` from a loaded pyfunc model.

    Batches are cast to the model's input signature first, as the scoring child
    casts them (:func:`registry_ops.registry.model_child.conform`); output is
    returned as the model gives it.
    """
    schema = _input_schema(model)

    def predict(batch: pd.DataFrame) -> Any:
        with warnings.catch_warnings():
            # torch warns on every call that MLflow's arrays are not writable.
            warnings.filterwarnings("ignore", message=".*non-writable", category=UserWarning)
            return model.predict(conform(batch, schema))

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
