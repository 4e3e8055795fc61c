"""Live state for people: who holds which alias and stage, with key metrics.

The metrics are the ones the model's gates name, read exactly as the gates
read them (:meth:`~registry_ops.core.metrics.VersionMetrics.read`: the
logged model's value, else the source run's, for the gate's dataset), each
with its source; a metric with values for several datasets and no dataset
named shows every one of them. Built here as plain data (:class:`StatusReport`);
renderers live in :mod:`registry_ops.render.status`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from registry_ops.core.metric_book import MetricBook
from registry_ops.core.metrics import Reading, VersionMetrics
from registry_ops.core.model import Desired
from registry_ops.core.state import Observed, ObservedVersion
from registry_ops.reports.compare import MetricsSource

MAX_METRICS = 4


@dataclass
class Holding:
    """One target and the version that holds it, with its metrics and their sources."""

    target: str
    version: int
    metrics: dict[str, float] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    origin: str = ""  # where the version's metrics are read: logged model or run


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
                {
                    "target": h.target,
                    "version": h.version,
                    "metrics": h.metrics,
                    "sources": h.sources,
                    "origin": h.origin,
                }
                for h in self.holdings
            ],
        }


def shown(
    metrics: VersionMetrics, gated: list[tuple[str, str | None]]
) -> list[tuple[str, Reading]]:
    """The values to show of one version, labelled (``accuracy[validation]``): each gated
    (metric, dataset) as the gate reads it, every dataset's value when the gate names none
    and there are several; without gates, the first few metrics."""
    specs = gated or [(k, None) for k in metrics.keys()[:MAX_METRICS]]
    out: dict[str, Reading] = {}
    for key, dataset in specs:
        read = metrics.read(key, dataset)
        if isinstance(read, Reading):
            out[read.label] = read
        elif dataset is None:
            out.update((r.label, r) for r in metrics.found(key))
    return list(out.items())


def _gated(name: str, desired: Desired | None) -> list[tuple[str, str | None]]:
    """The (metric, dataset) pairs the model's gates read, in policy order."""
    manifest = desired.manifests.get(name) if desired else None
    gated: list[tuple[str, str | None]] = []
    if manifest and desired:
        for policy_name in dict.fromkeys(manifest.gates.values()):
            policy = desired.policies.get(policy_name)
            for gate in policy.gates if policy else ():
                metric = gate.params.get("metric")
                if not isinstance(metric, str):
                    continue
                spec = (metric, gate.params.get("dataset"))
                if spec not in gated:
                    gated.append(spec)
    return gated


def collect(
    names: list[str],
    observed: Observed,
    book: MetricBook,
    desired: Desired | None,
) -> list[ModelStatus]:
    """Status rows for ``names``; metrics are those the model's gates name, else the first few."""
    out = []
    for name in names:
        model = observed.get(name)
        if model is None:
            continue
        manifest = desired.manifests.get(name) if desired else None
        gated = _gated(name, desired)
        holdings = []
        targets = [(f"alias {a}", v) for a, v in sorted(model.aliases.items())]
        for stage in ("Production", "Staging"):
            targets += [(f"stage {stage}", v) for v in model.stage_holders(stage)]
        for target, version in targets:
            ov = model.versions.get(version)
            if ov is None:
                holdings.append(Holding(target, version))
                continue
            metrics = book.of(ov)
            rows = shown(metrics, gated)
            holdings.append(
                Holding(
                    target,
                    version,
                    {k: r.value for k, r in rows},
                    {k: r.to_dict() for k, r in rows},
                    metrics.origin,
                )
            )
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


def holder_versions(names: list[str], observed: Observed) -> list[ObservedVersion]:
    """Every version holding an alias or a live stage: whose metrics status reads."""
    versions: list[ObservedVersion] = []
    for name in names:
        model = observed.get(name)
        if model is None:
            continue
        held = set(model.aliases.values())
        held.update(model.stage_holders("Production") + model.stage_holders("Staging"))
        versions += [model.versions[v] for v in sorted(held) if v in model.versions]
    return versions


@dataclass
class StatusReport:
    """What ``status`` shows: a row per model found, and the names asked for that are
    not registered."""

    rows: list[ModelStatus]
    missing: list[str]
    #: Those of ``missing`` that are MLflow prompts (registered, but not as models).
    prompts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``status --format json``)."""
        return {
            "models": [r.to_dict() for r in self.rows],
            "missing": self.missing,
            "prompts": self.prompts,
        }


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
    prompts = sorted(registry.prompts(missing)) if missing else []
    book = registry.read_metrics(holder_versions(names, observed))
    return StatusReport(collect(names, observed, book, desired), missing, prompts)
