"""Seed a real MLflow registry with versions whose runs carry metrics (no torch)."""

from __future__ import annotations

import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from mlflow.tracking import MlflowClient  # noqa: E402


class Seeder:
    """Creates registered models and versions backed by runs with metrics."""

    def __init__(self, tracking_uri: str, artifact_root: str) -> None:
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.uri = tracking_uri
        self.models: set[str] = set()
        existing = self.client.get_experiment_by_name("seed")
        self.experiment = (
            existing.experiment_id
            if existing
            else self.client.create_experiment("seed", artifact_location=artifact_root)
        )

    def version(self, model: str, **metrics: float) -> int:
        """Register a new version of ``model`` (created if needed); returns its number."""
        if model not in self.models:
            self.client.create_registered_model(model)
            self.models.add(model)
        run = self.client.create_run(self.experiment)
        for key, value in metrics.items():
            self.client.log_metric(run.info.run_id, key, value)
        self.client.set_terminated(run.info.run_id)
        mv = self.client.create_model_version(
            model, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
        )
        return int(mv.version)
