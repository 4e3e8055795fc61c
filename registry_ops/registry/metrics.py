"""Batched reads of metric evidence: the runs and logged models a set of versions names.

A version's metrics live on its MLflow 3 logged model (``m-...``) and, for
versions without one, on its source run (:mod:`registry_ops.core.metrics`
decides which value counts). Both are read in chunks of ``IN (...)``
filters, never a call per version: one experiment search (both searches
need the experiment ids), one run search per 500 runs, one logged-model
search per 500 logged models.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from registry_ops.core.metric_book import MetricBook
from registry_ops.core.metrics import LoggedModelRecord, Reading, RunRecord
from registry_ops.core.state import ObservedVersion
from registry_ops.registry.connection import Connection
from registry_ops.registry.reads import in_filters

__all__ = ["MetricReads"]

_EXPERIMENTS_PAGE = 1_000  # server maximum for search_experiments


def _reading(metric: Any, model_id: str | None, run_id: str | None) -> Reading:
    """A Reading from an MLflow ``Metric`` (entity or proto: the same fields)."""
    return Reading(
        key=metric.key,
        value=float(metric.value),
        step=int(metric.step or 0),
        timestamp=int(metric.timestamp or 0),
        run_id=(getattr(metric, "run_id", None) or run_id) or None,
        model_id=model_id,
        dataset=getattr(metric, "dataset_name", None) or None,
        digest=getattr(metric, "dataset_digest", None) or None,
    )


def _run_record(run: Any) -> RunRecord:
    run_id = run.info.run_id
    # RunData keeps only values by key; its proto keeps each latest value's step and time.
    latest = {m.key: _reading(m, None, run_id) for m in run.data.to_proto().metrics}
    outputs = getattr(run, "outputs", None)
    models = tuple(sorted(o.model_id for o in (outputs.model_outputs if outputs else ()) or ()))
    return RunRecord(
        run_id=run_id,
        metrics=latest,
        deleted=str(run.info.lifecycle_stage) == "deleted",
        models=models,
    )


def _model_record(model: Any) -> LoggedModelRecord:
    readings = [_reading(m, model.model_id, None) for m in model.metrics or ()]
    return LoggedModelRecord.of(model.model_id, model.source_run_id or None, readings)


class MetricReads(Connection):
    """What gates, ``status`` and ``compare`` read as metric evidence."""

    _experiment_ids: list[str] | None = None

    def read_metrics(self, versions: Iterable[ObservedVersion]) -> MetricBook:
        """The runs and logged models ``versions`` name, in a few batched searches."""
        runs, models = MetricBook.wanted(versions)
        return self.read_sources(runs, models)

    def read_sources(self, run_ids: Iterable[str], model_ids: Iterable[str]) -> MetricBook:
        """These runs and logged models (those not found are absent: deleted)."""
        book = MetricBook(asked_runs=set(run_ids), asked_models=set(model_ids))
        if book.asked_runs:
            book.runs = self._runs(sorted(book.asked_runs))
        if book.asked_models:
            book.models = self._logged_models(sorted(book.asked_models))
        return book

    def _experiments(self) -> list[str]:
        if self._experiment_ids is None:
            from mlflow.entities import ViewType

            # Deleted experiments too: a registered version's run or model may live in one.
            self._experiment_ids = [
                e.experiment_id
                for e in self.pages(
                    self.client.search_experiments,
                    view_type=ViewType.ALL,
                    max_results=_EXPERIMENTS_PAGE,
                )
            ]
        return self._experiment_ids

    def _runs(self, ids: list[str]) -> dict[str, RunRecord]:
        """The latest metrics, lifecycle and logged models of each run (deleted ones too)."""
        out: dict[str, RunRecord] = {}
        with self.calling("run metrics read"):
            from mlflow.entities import ViewType

            experiments = self._experiments()
            for flt, chunk in in_filters("attributes.run_id", ids):
                for run in self.pages(
                    self.client.search_runs,
                    experiment_ids=experiments,
                    filter_string=flt,
                    run_view_type=ViewType.ALL,
                    max_results=len(chunk),
                ):
                    out[run.info.run_id] = _run_record(run)
        return out

    def _logged_models(self, ids: list[str]) -> dict[str, LoggedModelRecord]:
        """Every metric value (with dataset and step) of each logged model."""
        out: dict[str, LoggedModelRecord] = {}
        with self.calling("logged model metrics read"):
            experiments = self._experiments()
            for flt, chunk in in_filters("attributes.model_id", ids):
                for model in self.pages(
                    self.client.search_logged_models,
                    experiment_ids=experiments,
                    filter_string=flt,
                    max_results=len(chunk),
                ):
                    out[model.model_id] = _model_record(model)
        return out
