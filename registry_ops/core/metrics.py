"""Metric evidence of model versions: each value with where it came from.

MLflow 3 logs metrics on the *logged model* (``log_metric(..., model_id=...)``),
optionally per dataset, and one run may log several models (a sweep) or none
may exist (a model logged without a run). So a version's metric is read, in
this order, from:

1. its logged model (the version's ``model_id``, or its ``models:/m-...``
   source): the latest value of the key on each dataset it was logged for;
2. its source run, when the version has no logged model, or when the logged
   model lacks the key and the run logged no other model (then the run's value
   can only be about this one; in a sweep it could be any model's).

A key with values for several datasets is never resolved silently: the
caller names the dataset (by name or digest), or the read fails listing
them. Every :class:`Reading` names its logged model or run, dataset and
step; every :class:`Missing` says why in one sentence. Pure data: the
registry adapter fills a :class:`~registry_ops.core.metric_book.MetricBook`
in batched reads.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "GONE_RUN",
    "LoggedModelRecord",
    "Missing",
    "Reading",
    "RunRecord",
    "VersionMetrics",
    "label",
    "latest",
]

#: Why a run registry-ops was asked about is not found (runs of deleted
#: experiments are searched too, so only a permanent deletion hides one).
GONE_RUN = "no longer exists (deleted permanently, e.g. by `mlflow gc`)"
_LISTED = 5  # metric names quoted in a "missing" message


@dataclass(frozen=True)
class Reading:
    """One metric value and where it came from."""

    key: str
    value: float
    step: int = 0
    timestamp: int = 0
    run_id: str | None = None  # the run the value was logged in
    model_id: str | None = None  # the logged model it is on; None for a run's own metric
    dataset: str | None = None
    digest: str | None = None
    note: str | None = None  # what a reviewer should know, e.g. the run is deleted

    @property
    def origin(self) -> str:
        """``logged model m-...`` or ``run ...``."""
        return f"logged model {self.model_id}" if self.model_id else f"run {self.run_id}"

    @property
    def label(self) -> str:
        """How status and compare name the value: ``val_loss``, ``accuracy[validation]``."""
        return label(self.key, self.dataset or self.digest)

    @property
    def dataset_label(self) -> str:
        """``validation (digest 59f5b6ae)``, or ``no dataset``."""
        if self.dataset is None and self.digest is None:
            return "no dataset"
        name = self.dataset if self.dataset is not None else "unnamed dataset"
        return f"{name} (digest {self.digest})" if self.digest else name

    def describe(self) -> str:
        """Where the value came from, for a sentence: ``logged model m-1, dataset validation
        (digest 59f5b6ae), step 0``."""
        parts = [self.origin]
        if self.dataset is not None or self.digest is not None:
            parts.append(f"dataset {self.dataset_label}")
        parts.append(f"step {self.step}")
        text = ", ".join(parts)
        return f"{text}; {self.note}" if self.note else text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the value and its source (what gate evidence and plans record)."""
        out: dict[str, Any] = {
            "value": self.value,
            "source": "logged_model" if self.model_id else "run",
            "model_id": self.model_id,
            "run_id": self.run_id,
            "dataset": self.dataset,
            "dataset_digest": self.digest,
            "step": self.step,
        }
        if self.note:
            out["note"] = self.note
        return out

    def pin(self) -> dict[str, Any]:
        """What a saved plan compares: :meth:`to_dict` (the time of logging aside:
        the same value logged again is the same evidence)."""
        return self.to_dict()


@dataclass(frozen=True)
class Missing:
    """A metric a version has no usable value for, and why."""

    key: str
    reason: str

    def pin(self) -> dict[str, Any]:
        """What a saved plan compares."""
        return {"missing": self.reason}


def label(key: str, dataset: str | None) -> str:
    """How a metric read for a dataset is named everywhere (gate names, plans, status,
    compare): ``val_loss``, ``accuracy[validation]``."""
    return key if dataset is None else f"{key}[{dataset}]"


