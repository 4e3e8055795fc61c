"""Running the gates of a plan's promotions, and what surrounds them.

For every promotion whose target a manifest gates: a policy with
``allow_rollback`` lets a version that held the target before return to it
without the gates; otherwise every gate of the policy runs and its results
are recorded on the change. A manifest's override of the target lets a
failure through until it expires (the gates still run and show). What the
gates read is pinned on the model's plan, so a saved plan is refused once
any of it changed.

A stamp-only change counts as a promotion here: its version holds the target
with no authenticated record of an apply putting it there, so nobody can
tell that it passed the gates. It passes them now, against the version whose
record shows it taking the target before (:func:`restamp`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from registry_ops.core.changes import Change
from registry_ops.core.metric_book import MetricBook, pin_reads
from registry_ops.core.model import Desired, ModelManifest, Policy
from registry_ops.core.plan import ModelPlan
from registry_ops.core.provenance import held_since, last_taker
from registry_ops.core.state import Observed, ObservedModel, ObservedVersion, version_facts
from registry_ops.gates import Candidate, Gate, GateContext
from registry_ops.gates.kinds import build

#: Reads the metric evidence (runs and logged models) of these versions, batched.
MetricsFetcher = Callable[[Iterable[ObservedVersion]], MetricBook]
_Work = tuple[Change, ModelManifest, Policy, list[Gate], ObservedModel, ModelPlan]


def evaluate(
    plans: list[ModelPlan],
    desired: Desired,
    observed: Observed,
    fetch_metrics: MetricsFetcher,
    now: datetime | None = None,
    context: GateContext | None = None,
) -> None:
    """Run the gates of every promotion in ``plans``, recording results on each change.

    Metric evidence is fetched in one batch, and only for candidates and the
    versions they displace, and only when some gate needs it.
    """
    now = now or datetime.now().astimezone()
    context = context or GateContext(Path(desired.root))
    work: list[_Work] = []
    for model_plan in plans:
        manifest = desired.manifests[model_plan.model]
        model = observed.models[model_plan.model]
        for change in model_plan.changes:
            name = change.target_name or ""
            if not (change.is_promotion or restamp(change)) or change.version is None:
                continue
            override = manifest.overrides.get(name)
            if override is not None:
                change.override = {
                    "reason": override.reason,
                    "expires": override.expires.isoformat(),
                    "active": override.active(now.astimezone(UTC).date()),
                    "file": manifest.file,
                    "line": override.location.line,
                }
            policy_name = manifest.gates.get(name)
            if policy_name is None:
                continue
            change.gated = True
            policy = desired.policies[policy_name]
            rollback = _rollback(change, model) if policy.allow_rollback else None
            if rollback is not None:
                change.rollback = rollback
                change.gates = []
                _pin(model_plan, [], model.versions[change.version], None, None)
                continue
            work.append((change, manifest, policy, build(policy), model, model_plan))

    reading = [
        v
        for change, _, _, gates, model, _ in work
        if any(g.needs_metrics for g in gates)
        for v in _pair(change, model)
        if v is not None
    ]
    runs, models = MetricBook.wanted(reading)
    book = fetch_metrics(reading) if runs or models else MetricBook()

    for change, _, policy, gates, model, model_plan in work:
        version, holder = _pair(change, model)
        assert version is not None
        needs = any(g.needs_metrics for g in gates)
        candidate = Candidate(
            model=change.model,
            target=change.target_name or "",
            version=version,
            holder=holder,
            metrics=book.of(version) if needs else None,
            holder_metrics=book.of(holder) if needs and holder is not None else None,
            now=now,
            observed=model,
            context=context,
            target_key=change.target or "",
        )
        change.gates = []
        for gate in gates:
            outcome = gate.evaluate(candidate)
            for result in outcome if isinstance(outcome, list) else [outcome]:
                result.policy = policy.name
                source = {"model_id": version.model_id} if version.model_id else {}
                result.evidence = {
                    "version": version.version,
                    "run_id": version.run_id,
                    **source,
                    **result.evidence,
                }
                change.gates.append(result)
        _pin(model_plan, gates, version, holder, book if needs else None)


def restamp(change: Change) -> bool:
    """A stamp-only change: its version holds the target, with no record to say how.

    The planner's records view holds only authenticated records, so this is a
    holder a crash left unstamped, one moved there by hand or one whose record
    is forged: its gates run as for a promotion. After a crash they passed
    before, so they pass again and a re-run still converges.
    """
    return change.reason == "provenance" and change.target is not None


def _pair(
    change: Change, model: ObservedModel
) -> tuple[ObservedVersion | None, ObservedVersion | None]:
    """The candidate and its baseline: the version it displaces, or, when it joins a
    stage that keeps its holders, the newest of them (a multi-version stage's holder
    is a baseline too). A stamp-only change displaces nothing now: its baseline is the
    version whose record shows it taking the target last, the one its promotion
    displaced."""
    version = model.versions.get(change.version) if change.version is not None else None
    holder = model.versions.get(change.from_version) if change.from_version else None
    if restamp(change) and change.version is not None and change.target is not None:
        previous = last_taker(model, change.target, change.version)
        holder = model.versions.get(previous) if previous is not None else None
    if holder is None and change.stage is not None:
        others = [v for v in model.stage_holders(change.stage) if v != change.version]
        holder = model.versions[others[-1]] if others else None
    return version, holder


def _rollback(change: Change, model: ObservedModel) -> dict[str, Any] | None:
    """When the candidate held this target before: since when, and until another took it."""
    assert change.version is not None and change.target is not None
    target = change.target
    since = held_since(model.versions[change.version], target)
    if since is None:
        return None
    later = sorted(
        t
        for n, v in model.versions.items()
        if n != change.version and (t := held_since(v, target)) and t > since
    )
    return {"version": change.version, "held_from": since, "held_to": later[0] if later else None}


def _pin(
    model_plan: ModelPlan,
    gates: list[Gate],
    version: ObservedVersion,
    holder: ObservedVersion | None,
    book: MetricBook | None,
) -> None:
    """Record what the gates read, so a saved plan is refused once any of it changed:
    the version facts, and each metric as read (value and source, or why it is missing)."""
    facts = model_plan.evidence.setdefault("versions", {})
    specs = {
        (m, getattr(g, "dataset", None))
        for g in gates
        if isinstance(m := getattr(g, "metric", None), str)
    }
    for v in (version, holder):
        if v is None:
            continue
        facts[str(v.version)] = version_facts(v)
        if specs and book is not None:
            reads = model_plan.evidence.setdefault("metric_reads", {})
            reads.setdefault(str(v.version), {}).update(pin_reads(book.of(v), specs))
