"""Tiny real pyfunc models registered as versions, and a holdout they are scored on.

The models threshold ``x1``: ``good`` gets the label right, ``coin`` predicts
0 everywhere (accuracy ~0.5), ``broken`` raises on predict. Logged with
explicit pip requirements (inferring them would load each model in a
subprocess) and, unless asked not to, a signature and an input example.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def holdout(rows: int = 400, seed: int = 7) -> pd.DataFrame:
    """Two features; the label is x1 > 0."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=rows), "x2": rng.normal(size=rows)})
    frame["label"] = (frame["x1"] > 0).astype(int)
    return frame


def write_holdout(root: Path, relpath: str = "data/holdout.csv") -> Path:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    holdout().to_csv(path, index=False)
    return path


def _model(kind: str) -> Any:
    import mlflow.pyfunc

    class Threshold(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        # Unannotated on purpose: MLflow reads type hints on predict as an input schema.
        def __init__(self, kind):  # type: ignore[no-untyped-def]
            self.kind = kind

        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            if self.kind == "broken":
                raise ValueError("this version cannot predict")
            if self.kind == "coin":
                return np.zeros(len(model_input), dtype=int)
            return (model_input["x1"].to_numpy() > 0).astype(int)

    return Threshold(kind)


def register(
    client: Any,
    experiment: str,
    model: str,
    kind: str = "good",
    signed: bool = True,
    workdir: Path | None = None,
    **metrics: float,
) -> int:
    """Log a model of ``kind`` in a run with ``metrics`` and register it as a new version."""
    import tempfile

    import mlflow.pyfunc
    from mlflow.models import infer_signature

    example = holdout(3)[["x1", "x2"]]
    run = client.create_run(experiment)
    for key, value in metrics.items():
        client.log_metric(run.info.run_id, key, value)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / "model"
        extra: dict[str, Any] = {}
        if signed:
            extra = {
                "input_example": example,
                "signature": infer_signature(example, np.zeros(3, dtype=int)),
            }
        mlflow.pyfunc.save_model(
            str(path), python_model=_model(kind), pip_requirements=["pandas"], **extra
        )
        client.log_artifacts(run.info.run_id, str(path), "model")
    client.set_terminated(run.info.run_id)
    with contextlib.suppress(Exception):  # it exists already
        client.create_registered_model(model)
    version = client.create_model_version(model, f"runs:/{run.info.run_id}/model", run.info.run_id)
    return int(version.version)
