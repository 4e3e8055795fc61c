"""Execute a plan: check it is fresh, apply in order, stamp provenance, verify.

Every change is idempotent on its own, so a run that dies half-way is
repaired by planning and applying again. Provenance tags are written right
after each change, so what was applied is stamped even if a later change fails.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from registry_ops.errors import ApplyFailed, StalePlan
from registry_ops.mlflow_adapter import Registry
from registry_ops.model import ModelManifest
from registry_ops.plan import Change, ModelPlan, Plan
from registry_ops.planner import plan_models
from registry_ops.render import describe as describe_change
from registry_ops.state import PROVENANCE_PREFIX, Observed, ObservedModel, fingerprint, snapshot_of

P = PROVENANCE_PREFIX


@dataclass(frozen=True)
class Provenance:
    """Who applies, from which commit, when."""

    commit: str
    actor: str
    applied_at: str

    @classmethod
    def current(cls, commit: str | None) -> Provenance:
        """Provenance for now, from the environment (CI's actor, else the local user)."""
        actor = os.environ.get("GITHUB_ACTOR") or _user()
        now = datetime.now(UTC).isoformat(timespec="seconds")
        return cls(commit=commit or "unknown", actor=actor, applied_at=now)


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


@dataclass
class ApplyResult:
    """What an apply did."""

    applied: list[ModelPlan] = field(default_factory=list)
    blocked: list[ModelPlan] = field(default_factory=list)

    @property
    def change_count(self) -> int:
        """Number of changes applied."""
        return sum(len(m.changes) for m in self.applied)


def check_fresh(plan: Plan, observed: Observed) -> None:
    """Raise StalePlan unless every model is still as the plan saw it."""
    stale = []
    for model_plan in plan.models:
        now = snapshot_of(observed.get(model_plan.model))
        if fingerprint(now) != model_plan.fingerprint:
            stale.append(f"  {model_plan.model}: {_what_moved(model_plan.snapshot, now)}")
    if stale:
        raise StalePlan(
            "the saved plan is stale: the registry changed since it was made\n"
            + "\n".join(stale)
            + "\nRun `registry-ops plan` again."
        )


def _what_moved(before: dict[str, object] | None, after: dict[str, object] | None) -> str:
    if before is None or after is None:
        return "model was created or deleted"
    moved = [key for key in sorted(before) if before.get(key) != after.get(key)]
    return (", ".join(moved) or "state") + " changed"


def apply_plan(
    plan: Plan,
    registry: Registry,
    provenance: Provenance,
    desired: Sequence[ModelManifest] = (),
    progress: Callable[[Change], None] | None = None,
) -> ApplyResult:
    """Apply every unblocked model's changes, then re-read and verify them.

    With the manifests (``desired``), verification re-plans the applied models
    and fails if anything still differs, including changes another writer
    made meanwhile; a saved plan alone is verified change by change.
    ``progress`` is told of each change once it is applied and stamped.
    """
    result = ApplyResult()
    for model_plan in plan.models:
        if not model_plan.changes:
            continue
        if model_plan.blocked:
            result.blocked.append(model_plan)
            continue
        for change in model_plan.changes:
            _execute(change, registry)
            _stamp_version(change, model_plan.manifest, registry, provenance)
            if progress:
                progress(change)
        registry.set_model_tag(model_plan.model, P + "last_applied_commit", provenance.commit)
        registry.set_model_tag(model_plan.model, P + "last_applied_at", provenance.applied_at)
        result.applied.append(model_plan)
    if result.applied:
        observed = registry.read_state([m.model for m in result.applied])
        verify(result.applied, observed)
        applied = {m.model for m in result.applied}
        leftover = [
            f"  {c.model}: {describe_change(c)}"
            for m in plan_models([d for d in desired if d.model in applied], observed)
            for c in m.changes
        ]
        if leftover:
            raise ApplyFailed(
                "after applying, the registry still differs from the manifests "
                "(another writer may be changing it; plan again):\n" + "\n".join(leftover)
            )
    return result


def _execute(change: Change, registry: Registry) -> None:
    model, action = change.model, change.action
    if action == "update_description":
        registry.update_description(model, change.value or "")
    elif action == "set_model_tag":
        registry.set_model_tag(model, change.key or "", change.value or "")
    elif action == "delete_model_tag":
        registry.delete_model_tag(model, change.key or "")
    elif action == "set_alias":
        registry.set_alias(model, change.alias or "", _version(change))
    elif action == "delete_alias":
        registry.delete_alias(model, change.alias or "")
    elif action == "transition_stage":
        registry.transition_stage(model, _version(change), change.stage or "")
    else:  # pragma: no cover - Plan.from_dict refuses unknown actions
        raise ApplyFailed(f"unknown action {action}")


def _version(change: Change) -> int:
    if change.version is None:
        raise ApplyFailed(f"{change.model}: {change.action} without a version")
    return change.version


def _stamp_version(change: Change, manifest: str, registry: Registry, prov: Provenance) -> None:
    """Record on the version who put it where, from which commit and manifest."""
    if change.version is None or change.target is None:
        return
    tags = {
        P + "commit": prov.commit,
        P + "manifest": manifest,
        P + "applied_at": prov.applied_at,
        P + "applied_by": prov.actor,
        P + "target": change.target,
        # One tag per target ever held: later gates ask "has it held challenger?".
        P + "held." + change.target.replace(":", "."): prov.applied_at,
    }
    registry.set_version_tags(change.model, change.version, tags)


def verify(applied: list[ModelPlan], observed: Observed) -> None:
    """Raise ApplyFailed listing every change the registry does not reflect."""
    wrong = []
    for model_plan in applied:
        model = observed.get(model_plan.model)
        for change in model_plan.changes:
            if model is None or not _holds(change, model):
                wrong.append(
                    f"  {change.model}: {change.action} {change.target or change.key or ''}"
                )
    if wrong:
        raise ApplyFailed(
            "after applying, the registry does not show these changes "
            "(another writer may have moved them; plan again):\n" + "\n".join(wrong)
        )


def _holds(change: Change, model: ObservedModel) -> bool:
    action = change.action
    if action == "update_description":
        return (model.description or "") == (change.value or "")
    if action == "set_model_tag":
        return model.tags.get(change.key or "") == change.value
    if action == "delete_model_tag":
        return change.key not in model.tags
    if action == "set_alias":
        return model.aliases.get(change.alias or "") == change.version
    if action == "delete_alias":
        return change.alias not in model.aliases
    version = model.versions.get(change.version or -1)
    return version is not None and version.stage == change.stage
