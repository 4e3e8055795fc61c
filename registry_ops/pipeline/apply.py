"""Execute a plan: lease, check freshness, apply in order, stamp provenance, verify.

For the models a plan changes (blocked ones are left alone):

1. read them, and refuse the whole plan (``StalePlan``) if any moved since the
   plan saw it, or any of the evidence its gates read changed;
2. take each model's lease (:mod:`registry_ops.lease`); a model leased by a
   live apply elsewhere is refused and named, the others go on;
3. per model, re-read it under the lease right before writing, apply its
   changes in plan order, and stamp each version it touched once its last
   change landed (:mod:`registry_ops.provenance`); then release the lease;
4. re-read, verify every change, and re-plan against the manifests.

Every change is idempotent, and a holder left unstamped by a crash is a
change the planner makes, so re-running after any failure converges. A
failure stops the apply and the result says what landed and what did not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from registry_ops.core.authentic import authenticated, seal_provenance
from registry_ops.core.changes import Change
from registry_ops.core.model import ModelManifest
from registry_ops.core.plan import ModelPlan, Plan
from registry_ops.core.planner import plan_models
from registry_ops.core.provenance import PROVENANCE_TAG, Provenance, stamp
from registry_ops.core.records import RecordKey
from registry_ops.core.state import Observed, ObservedModel
from registry_ops.core.text import printable
from registry_ops.errors import ApplyFailed, LeaseHeld, RegistryOpsError, StalePlan
from registry_ops.pipeline.fresh import check_fresh
from registry_ops.pipeline.lease import LEASE_TAG, Lease, released, settle
from registry_ops.registry import Registry


@dataclass
class ModelOutcome:
    """What happened to one model's changes."""

    plan: ModelPlan
    landed: list[Change] = field(default_factory=list)
    failed: Change | None = None
    failed_landed: bool | None = None  # did the change in flight land? None: unknown
    error: str | None = None

    @property
    def pending(self) -> list[Change]:
        """Changes not attempted (after a failure, or when refused)."""
        done = {id(c) for c in self.landed}
        if self.failed is not None:
            done.add(id(self.failed))
        return [c for c in self.plan.changes if id(c) not in done]


@dataclass
class ApplyResult:
    """What an apply did, model by model."""

    outcomes: list[ModelOutcome] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # lease held elsewhere: who and since when
    error: str | None = None  # the failure that stopped the apply, if any
    error_code: int = 1  # its exit code (4 when the model moved under the apply)

    @property
    def applied(self) -> list[ModelPlan]:
        """Models whose changes all landed."""
        return [o.plan for o in self.outcomes if o.error is None and not o.pending]

    @property
    def change_count(self) -> int:
        """Number of changes that landed."""
        return sum(len(o.landed) for o in self.outcomes)


Progress = Callable[[Change], None]


