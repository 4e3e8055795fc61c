"""The search ``propose`` makes: for each gated target, the candidates newer than the
version its manifest wants, each judged by the real pipeline (planned against the live
registry and gated as ``plan`` gates it), the newest that passes first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from registry_ops import gates
from registry_ops import gitrepo as gitinfo
from registry_ops.core.changes import PROMOTION_STAGES, Change
from registry_ops.core.model import Desired, ModelManifest
from registry_ops.core.plan import ModelPlan
from registry_ops.core.planner import plan_models
from registry_ops.core.state import Observed, ObservedModel
from registry_ops.errors import InvalidInput
from registry_ops.gitops.proposals import (
    ALREADY_PROPOSED,
    PROPOSED,
    WOULD_PROPOSE,
    Outcome,
    Proposal,
    Rejection,
    Target,
    branch_name,
)


def gated_targets(manifest: ModelManifest) -> list[Target]:
    """The manifest's targets that a policy gates: aliases, then Production and Staging."""
    out: list[Target] = []
    for name, version in sorted(manifest.aliases.items()):
        policy = manifest.gates.get(name)
        if policy is not None:
            out.append(Target(manifest.model, "alias", name, policy, version))
    for stage in PROMOTION_STAGES:
        policy = manifest.gates.get(stage)
        versions = manifest.stages.get(stage)
        if policy is not None and versions:
            out.append(Target(manifest.model, "stage", stage, policy, max(versions)))
    return out


def candidates(manifest: ModelManifest, model: ObservedModel, target: Target) -> list[int]:
    """READY versions newer than the one the manifest wants, newest first.

    Left out: versions holding the target already (no promotion, so no gate
    evidence), versions the manifest archives, and, for a stage, versions the
    manifest gives another stage (one edit cannot give a version two stages).
    """
    excluded = set(manifest.stages.get("Archived", ()))
    if target.kind == "stage":
        for stage, versions in manifest.stages.items():
            if stage != target.name:
                excluded.update(versions)
        holding = set(model.stage_holders(target.name))
    else:
        holder = model.aliases.get(target.name)
        holding = {holder} if holder is not None else set()
    return [
        number
        for number, version in sorted(model.versions.items(), reverse=True)
        if number > target.wanted
        and version.status == "READY"
        and number not in excluded
        and number not in holding
    ]


def hypothetical(manifest: ModelManifest, target: Target, version: int) -> ModelManifest:
    """The manifest with ``target`` moved to ``version`` (a stage's list keeps its other
    versions: the one the manifest wants now is replaced)."""
    if target.kind == "alias":
        return replace(manifest, aliases={**manifest.aliases, target.name: version})
    listed = manifest.stages[target.name]
    moved = tuple(version if v == target.wanted else v for v in listed)
    return replace(manifest, stages={**manifest.stages, target.name: moved})


class Metrics:
    """A metrics fetcher that reads each run once: prefetched in one batch, the rest
    (runs of other pending promotions) on demand."""

    def __init__(self, fetch: gates.MetricsFetcher) -> None:
        self.fetch = fetch
        self.cache: dict[str, dict[str, float]] = {}

    def __call__(self, run_ids: Iterable[str]) -> dict[str, dict[str, float]]:
        wanted = set(run_ids)
        missing = wanted - set(self.cache)
        if missing:
            read = self.fetch(missing)
            for run_id in missing:
                self.cache[run_id] = read.get(run_id, {})
        return {r: self.cache[r] for r in wanted if self.cache[r]}


@dataclass
class Search:
    """One target's candidates still to try (newer than any existing proposal)."""

    target: Target
    manifest: ModelManifest
    model: ObservedModel
    tries: list[int]
    existing: tuple[int, str] | None  # version and commit of a proposal branch found


def start_search(
    root: Path, manifest: ModelManifest, model: ObservedModel, target: Target
) -> Search:
    """The candidates to try, newest first, up to the first one proposed before."""
    tries: list[int] = []
    for version in candidates(manifest, model, target):
        commit = gitinfo.find_branch(root, branch_name(target.model, target.name, version))
        if commit is not None:
            return Search(target, manifest, model, tries, (version, commit))
        tries.append(version)
    return Search(target, manifest, model, tries, None)