def _order(reading: Reading) -> tuple[int, int, float]:
    # MLflow's own rule for a run's latest value: highest step, then time, then value.
    value = reading.value if not math.isnan(reading.value) else -math.inf
    return (reading.step, reading.timestamp, value)


def latest(readings: Iterable[Reading]) -> dict[str, tuple[Reading, ...]]:
    """The latest value of each key on each dataset (name and digest), keys sorted."""
    best: dict[tuple[str, str | None, str | None], Reading] = {}
    for r in readings:
        slot = (r.key, r.dataset, r.digest)
        if slot not in best or _order(r) > _order(best[slot]):
            best[slot] = r
    out: dict[str, list[Reading]] = {}
    for slot in sorted(best, key=lambda s: (s[0], s[1] or "", s[2] or "")):
        out.setdefault(slot[0], []).append(best[slot])
    return {k: tuple(v) for k, v in out.items()}


@dataclass(frozen=True)
class RunRecord:
    """A run as metric evidence: its latest metrics, whether it is in the trash, and the
    logged models it produced."""

    run_id: str
    metrics: dict[str, Reading] = field(default_factory=dict)
    deleted: bool = False
    models: tuple[str, ...] = ()

    @property
    def note(self) -> str | None:
        """What to say about values read from it."""
        if not self.deleted:
            return None
        return f"run {self.run_id} is deleted (in MLflow's trash: `mlflow gc` would remove it)"


@dataclass(frozen=True)
class LoggedModelRecord:
    """A logged model as metric evidence: the latest value of each key per dataset."""

    model_id: str
    source_run_id: str | None
    metrics: dict[str, tuple[Reading, ...]] = field(default_factory=dict)

    @classmethod
    def of(
        cls, model_id: str, source_run_id: str | None, readings: Iterable[Reading]
    ) -> LoggedModelRecord:
        """From every value MLflow holds (its history included), keeping the latest ones."""
        return cls(model_id, source_run_id or None, latest(readings))


def _listing(readings: Iterable[Reading]) -> str:
    return ", ".join(f"{r.dataset_label}: {r.value:.6g}" for r in readings)


def _pick(key: str, found: tuple[Reading, ...], dataset: str | None) -> Reading | Missing:
    """The one value of ``key`` for ``dataset`` (any, when there is only one)."""
    where = found[0].origin
    if dataset is None:
        if len(found) == 1:
            return found[0]
        return Missing(
            key,
            f"metric '{key}' of {where} has values for {len(found)} datasets "
            f"({_listing(found)}): name one with `dataset:`",
        )
    match = tuple(r for r in found if dataset in (r.dataset, r.digest))
    if len(match) == 1:
        return match[0]
    if not match:
        return Missing(
            key,
            f"metric '{key}' of {where} has no value for dataset '{dataset}' "
            f"(it has: {_listing(found)})",
        )
    return Missing(
        key,
        f"metric '{key}' of {where} has values for {len(match)} datasets named "
        f"'{dataset}' ({_listing(match)}): name one by its digest",
    )


