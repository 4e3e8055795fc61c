"""Live state for people: who holds which alias and stage, with key metrics.

Built here as plain data (:class:`StatusReport`); renderers live in
:mod:`registry_ops.render.status`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from registry_ops.core.model import Desired
from registry_ops.core.state import Observed
from registry_ops.reports.compare import MetricsSource

MAX_METRICS = 4


@dataclass
class Holding:
    """One target and the version that holds it."""

    target: str
    version: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class ModelStatus:
    """The live state of one model."""

    model: str
    manifest: str | None
    holdings: list[Holding]
    versions: int
    archived: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "model": self.model,
            "manifest": self.manifest,
            "versions": self.versions,
            "archived": self.archived,
            "holders": [
                {"target": h.target, "version": h.version, "metrics": h.metrics}
                for h in self.holdings
            ],
        }


def collect(
    names: list[str],
    observed: Observed,
    metrics: dict[str, dict[str, float]],
    desired: Desired | None,
) -> list[ModelStatus]:
    """Status rows for ``names``; metrics are those the model's gates name, else the first few."""
    out = []
    for name in names:
        model = observed.get(name)
        if model is None:
            continue
        manifest = desired.manifests.get(name) if desired else None
        gated: list[str] = []
        if manifest and desired:
            for policy_name in dict.fromkeys(manifest.gates.values()):
                policy = desired.policies.get(policy_name)
                for gate in policy.gates if policy else ():
                    metric = gate.params.get("metric")
                    if metric and metric not in gated:
                        gated.append(metric)
        holdings = []
        targets = [(f"alias {a}", v) for a, v in sorted(model.aliases.items())]
        for stage in ("Production", "Staging"):
            targets += [(f"stage {stage}", v) for v in model.stage_holders(stage)]
        for target, version in targets:
            ov = model.versions.get(version)
            run_metrics = metrics.get(ov.run_id, {}) if ov and ov.run_id else {}
            keys = [k for k in gated if k in run_metrics] or sorted(run_metrics)[:MAX_METRICS]
            holdings.append(Holding(target, version, {k: run_metrics[k] for k in keys}))
        out.append(
            ModelStatus(
                model=name,
                manifest=manifest.file if manifest else None,
                holdings=holdings,
                versions=len(model.versions),
                archived=len(model.stage_holders("Archived")),
            )
        )
    return out


def holder_runs(names: list[str], observed: Observed) -> set[str]:
    """Run ids of every version holding an alias or a live stage: what status fetches."""
    runs: set[str] = set()
    for name in names:
        model = observed.get(name)
        if model is None:
            continue
        held = set(model.aliases.values())
        held.update(model.stage_holders("Production") + model.stage_holders("Staging"))
        runs.update(
            r for v in held if (r := model.versions[v].run_id if v in model.versions else None)
        )
    return runs


@dataclass
class StatusReport:
    """What ``status`` shows: a row per model found, and the names asked for that are
    not registered."""

    rows: list[ModelStatus]
    missing: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``status --format json``)."""
        return {"models": [r.to_dict() for r in self.rows], "missing": self.missing}


def report(registry: MetricsSource, models: Sequence[str], desired: Desired | None) -> StatusReport:
    """The status of ``models``; when none are named, of every model the manifests
    manage, else of every registered model. Two batched reads."""
    if models:
        names: list[str] | None = list(dict.fromkeys(models))
    elif desired is not None and desired.manifests:
        names = sorted(desired.manifests)
    else:
        names = None
    observed = registry.read_state(names)
    names = names or sorted(observed.models)
    missing = [n for n in names if n not in observed.models]
    metrics = registry.run_metrics(holder_runs(names, observed))
    return StatusReport(collect(names, observed, metrics, desired), missing)