def in_other_stage(manifest: ModelManifest, target: Target) -> list[Rejection]:
    """Newer versions that the manifest gives the other promotion stage: moving one
    takes two edits (it must leave that stage), so that is left to a person."""
    if target.kind != "stage":
        return []
    return [
        Rejection(
            target.model,
            target.name,
            version,
            f"the manifest gives it {stage}: moving it between stages takes more than one edit",
        )
        for stage in PROMOTION_STAGES
        if stage != target.name
        for version in sorted(manifest.stages.get(stage, ()), reverse=True)
        if version > target.wanted
    ]


def prefetch(searches: list[Search], desired: Desired) -> set[str]:
    """Runs whose metrics the gates will read: every candidate's and the holders'."""
    runs: set[str] = set()
    for search in searches:
        policy = desired.policies.get(search.target.policy)
        if not search.tries or policy is None:
            continue
        if not any(g.needs_metrics for g in gates.build(policy)):
            continue
        model = search.model
        if search.target.kind == "alias":
            holders = [model.aliases.get(search.target.name)]
        else:
            holders = list(model.stage_holders(search.target.name))
        for number in [*search.tries, *holders]:
            version = model.versions.get(number) if number is not None else None
            if version is not None and version.run_id:
                runs.add(version.run_id)
    return runs


def first_passing(
    search: Search,
    desired: Desired,
    observed: Observed,
    metrics: Metrics,
    context: gates.GateContext,
    outcome: Outcome,
) -> tuple[Proposal, ModelPlan] | None:
    """The newest candidate whose change for the target is gated and passes every gate."""
    target = search.target
    for version in search.tries:
        manifest = hypothetical(search.manifest, target, version)
        try:
            model_plans = plan_models([manifest], observed)
        except InvalidInput as exc:
            outcome.errors.extend(str(p) for p in exc.problems)
            return None
        what_if = replace(desired, manifests={**desired.manifests, target.model: manifest})
        gates.evaluate(model_plans, what_if, observed, metrics, context=context)
        model_plan = model_plans[0]
        change = _change_for(model_plan, target, version)
        reason = _why_not(change)
        if reason is not None:
            outcome.rejected.append(Rejection(target.model, target.name, version, reason))
            continue
        assert change is not None
        proposal = _proposal(
            search,
            version,
            WOULD_PROPOSE if outcome.dry_run else PROPOSED,
            holder=change.from_version,
            gates=list(change.gates),
        )
        return proposal, model_plan
    return None


def _change_for(model_plan: ModelPlan, target: Target, version: int) -> Change | None:
    for change in model_plan.changes:
        if change.is_promotion and change.target == target.key and change.version == version:
            return change
    return None


def _why_not(change: Change | None) -> str | None:
    """Why this change may not be proposed; None when it may."""
    if change is None:
        return "no promotion to gate"
    if not change.gated:
        return "ungated"
    if change.rollback is not None:
        return "a rollback (exempt from the gates): not proposed"
    if not change.gates:
        return "no gate ran"
    failed = [g for g in change.gates if not g.passed]
    if failed:
        first = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return f"fails {first.name}: {first.detail}{more}"
    return None


def already(search: Search, version: int, commit: str) -> Proposal:
    """The proposal found on an existing branch (at ``commit``): reported, not made again."""
    return _proposal(search, version, ALREADY_PROPOSED, commit=commit)


def _proposal(search: Search, version: int, status: str, **extra: Any) -> Proposal:
    """A proposal moving the search's target to ``version``."""
    target = search.target
    return Proposal(
        model=target.model,
        target=target.name,
        kind=target.kind,
        manifest=search.manifest.file,
        from_version=target.wanted,
        to_version=version,
        branch=branch_name(target.model, target.name, version),
        status=status,
        policy=target.policy,
        **extra,
    )
