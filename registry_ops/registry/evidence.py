"""Model evidence for gates: signatures, load checks and live evaluations of registry versions.

Implements :class:`registry_ops.gates.ModelEvidence` on a :class:`Registry`. This process
holds the credentials and the plan key, so it downloads a version's files and reads its
holdout, and never runs the model: loading and predicting happen in a sandboxed child
(:mod:`~registry_ops.registry.sandbox`) that sees the files and the feature columns only.
The labels stay here, and every metric is computed here.

Evaluations are cached in the registry as a tag on the version, ``registry_ops.eval.<key>``,
where the key hashes the dataset's content and the evaluation settings: re-planning reads
the tag instead of re-scoring, and changing the file changes the key. Anyone who can write
a tag could write a score, so with ``REGISTRY_OPS_PLAN_KEY`` set a cached score counts only
when its MAC (:class:`~registry_ops.core.records.RecordKey`) checks out; otherwise it is
recomputed. Holdouts are loaded once per plan.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from registry_ops.core.records import RecordKey
from registry_ops.core.state import EVAL_PREFIX, ObservedVersion
from registry_ops.errors import RegistryOpsError
from registry_ops.gates.evaluation import (
    CLASSIFIER_METRICS,
    REGRESSOR_METRICS,
    DatasetError,
    EvaluationError,
    Holdout,
    ProgressEvent,
    evaluate_predictions,
    infer_task,
    load_holdout,
)
from registry_ops.gates.live import MEMORY_MB, TIMEOUT_SECONDS
from registry_ops.gates.model_checks import LOADABLE_TIMEOUT_SECONDS
from registry_ops.registry import Registry
from registry_ops.registry.failures import ModelLoadError
from registry_ops.registry.modelenv import default_manager
from registry_ops.registry.sandbox import Limits, ModelRunError, landlock_abi, workdir

__all__ = ["RECORD_KIND", "RegistryEvidence"]

RECORD_KIND = "eval"
_HOLDOUT_EXAMPLE_ROWS = 3


class RegistryEvidence:
    """What gates ask of model versions, answered from one registry."""

    def __init__(self, registry: Registry, progress: Callable[[str], None] | None = None) -> None:
        self.registry = registry
        self.progress = progress
        self.key = RecordKey.from_env()
        self._holdouts: dict[tuple[str, str, str, tuple[str, ...] | None], Holdout] = {}
        self._downloads: tempfile.TemporaryDirectory[str] | None = None

    def _uri(self, model: str, version: int) -> str:
        return f"models:/{model}/{version}"

    def signature(self, model: str, version: int) -> dict[str, Any] | None:
        """The logged signature (None without one); reads the MLmodel file, runs nothing."""
        from registry_ops.registry.pyfunc import signature_of

        return signature_of(self._uri(model, version), **self.registry.uris)

    def _sandbox(self) -> str:
        abi = landlock_abi()
        return f"landlock v{abi}" if abi else "environment only (no Landlock)"

    def load_check(
        self, model: str, version: int, settings: dict[str, Any], root: Path
    ) -> tuple[bool, str]:
        """Load in the sandbox and predict on an example; (ok, what happened). Never raises
        for the model's sake: a broken or hostile model is a failed check."""
        from registry_ops.registry.isolated import check_loadable
        from registry_ops.registry.modelenv import interpreter_for

        rows = None
        wanted = settings.get("holdout")
        if isinstance(wanted, dict) and wanted.get("dataset") and wanted.get("targets"):
            try:
                rows = self._holdout(wanted, root).X.head(_HOLDOUT_EXAMPLE_ROWS)
            except DatasetError:
                rows = None  # the evaluate gate reports the dataset; here it is only a fallback
        limits = _limits(settings, LOADABLE_TIMEOUT_SECONDS)
        who = f"{model} v{version}"
        with workdir() as work:
            try:
                path = self._fetch(model, version, work.model)
                env = interpreter_for(path, str(settings.get("env_manager") or default_manager()))
            except (ModelLoadError, ModelRunError) as exc:
                return False, str(exc)
            check = check_loadable(
                work, path, interpreter=env.interpreter, limits=limits, who=who,
                fallback_rows=rows,
            )  # fmt: skip
        return check.ok, check.detail

    def _fetch(self, model: str, version: int, into: Path) -> Path:
        from registry_ops.registry.artifacts import fetch_model

        return fetch_model(self._uri(model, version), into, **self.registry.uris)

    def _holdout(self, spec: dict[str, Any], root: Path) -> Holdout:
        from registry_ops.registry.artifacts import download_artifact

        features = tuple(spec["features"]) if spec.get("features") else None
        key = (str(root), spec["dataset"], spec["targets"], features)
        if key not in self._holdouts:
            if self._downloads is None:
                self._downloads = tempfile.TemporaryDirectory(prefix="registry-ops-holdouts-")
            self._holdouts[key] = load_holdout(
                spec["dataset"],
                root=root,
                targets=spec["targets"],
                features=list(features) if features else None,
                download=partial(
                    download_artifact, dst_dir=self._downloads.name, **self.registry.uris
                ),
            )
        return self._holdouts[key]

    def evaluate(
        self, model: str, version: ObservedVersion, spec: dict[str, Any], root: Path
    ) -> dict[str, Any]:
        """Scores of one version on the spec's holdout: from its (authentic) cache tag, or
        computed in the sandbox and then cached on the version.

        A model that cannot be scored gives ``{"error": reason}``; a broken holdout file
        raises (it is the repository's, not the model's).

        Raises:
            DatasetError: the holdout is missing, outside the repository or unreadable.
        """
        holdout = self._holdout(spec, root)
        names = sorted(spec.get("metrics", {}))
        engine = spec.get("engine", "in-process")
        base = {"digest": holdout.digest, "rows": holdout.rows, "engine": engine}
        try:
            task = infer_task(names, spec.get("task")) if names or spec.get("task") else None
        except EvaluationError as exc:
            return {**base, "error": str(exc), "metrics": {}, "cached": False}
        if not names and task is not None:
            names = list(CLASSIFIER_METRICS if task == "classifier" else REGRESSOR_METRICS)
        try:
            manager = spec.get("env_manager") or default_manager()
        except ModelRunError as exc:
            return {**base, "error": str(exc), "metrics": {}, "cached": False}
        spec = {**spec, "env_manager": manager}
        settings = {
            "digest": holdout.digest,
            "targets": holdout.target,
            "features": list(holdout.features),
            "task": task,
            "metrics": names,
            "batch_size": spec.get("batch_size", 256),
            "engine": engine,
            # Only settings that change the scores: limits decide whether it finishes.
            **({"env_manager": manager} if manager != "local" else {}),
            **({"pos_label": spec["pos_label"]} if spec.get("pos_label") is not None else {}),
        }
        key = EVAL_PREFIX + _hash(settings)
        cached, trust = self._cached(model, version, key, holdout.digest)
        if cached is not None:
            return {**cached, "cached": True, "cache_trust": trust}
        notes = {"cache_trust": trust} if trust == "refused" else {}
        label = f"{model} v{version.version}"
        try:
            result, extra = self._score(model, version.version, spec, holdout, names, task, label)
        except (ModelLoadError, ModelRunError, EvaluationError) as exc:
            if isinstance(exc, DatasetError):
                raise
            return {**base, **notes, "error": str(exc), "metrics": {}, "cached": False}
        record = {
            **result.to_dict(),
            "dataset": spec["dataset"],
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        record = _finite(record)
        try:
            sealed = self.key.seal(RECORD_KIND, model, version.version, record)
            self.registry.set_version_tag(model, version.version, key, json.dumps(sealed))
        except RegistryOpsError as exc:
            # The cache only saves time: a plan made with read-only credentials
            # (a pull request's) still evaluates, and says why it could not cache.
            record["cache_error"] = str(exc)[:300]
        return {**record, **notes, **extra, "cached": False}

    def _score(
        self,
        model: str,
        number: int,
        spec: dict[str, Any],
        holdout: Holdout,
        names: list[str],
        task: Any,
        label: str,
    ) -> tuple[Any, dict[str, Any]]:
        """Fetch, pick the interpreter, score in the sandbox, compute metrics here."""
        from registry_ops.registry.isolated import score_rows
        from registry_ops.registry.modelenv import interpreter_for

        engine = spec.get("engine", "in-process")
        batch_size = int(spec.get("batch_size", 256))
        rows = holdout.rows
        batches = math.ceil(rows / batch_size)

        def note(done: int) -> None:
            batch = min(math.ceil(done / batch_size), batches)
            self._note(ProgressEvent(label, batch, batches, done, rows))

        spark = engine == "spark"
        # A cluster's master URL (spark://, yarn, k8s://...) or a local session.
        master = os.environ.get("REGISTRY_OPS_SPARK_MASTER", "local[2]") if spark else None
        extra_env = {k: os.environ[k] for k in ("JAVA_HOME", "SPARK_HOME") if os.environ.get(k)}
        with workdir() as work:
            path = self._fetch(model, number, work.model)
            env = interpreter_for(path, spec["env_manager"])
            scored = score_rows(
                work, path, holdout.X, interpreter=env.interpreter,
                limits=_limits(spec, TIMEOUT_SECONDS), who=label, batch_size=batch_size,
                proba="roc_auc" in names and not spark,
                spark_master=master,
                extra_env=extra_env if spark else None, progress=None if spark else note,
            )  # fmt: skip
        if spark:
            self._note(ProgressEvent(label, 1, 1, rows, rows))
        result = evaluate_predictions(
            scored.predictions, holdout, metrics=names, task=task, engine=engine,
            seconds=scored.seconds, batches=batches, model=label, timings=scored.timings or None,
            proba=scored.proba, classes=scored.classes,
            proba_unavailable=scored.proba_unavailable, pos_label=spec.get("pos_label"),
        )  # fmt: skip
        extra: dict[str, Any] = {"env_manager": env.manager, "sandbox": self._sandbox()}
        if env.created:
            extra["env_created_seconds"] = round(env.seconds, 1)
        return result, extra

    def _cached(
        self, model: str, version: ObservedVersion, key: str, digest: str
    ) -> tuple[dict[str, Any] | None, str]:
        """The cached record if usable, and its trust: verified, unkeyed or refused."""
        data = _parsed(version.tags.get(key), digest)
        if data is None:
            return None, "none"
        trust = self.key.check(RECORD_KIND, model, version.version, data)
        if not trust.usable:
            return None, "refused"
        data.pop("mac", None)
        return data, trust.value

    def _note(self, event: ProgressEvent) -> None:
        if self.progress is not None:
            self.progress(
                f"evaluating {event.model}: batch {event.batch}/{event.batches} "
                f"({event.rows_done}/{event.rows} rows)"
            )

    def close(self) -> None:
        """Remove downloaded holdouts."""
        if self._downloads is not None:
            self._downloads.cleanup()
            self._downloads = None


def _limits(settings: dict[str, Any], timeout: float) -> Limits:
    return Limits(
        float(settings.get("timeout_seconds") or timeout),
        int(settings.get("memory_mb") or MEMORY_MB),
    )


def _finite(record: dict[str, Any]) -> dict[str, Any]:
    """Non-finite metric values become problems: JSON (and a MAC) cannot carry NaN."""
    metrics = record.get("metrics", {})
    bad = [k for k, v in metrics.items() if not math.isfinite(v)]
    if not bad:
        return record
    problems = dict(record.get("problems") or {})
    problems.update({k: f"{k} is undefined on this holdout" for k in bad})
    return {
        **record,
        "metrics": {k: v for k, v in metrics.items() if k not in bad},
        "problems": problems,
    }


def _hash(settings: dict[str, Any]) -> str:
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _parsed(text: str | None, digest: str) -> dict[str, Any] | None:
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
