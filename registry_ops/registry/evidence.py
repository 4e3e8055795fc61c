"""Model evidence for gates: signatures, load checks and live evaluations of registry versions.

Implements :class:`registry_ops.gates.ModelEvidence` on a :class:`Registry`.
Evaluations are cached in the registry as a tag on the version,
``registry_ops.eval.<key>``, where the key hashes the dataset's content and
the evaluation settings: re-planning reads the tag instead of re-scoring, and
changing the file changes the key. Holdouts are loaded once per plan.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from registry_ops.core.state import EVAL_PREFIX, ObservedVersion
from registry_ops.errors import RegistryOpsError
from registry_ops.gates.evaluation import (
    CLASSIFIER_METRICS,
    REGRESSOR_METRICS,
    Holdout,
    ProgressEvent,
    infer_task,
    load_holdout,
)
from registry_ops.registry import Registry


class RegistryEvidence:
    """What gates ask of model versions, answered from one registry."""

    def __init__(self, registry: Registry, progress: Callable[[str], None] | None = None) -> None:
        self.registry = registry
        self.progress = progress
        self._holdouts: dict[tuple[str, str, tuple[str, ...] | None], Holdout] = {}
        self._spark: Any = None

    def _uri(self, model: str, version: int) -> str:
        return f"models:/{model}/{version}"

    def signature(self, model: str, version: int) -> dict[str, Any] | None:
        """The logged signature (None without one)."""
        from registry_ops.registry.pyfunc import signature_of

        return signature_of(self._uri(model, version), **self.registry.uris)

    def load_check(self, model: str, version: int) -> tuple[bool, str]:
        """Load through pyfunc and predict on the input example; (ok, what happened)."""
        from registry_ops.registry.pyfunc import predict_on_input_example

        check = predict_on_input_example(self._uri(model, version), **self.registry.uris)
        return check.ok, check.detail

    def _holdout(self, spec: dict[str, Any], root: Path) -> Holdout:
        from registry_ops.registry.artifacts import download_artifact

        features = tuple(spec["features"]) if spec.get("features") else None
        key = (str(root), spec["dataset"], features)
        if key not in self._holdouts:
            self._holdouts[key] = load_holdout(
                spec["dataset"],
                root=root,
                targets=spec["targets"],
                features=list(features) if features else None,
                download=partial(download_artifact, **self.registry.uris),
            )
        return self._holdouts[key]

    def evaluate(
        self, model: str, version: ObservedVersion, spec: dict[str, Any], root: Path
    ) -> dict[str, Any]:
        """Scores of one version on the spec's holdout: from its cache tag, or computed
        (and then cached on the version)."""
        holdout = self._holdout(spec, root)
        names = sorted(spec.get("metrics", {}))
        task = infer_task(names, spec.get("task")) if names or spec.get("task") else None
        if not names and task is not None:
            names = list(CLASSIFIER_METRICS if task == "classifier" else REGRESSOR_METRICS)
        engine = spec.get("engine", "in-process")
        settings = {
            "digest": holdout.digest,
            "targets": holdout.target,
            "features": list(holdout.features),
            "task": task,
            "metrics": names,
            "batch_size": spec.get("batch_size", 256),
            "engine": engine,
        }
        key = EVAL_PREFIX + _hash(settings)
        cached = _cached(version.tags.get(key), holdout.digest)
        if cached is not None:
            return {**cached, "cached": True}
        uri = self._uri(model, version.version)
        label = f"{model} v{version.version}"
        if engine == "spark":
            from registry_ops.registry.spark import local_spark_session, spark_evaluate

            if self._spark is None:
                # A cluster's master URL (spark://, yarn, k8s://...) or a local session.
                master = os.environ.get("REGISTRY_OPS_SPARK_MASTER", "local[2]")
                self._spark = local_spark_session(master=master)
            result = spark_evaluate(
                uri, holdout, spark=self._spark, metrics=names, task=task,
                progress=self._note, model=label, **self.registry.uris,
            )  # fmt: skip
        else:
            from registry_ops.gates.evaluation import evaluate
            from registry_ops.registry.pyfunc import load_pyfunc, predictor

            loaded = load_pyfunc(uri, **self.registry.uris)
            result = evaluate(
                predictor(loaded), holdout, metrics=names, task=task,
                batch_size=int(spec.get("batch_size", 256)), progress=self._note, model=label,
            )  # fmt: skip
        record = {
            **result.to_dict(),
            "dataset": spec["dataset"],
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        try:
            self.registry.set_version_tag(model, version.version, key, json.dumps(record))
        except RegistryOpsError as exc:
            # The cache only saves time: a plan made with read-only credentials
            # (a pull request's) still evaluates, and says why it could not cache.
            record["cache_error"] = str(exc)[:300]
        return {**record, "cached": False}

    def _note(self, event: ProgressEvent) -> None:
        if self.progress is not None:
            self.progress(
                f"evaluating {event.model}: batch {event.batch}/{event.batches} "
                f"({event.rows_done}/{event.rows} rows)"
            )

    def close(self) -> None:
        """Stop a Spark session this provider started."""
        if self._spark is not None:
            self._spark.stop()
            self._spark = None


def _hash(settings: dict[str, Any]) -> str:
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cached(text: str | None, digest: str) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("digest") != digest:
        return None
    if not isinstance(data.get("metrics"), dict):
        return None
    return data
