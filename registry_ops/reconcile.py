"""The flow of ``plan`` and ``apply``: load, observe, diff, gate, execute.

The CLI turns options into calls to these functions and their results into
output and exit codes; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from registry_ops import gates, gitinfo
from registry_ops.errors import RegistryOpsError
from registry_ops.model import Desired
from registry_ops.plan import Plan
from registry_ops.planner import plan_models
from registry_ops.redact import redact

if TYPE_CHECKING:  # the adapter imports mlflow: keep it off validate's path
    from registry_ops.mlflow_adapter import Registry

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"  # MLflow's own default


@dataclass(frozen=True)
class Target:
    """Where the manifests live and which MLflow they describe."""

    root: Path
    tracking_uri: str
    registry_uri: str | None

    def connect(self) -> Registry:
        """A registry client for this target (imports mlflow on first use)."""
        from registry_ops.mlflow_adapter import Registry

        return Registry(self.tracking_uri, self.registry_uri)


def select(desired: Desired, names: Sequence[str]) -> list[str]:
    """Model names to work on: ``names`` if given (each must have a manifest), else all."""
    unknown = [n for n in names if n not in desired.manifests]
    if unknown:
        managed = ", ".join(sorted(desired.manifests)) or "none"
        raise RegistryOpsError(
            f"no manifest for model(s): {', '.join(unknown)} (manifests cover: {managed})"
        )
    return list(dict.fromkeys(names)) if names else sorted(desired.manifests)


def make_plan(desired: Desired, names: Sequence[str], target: Target, registry: Registry) -> Plan:
    """Diff the manifests for ``names`` against the live registry and run their gates."""
    chosen = select(desired, names)
    observed = registry.read_state(chosen)
    model_plans = plan_models([desired.manifests[n] for n in chosen], observed)
    gates.evaluate(model_plans, desired, observed, registry.run_metrics)
    git = gitinfo.describe(target.root)
    return Plan(
        models=model_plans,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        tracking_uri=redact(target.tracking_uri),
        registry_uri=redact(target.registry_uri or target.tracking_uri),
        git=git.to_dict() if git else None,
    )


def narrow(plan: Plan, names: Sequence[str]) -> Plan:
    """A saved plan limited to ``names`` (all of it when empty)."""
    if not names:
        return plan
    known = {m.model for m in plan.models}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise RegistryOpsError(f"the saved plan does not cover model(s): {', '.join(unknown)}")
    plan.models = [m for m in plan.models if m.model in names]
    return plan
