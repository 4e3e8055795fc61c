"""MLflow 3 idioms, done the way users do them: fluent ``mlflow`` calls against a backend.

``Fluent`` points MLflow's fluent API (``mlflow.start_run``, ``log_model``,
``log_metric(..., model_id=...)``, ``register_model``) at one test backend
through the environment (``MLFLOW_TRACKING_URI``, ``MLFLOW_EXPERIMENT_ID``),
which ``monkeypatch`` restores afterwards, so no global MLflow state leaks
into other tests. Models are scikit-learn estimators logged with explicit pip
requirements (inferring them would load each model in a subprocess).
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.support.backends import Backend

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def frame(rows: int = 40, positives: int = 4) -> pd.DataFrame:
    """Two features and a label with ``positives`` ones: a most-frequent classifier
    scores exactly ``1 - positives / rows``."""
    x = np.arange(rows, dtype=float)
    return pd.DataFrame({"x1": x, "x2": x % 3, "label": (x >= rows - positives).astype(int)})


class Fluent:
    """The fluent API of one backend, in one experiment of the test's own."""

    def __init__(self, backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
        self.backend = backend
        experiment = backend.client.create_experiment(
            backend.name("mlflow3"), artifact_location=backend.artifact_root
        )
        monkeypatch.setenv("MLFLOW_TRACKING_URI", backend.uri)
        monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", experiment)
        # Ending a run over HTTP prints "View run ... at: <URI>"; keep stdout for the CLI.
        monkeypatch.setenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

    def log_model(self, estimator: Any, name: str) -> str:
        """Fit-ready scikit-learn ``estimator`` fitted on :func:`frame` and logged; its id."""
        import mlflow.sklearn

        data = frame()
        estimator.fit(data[["x1", "x2"]], data["label"])
        info = mlflow.sklearn.log_model(estimator, name=name, pip_requirements=["scikit-learn"])
        return str(info.model_id)

    def register(self, model_id: str, model: str) -> int:
        """``mlflow.register_model("models:/m-...", model)``: the new version's number."""
        import mlflow

        return int(mlflow.register_model(f"models:/{model_id}", model).version)

    def dataset(self, name: str, rows: int = 40) -> Any:
        """An MLflow dataset (name and content digest), for ``log_metric(dataset=...)``."""
        import mlflow.data

        return mlflow.data.from_pandas(frame(rows), name=name, targets="label")

    def gc(self, run_id: str, store: str) -> None:
        """``mlflow gc`` of one deleted run on the backend store behind the backend."""
        env = {**os.environ, "MLFLOW_TRACKING_URI": store}
        done = subprocess.run(
            [sys.executable, "-m", "mlflow", "gc", "--backend-store-uri", store,
             "--run-ids", run_id],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