@dataclass(frozen=True)
class VersionMetrics:
    """The metric evidence of one version: its logged model and its source run, as read.

    ``model`` is None when the version has no logged model or it was not found
    (``model_gone``); ``run`` likewise (``run_gone``: permanently deleted).
    """

    version: int
    model_id: str | None = None
    run_id: str | None = None
    model: LoggedModelRecord | None = None
    run: RunRecord | None = None

    @property
    def model_gone(self) -> bool:
        """The version names a logged model that was not found: deleted."""
        return self.model_id is not None and self.model is None

    @property
    def run_gone(self) -> bool:
        """The version names a source run that was not found: deleted permanently."""
        return self.run_id is not None and self.run is None

    @property
    def origin(self) -> str:
        """Where this version's metrics are read: ``logged model m-...``, ``run ...``."""
        if self.model_id is not None:
            return f"logged model {self.model_id}"
        return f"run {self.run_id}" if self.run_id else "nowhere (no logged model, no run)"

    def _run_speaks_for_model(self) -> bool:
        """The run's values can be this model's: the run logged no other model."""
        return self.run is not None and set(self.run.models) <= {self.model_id}

    def found(self, key: str) -> tuple[Reading, ...]:
        """Every value of ``key`` this version has (one per dataset), from the source in
        force: its logged model, else its run (see the module docstring)."""
        run_note = self.run.note if self.run is not None else None
        if self.model is not None and key in self.model.metrics:
            # The source run's state concerns the model's values too (its metrics go with it).
            return tuple(_noted(r, run_note) for r in self.model.metrics[key])
        if self.run is None or key not in self.run.metrics:
            return ()
        if self.model_id is None:
            return (_noted(self.run.metrics[key], run_note),)
        if not self._run_speaks_for_model() or self.model_gone:
            return ()
        fallback = (
            f"not on logged model {self.model_id}: the value of its source run, which "
            "logged no other model"
        )
        return (_noted(self.run.metrics[key], fallback, run_note),)

    def keys(self) -> list[str]:
        """Every metric key readable for this version, sorted."""
        keys: set[str] = set(self.model.metrics) if self.model else set()
        run_counts = self.model_id is None or (
            self.model is not None and self._run_speaks_for_model()
        )
        if self.run is not None and run_counts:
            keys.update(self.run.metrics)
        return sorted(keys)

    def get(self, key: str, default: float | None = None) -> float | None:
        """The value of ``key`` when it has exactly one, else ``default``: plain-number
        access for a gate kind that needs no source (:meth:`read` says why not)."""
        read = self.read(key)
        return read.value if isinstance(read, Reading) else default

    def table(self) -> dict[str, Reading]:
        """Every value readable for this version, by :attr:`Reading.label`."""
        return {r.label: r for key in self.keys() for r in self.found(key)}

    def read(self, key: str, dataset: str | None = None) -> Reading | Missing:
        """The value of ``key`` (for ``dataset``, by name or digest), or why there is none."""
        found = self.found(key)
        if found:
            return _pick(key, found, dataset)
        return Missing(key, self._why_missing(key))

    def _why_missing(self, key: str) -> str:
        v = f"version {self.version}"
        if self.model_id is None and self.run_id is None:
            return f"{v} has no logged model and no source run, so metric '{key}' is unknown"
        if self.model_gone:
            return (
                f"logged model {self.model_id} (the source of {v}) no longer exists (deleted), "
                f"so metric '{key}' is unknown"
            )
        if self.model_id is None:
            if self.run is None:
                return (
                    f"run {self.run_id} (the source run of {v}) {GONE_RUN}, "
                    f"so metric '{key}' is unknown"
                )
            return f"metric '{key}' is missing from run {self.run_id}{_has(self.run.metrics)}"
        assert self.model is not None
        has = _has(self.model.metrics)
        why = f"metric '{key}' is missing from logged model {self.model_id}{has}"
        if self.run_id is None:
            return why + f" ({v} has no source run)"
        if self.run is None:
            return (
                f"{why}; its source run {self.run_id} {GONE_RUN}, and the metrics logged "
                "in it went with it"
            )
        if key in self.run.metrics:
            others = len(set(self.run.models) | {self.model_id})
            return (
                f"{why}; its source run {self.run_id} has a value, but the run logged "
                f"{others} models, so that value need not be this model's"
            )
        return f"{why} and from its source run {self.run_id}"


def _noted(reading: Reading, *notes: str | None) -> Reading:
    said = "; ".join(n for n in notes if n)
    return replace(reading, note=said) if said else reading


def _has(metrics: Mapping[str, object]) -> str:
    if not metrics:
        return " (it has no metrics)"
    names = sorted(metrics)
    more = f", ... {len(names) - _LISTED} more" if len(names) > _LISTED else ""
    return f" (it has: {', '.join(names[:_LISTED])}{more})"