def apply_plan(
    plan: Plan,
    registry: Registry,
    provenance: Provenance,
    desired: Sequence[ModelManifest] = (),
    progress: Progress | None = None,
    admit: Callable[[Sequence[ModelPlan], Observed], None] | None = None,
) -> ApplyResult:
    """Apply every unblocked model's changes under its lease; see the module docstring.

    With the manifests (``desired``), verification re-plans the applied models
    and fails if anything still differs; a saved plan alone is verified change
    by change. ``progress`` is told of each change once it landed. ``admit`` sees
    the models about to change as read right before the leases, and may refuse
    the plan by raising (a saved plan applied already: registry_ops.pipeline.replay).
    """
    result = ApplyResult()
    runnable = [m for m in plan.models if m.changes and not m.blocked]
    if not runnable:
        return result
    # Read again even right after a fresh plan: the lease check must see the
    # registry moments before the lease is written, not when the plan began.
    before = authenticated(registry.read_state([m.model for m in runnable]), RecordKey.from_env())
    if admit is not None:
        admit(runnable, before)
    check_fresh(runnable, before, registry)

    leases: dict[str, Lease] = {}
    try:
        for model_plan in runnable:
            model = before.get(model_plan.model)
            held = Lease.from_tag(model.tags.get(LEASE_TAG) if model else None)
            if held is not None and not held.expired():
                result.refused.append(f"{model_plan.model}: locked by {held.describe()}")
                continue
            lease = Lease.new(provenance.plan, provenance.commit_label)
            registry.set_model_tag(model_plan.model, LEASE_TAG, lease.to_tag())
            leases[model_plan.model] = lease
        if leases:
            time.sleep(settle())  # let a racing writer's lease land before reading back
        for model_plan in runnable:
            mine = leases.get(model_plan.model)
            if mine is None:
                continue
            outcome = ModelOutcome(model_plan)
            result.outcomes.append(outcome)
            try:
                _apply_model(
                    model_plan,
                    mine,
                    registry,
                    provenance,
                    outcome,
                    progress,
                    before.get(model_plan.model),
                )
            except LeaseHeld as exc:
                del leases[model_plan.model]  # not ours any more: never delete it
                result.refused.append(str(exc))
                outcome.error = str(exc)
                continue
            except RegistryOpsError as exc:
                outcome.error = str(exc)
                result.error = f"{printable(model_plan.model)}: {exc}"
                result.error_code = exc.exit_code
                _settle_in_flight(outcome, registry)
                break
            # One write frees the model and records the commit it now reflects.
            lease = leases.pop(model_plan.model)
            key = RecordKey.from_env()
            record = released(
                lease, provenance.commit_label, model_plan.model, key, plan.created_at
            )
            registry.set_model_tag(model_plan.model, LEASE_TAG, record)
    finally:
        # Models not finished: free them, keeping the record of the last full apply.
        for name in leases:
            model = before.get(name)
            _release(registry, name, model.tags.get(LEASE_TAG) if model else None)
    if result.error is None and result.applied:
        try:
            _verify_all(result.applied, registry, desired)
        except ApplyFailed as exc:  # the changes landed: report (and log) them, then fail
            result.error = str(exc)
            result.error_code = exc.exit_code
    return result


def _apply_model(
    model_plan: ModelPlan,
    lease: Lease,
    registry: Registry,
    provenance: Provenance,
    outcome: ModelOutcome,
    progress: Progress | None,
    before: ObservedModel | None,
) -> None:
    name = model_plan.model
    head = registry.read_head(name)
    current = Lease.from_tag(head[0].tags.get(LEASE_TAG) if head else None)
    if current is None or current.token != lease.token:
        who = current.describe() if current else "nobody (the lease tag was removed)"
        raise LeaseHeld(f"{name}: lost the lease before writing; it is held by {who}")
    moved = _moved_since(model_plan, head)
    if head is None or before is None or moved:
        raise StalePlan(
            f"{printable(name)} changed while this apply waited for its lease: "
            f"{moved or 'deleted'}; "
            "plan again"
        )
    live = before
    points = stamp_points(model_plan.changes)
    for index, change in enumerate(model_plan.changes):
        outcome.failed = change
        if change.reason != "provenance":
            change.execute(registry)
        outcome.failed = None
        outcome.landed.append(change)
        if index in points:
            _stamp(model_plan, points[index], live, registry, provenance)
        if progress:
            progress(change)


def _moved_since(model_plan: ModelPlan, head: tuple[ObservedModel, dict[str, int]] | None) -> str:
    """What changed against the plan's snapshot, judged from one cheap read: the
    description, user tags, aliases, and the newest holder of each stage."""
    snap = model_plan.snapshot
    if head is None or snap is None:
        return "model was created or deleted"
    model, latest = head
    now = model.snapshot()
    moved = [k for k in ("description", "tags", "aliases") if snap.get(k) != now.get(k)]
    stages: dict[str, str] = snap.get("stages", {})
    for stage in ("Production", "Staging", "Archived"):
        holders = [int(v) for v, s in stages.items() if s == stage]
        if (max(holders) if holders else None) != latest.get(stage):
            moved.append(f"stage {stage}")
    return ", ".join(moved) + (" changed" if moved else "")


