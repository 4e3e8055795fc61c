"""Live state for people: who holds which alias and stage, with key metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any

from registry_ops.core.model import Desired
from registry_ops.core.state import Observed

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


def render_text(rows: list[ModelStatus], stream: IO[str]) -> None:
    """A block per model: targets, their versions and metrics."""
    for row in rows:
        where = f"  ({row.manifest})" if row.manifest else "  (no manifest)"
        stream.write(f"{row.model}{where}\n")
        if not row.holdings:
            stream.write("  no aliases, nothing in Production or Staging\n")
        width = max((len(h.target) for h in row.holdings), default=0)
        for h in row.holdings:
            metrics = "  ".join(f"{k}={v:.4g}" for k, v in h.metrics.items())
            stream.write(f"  {h.target.ljust(width)}  v{h.version:<4} {metrics}".rstrip() + "\n")
        plural = "s" if row.versions != 1 else ""
        stream.write(f"  {row.versions} version{plural}, {row.archived} archived\n\n")
