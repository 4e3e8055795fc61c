"""What was read of the runs and logged models a set of versions names, and the pins of a
saved plan.

A :class:`MetricBook` holds the runs and logged models one batched read
found, and which ones it asked for: asked for and absent means deleted, which
a message must say (a run removed by ``mlflow gc`` is not "missing a
metric"). ``book.of(version)`` is that version's
:class:`~registry_ops.core.metrics.VersionMetrics`. A saved plan pins each
metric a gate read (:func:`pin_reads`); apply reads the book again and
compares.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from registry_ops.core.metrics import (
    LoggedModelRecord,
    Reading,
    RunRecord,
    VersionMetrics,
    label,
)
from registry_ops.core.state import ObservedVersion

__all__ = ["MetricBook", "pin_reads"]


@dataclass
class MetricBook:
    """Runs and logged models as read for a set of versions, and which ones were asked for
    (asked for and absent means deleted)."""

    runs: dict[str, RunRecord] = field(default_factory=dict)
    models: dict[str, LoggedModelRecord] = field(default_factory=dict)
    asked_runs: set[str] = field(default_factory=set)
    asked_models: set[str] = field(default_factory=set)

    @staticmethod
    def wanted(versions: Iterable[ObservedVersion]) -> tuple[set[str], set[str]]:
        """The run ids and logged-model ids to read for ``versions``."""
        runs: set[str] = set()
        models: set[str] = set()
        for v in versions:
            if v.run_id:
                runs.add(v.run_id)
            if v.model_id:
                models.add(v.model_id)
        return runs, models

    def missing(self, versions: Iterable[ObservedVersion]) -> tuple[set[str], set[str]]:
        """What :meth:`wanted` names that was not asked for yet."""
        runs, models = self.wanted(versions)
        return runs - self.asked_runs, models - self.asked_models

    def merge(self, other: MetricBook) -> None:
        """Add what another read found."""
        self.runs.update(other.runs)
        self.models.update(other.models)
        self.asked_runs |= other.asked_runs
        self.asked_models |= other.asked_models

    def of(self, version: ObservedVersion) -> VersionMetrics:
        """The evidence of ``version``.

        Raises:
            LookupError: its run or logged model was never asked for (a caller's bug).
        """
        pairs = ((version.run_id, self.asked_runs), (version.model_id, self.asked_models))
        for wanted, asked in pairs:
            if wanted and wanted not in asked:
                raise LookupError(f"{wanted} was not read")
        return VersionMetrics(
            version=version.version,
            model_id=version.model_id,
            run_id=version.run_id,
            model=self.models.get(version.model_id) if version.model_id else None,
            run=self.runs.get(version.run_id) if version.run_id else None,
        )

    @classmethod
    def of_runs(
        cls, values: Mapping[str, Mapping[str, float]], asked: Iterable[str] = ()
    ) -> MetricBook:
        """A book of runs with plain values (runs in ``asked`` but not in ``values``
        are gone): for callers and tests that have numbers only."""
        runs = {
            run_id: RunRecord(run_id, {k: Reading(k, v, run_id=run_id) for k, v in m.items()})
            for run_id, m in values.items()
        }
        return cls(runs=runs, asked_runs=set(asked) | set(values))


def pin_reads(
    metrics: VersionMetrics, specs: Iterable[tuple[str, str | None]]
) -> dict[str, dict[str, Any]]:
    """What a saved plan pins of one version: each (metric, dataset) as read, with its
    source, or why it is missing. Apply reads them again and compares."""
    out: dict[str, dict[str, Any]] = {}
    for metric, dataset in sorted(set(specs), key=lambda s: (s[0], s[1] or "")):
        read = metrics.read(metric, dataset)
        # What the gate asked for, next to what it found (a digest asked, a name found).
        out[label(metric, dataset)] = {"metric": metric, "asked_dataset": dataset, **read.pin()}
    return out