def stamp_points(changes: Sequence[Change]) -> dict[int, int]:
    """``index -> version``: after which change each version that gains a target is
    stamped (its last change in the plan, so a version gets one provenance write).
    Archiving is not stamped: the audit log records it, and it takes no target."""
    last = {
        c.version: i
        for i, c in enumerate(changes)
        if c.target and c.version is not None and c.stage != "Archived"
    }
    return {i: v for v, i in last.items() if v is not None}


def targets_of(changes: Sequence[Change], version: int) -> list[str]:
    """The targets ``changes`` give ``version``, in order."""
    return [c.target for c in changes if c.version == version and c.target]


def _stamp(
    model_plan: ModelPlan,
    number: int,
    live: ObservedModel,
    registry: Registry,
    provenance: Provenance,
) -> None:
    """One provenance write for a version, once its last change in this plan landed."""
    version = live.versions.get(number)
    if version is None:
        return
    targets = targets_of(model_plan.changes, number)
    extra: dict[str, object] = {}
    mine = [c for c in model_plan.changes if c.version == number and c.target]
    if any(c.reason == "provenance" for c in mine):
        extra["recovered"] = True  # the change landed in an earlier, interrupted apply
    # The evidence the promotion was decided on, as the plan sealed it.
    decided = {c.target: _decision(c) for c in mine if c.gates or c.override or c.rollback}
    if decided:
        extra["evidence"] = decided
    value = stamp(version, targets, model_plan.manifest, provenance, **extra)
    value = seal_provenance(value, model_plan.model, number, RecordKey.from_env())
    registry.set_version_tag(model_plan.model, number, PROVENANCE_TAG, value)


def _decision(change: Change) -> dict[str, object]:
    out: dict[str, object] = {
        "gates": [
            {k: v for k, v in g.to_dict().items() if k not in ("detail", "evidence")}
            for g in change.gates
        ]
    }
    if change.overridden and change.override:
        out["override"] = {k: change.override.get(k) for k in ("reason", "expires", "author")}
    if change.rollback:
        out["rollback"] = change.rollback
    return out


def _release(registry: Registry, name: str, previous: str | None) -> None:
    """Best effort (the apply is failing already): put back what the tag held before."""
    try:
        if previous and Lease.from_tag(previous) is None:
            registry.set_model_tag(name, LEASE_TAG, previous)
        else:
            registry.delete_model_tag(name, LEASE_TAG)
    except RegistryOpsError:
        pass  # the lease expires; force-unlock breaks it sooner


def _settle_in_flight(outcome: ModelOutcome, registry: Registry) -> None:
    """After a failed write, find out whether it landed anyway (a dropped answer)."""
    change = outcome.failed
    if change is None:
        return
    try:
        live = registry.read_model(change.model)
    except RegistryOpsError:
        return  # unreachable: unknown
    outcome.failed_landed = live is not None and change.holds(live)


def _verify_all(
    applied: list[ModelPlan], registry: Registry, desired: Sequence[ModelManifest]
) -> None:
    observed = authenticated(registry.read_state([m.model for m in applied]), RecordKey.from_env())
    verify(applied, observed)
    names = {m.model for m in applied}
    leftover = [
        f"  {c.model}: {c.describe()[1]}"
        for m in plan_models([d for d in desired if d.model in names], observed)
        for c in m.changes
    ]
    if leftover:
        raise ApplyFailed(
            "after applying, the registry still differs from the manifests "
            "(another writer may be changing it; plan again):\n"
            + "\n".join(map(printable, leftover))
        )


def verify(applied: list[ModelPlan], observed: Observed) -> None:
    """Raise ApplyFailed listing every change the registry does not reflect."""
    wrong = []
    for model_plan in applied:
        model = observed.get(model_plan.model)
        for change in model_plan.changes:
            if model is None or not change.holds(model):
                wrong.append(f"  {change.model}: {change.describe()[1]}")
    if wrong:
        raise ApplyFailed(
            "after applying, the registry does not show these changes "
            "(another writer may have moved them; plan again):\n" + "\n".join(map(printable, wrong))
        )
