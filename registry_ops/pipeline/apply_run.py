"""The ``apply`` use case around :func:`~registry_ops.pipeline.apply.apply_plan`.

:func:`prepare_apply` finds what to apply: a saved plan (checked like a sealed
plan is checked, made for this registry, not expired, narrowed to the models
named, made from HEAD's manifests and policies) or a fresh plan of the
manifests. :func:`run_apply` applies it under the current provenance (the
plan's commit, or HEAD's when the branch does not hold it), records it in the
apply log and returns the report as data.

Nothing here prints: warnings and progress go to the callbacks the caller
passes, and the messages the caller shows come back as text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from registry_ops.core.changes import Change
from registry_ops.core.model import Desired
from registry_ops.core.plan import ModelPlan, Plan
from registry_ops.core.provenance import Provenance
from registry_ops.core.redact import redact
from registry_ops.errors import RegistryOpsError
from registry_ops.pipeline import audit, binding, replay
from registry_ops.pipeline import plan as planning
from registry_ops.pipeline.apply import ApplyResult, Progress, apply_plan
from registry_ops.pipeline.seal import load_plan

if TYPE_CHECKING:  # the adapter imports mlflow
    from registry_ops.registry import Registry


def split_arguments(args: Sequence[str]) -> tuple[str | None, tuple[str, ...]]:
    """``[PLAN_FILE] [MODEL]...``: the plan file (the first argument, when it names a
    file) and the model names.

    Raises:
        RegistryOpsError: the first argument ends in ``.json`` but no such file exists
            (a plan file mistyped is never taken for a model name).
    """
    if args and Path(args[0]).is_file():
        return args[0], tuple(args[1:])
    if args and args[0].endswith(".json"):
        raise RegistryOpsError(f"plan file not found: {args[0]}")
    return None, tuple(args)


@dataclass
class Pending:
    """A plan about to be applied, and the registry it is applied to."""

    plan: Plan
    registry: Registry
    # The manifests of a fresh plan, so verification re-plans against them; None for a
    # saved plan, which is verified change by change.
    desired: Desired | None = None
    # A saved plan: applied once and in order (registry_ops.pipeline.replay).
    saved: bool = False
    # The commit provenance records when it is not the plan's (HEAD's, for a plan made
    # at a commit the branch does not hold), and the note that says so.
    commit: str | None = None
    commit_note: str | None = None

    @property
    def runnable(self) -> list[ModelPlan]:
        """The models apply changes: those with changes and no blocked promotion."""
        return [m for m in self.plan.models if m.changes and not m.blocked]

    @property
    def blocked(self) -> list[str]:
        """The models a gate blocks (apply changes nothing of theirs)."""
        return [m.model for m in self.plan.models if m.blocked]

    @property
    def change_count(self) -> int:
        """How many changes apply makes."""
        return sum(len(m.changes) for m in self.runnable)

    def uncommitted_warning(self) -> str | None:
        """The warning to show before applying manifests with uncommitted changes (the
        versions are stamped ``<commit>+uncommitted``); None for a clean tree."""
        git = self.plan.git or {}
        if not git.get("dirty"):
            return None
        files = ", ".join(git.get("uncommitted") or []) or "manifests/ or policies/"
        return (
            f"WARNING: uncommitted changes in {files}: applying what is on disk; the versions "
            f"are stamped {str(git.get('commit'))[:12]}+uncommitted."
        )


def prepare_apply(
    endpoint: planning.Endpoint,
    args: Sequence[str],
    connect: Callable[[], Registry],
    warn: Callable[[str], None],
    progress: Callable[[str], None] | None = None,
    max_age: float | None = None,
) -> Pending:
    """What ``apply [PLAN_FILE] [MODEL]...`` applies, and where.

    A saved plan is loaded and checked (schema, digest, signature when
    REGISTRY_OPS_PLAN_KEY is set), must be for this registry, no older than
    ``max_age`` seconds (default: replay.DEFAULT_MAX_AGE), and is narrowed to the
    models named; the manifests and policies of the models it changes must be
    HEAD's (registry_ops.pipeline.binding). Otherwise the manifests are planned
    afresh, as ``plan`` plans them: ``warn`` is told of each warning loading them
    gave, ``progress`` of the gates' progress.
    """
    plan_file, names = split_arguments(args)
    if plan_file:
        with open(plan_file, "rb") as stream:
            saved = load_plan(stream, plan_file)
        planning.check_target(saved, endpoint)
        replay.check_age(saved, replay.DEFAULT_MAX_AGE if max_age is None else max_age)
        saved = planning.narrow(saved, names)
        runnable = [m for m in saved.models if m.changes and not m.blocked]
        head = binding.check_desired(runnable, endpoint.root, saved)
        commit, note = binding.stamped_commit(saved, endpoint.root, head)
        return Pending(saved, connect(), saved=True, commit=commit, commit_note=note)
    desired, registry, observed = planning.prepare(endpoint, names, connect)
    for warning in desired.warnings:
        warn(warning)
    fresh = planning.make_plan(desired, names, endpoint, registry, progress, observed)
    return Pending(fresh, registry, desired)


@dataclass(frozen=True)
class Unfinished:
    """A change of an apply that stopped, as the report lists it."""

    state: str  # "landed", "in flight" or "not applied"
    model: str
    text: str  # the change in words; in flight, whether it landed after all


@dataclass
class ApplyReport:
    """What an apply did, for the command to report."""

    outcome: ApplyResult
    blocked: list[str] = field(default_factory=list)
    # Where the apply log recorded it, or why it could not; None: nothing to record.
    log_note: str | None = None

    @property
    def unfinished(self) -> list[Unfinished]:
        """After a failure: each model's landed, in-flight and pending changes, in order
        (models with nothing unfinished left out)."""
        rows: list[Unfinished] = []
        for model in self.outcome.outcomes:
            if model.failed is None and not model.pending:
                continue
            rows += [Unfinished("landed", c.model, _sentence(c)) for c in model.landed]
            if model.failed is not None:
                state = {True: "landed", False: "not landed", None: "unknown"}[model.failed_landed]
                text = f"{_sentence(model.failed)} ({state})"
                rows.append(Unfinished("in flight", model.plan.model, text))
            rows += [Unfinished("not applied", c.model, _sentence(c)) for c in model.pending]
        return rows


def _sentence(change: Change) -> str:
    return change.describe()[1]


def run_apply(pending: Pending, progress: Progress | None = None) -> ApplyReport:
    """Apply ``pending`` under the current provenance (who, from which commit, which
    plan) and record it in the apply log. ``progress`` is told of each change landed."""
    plan = pending.plan
    git = plan.git or {}
    commit = pending.commit if pending.saved else git.get("commit")
    provenance = Provenance.current(commit, bool(git.get("dirty")), plan.digest)
    desired = pending.desired
    manifests = [desired.manifests[m.model] for m in plan.models] if desired else []
    admit = partial(replay.check_order, plan) if pending.saved else None
    outcome = apply_plan(
        plan, pending.registry, provenance, manifests, progress=progress, admit=admit
    )
    report = ApplyReport(outcome, pending.blocked)
    # Only an apply that changed something or failed part-way is recorded. A failure to
    # record is a warning: the registry changes already happened, and the exit code
    # stays the apply's own.
    try:
        logged = audit.record_apply(plan, outcome, provenance, pending.registry)
    except Exception as exc:  # noqa: BLE001 - never let the log change the apply's outcome
        reason = str(exc) if isinstance(exc, RegistryOpsError) else f"{type(exc).__name__}: {exc}"
        report.log_note = (
            f"warning: the apply was not recorded in the apply log ({audit.EXPERIMENT}): "
            f"{redact(reason)}\n  The registry changes reported here stand; each version "
            "touched carries its provenance tag."
        )
        return report
    if logged is not None:
        report.log_note = (
            f"Recorded in the apply log: run {logged.run_id} of experiment "
            f"{audit.EXPERIMENT} ({logged.outcome})."
        )
    return report
