"""The search ``propose`` makes: for each model, its gated targets' candidates (newer
than the version the manifest wants there, or for an empty target than every version it
gives out), newest first, each judged by the real pipeline (planned against the live
registry and gated as ``plan`` gates it) for every target it is a candidate for; the
newest that passes one or more of them is proposed for those."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from registry_ops import gates
from registry_ops import gitrepo as gitinfo
from registry_ops.core.changes import PROMOTION_STAGES, Change
from registry_ops.core.metric_book import MetricBook
from registry_ops.core.model import Desired, ModelManifest
from registry_ops.core.plan import ModelPlan
from registry_ops.core.planner import plan_models
from registry_ops.core.state import Observed, ObservedModel, ObservedVersion
from registry_ops.errors import InvalidInput
from registry_ops.gitops.proposals import (
    ALREADY_PROPOSED,
    PROPOSED,
    WOULD_PROPOSE,
    Move,
    Outcome,
    Proposal,
    Rejection,
    Target,
    branch_name,
)


def gated_targets(manifest: ModelManifest) -> list[Target]:
    """The manifest's targets that a policy gates: aliases, then Production and Staging
    (empty ones included: they are there to be filled)."""
    given = [v for v in manifest.aliases.values() if v is not None]
    given += [v for stage in PROMOTION_STAGES for v in manifest.stages.get(stage, ())]
    newest = max(given, default=0)
    out: list[Target] = []
    for name, version in sorted(manifest.aliases.items()):
        policy = manifest.gates.get(name)
        if policy is not None:
            floor = newest if version is None else version
            out.append(Target(manifest.model, "alias", name, policy, version, floor))
    for stage in PROMOTION_STAGES:
        policy = manifest.gates.get(stage)
        if policy is not None and stage in manifest.stages:
            versions = manifest.stages[stage]
            wanted = max(versions) if versions else None
            floor = newest if wanted is None else wanted
            out.append(Target(manifest.model, "stage", stage, policy, wanted, floor))
    return out


def candidates(manifest: ModelManifest, model: ObservedModel, target: Target) -> list[int]:
    """READY versions newer than the target's floor (the version the manifest wants,
    or for an empty target every version it gives out), newest first.

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
        if number > target.floor
        and version.status == "READY"
        and number not in excluded
        and number not in holding
    ]


def hypothetical(manifest: ModelManifest, targets: Sequence[Target], version: int) -> ModelManifest:
    """The manifest with each of ``targets`` moved to ``version`` (a stage's list keeps
    its other versions: the one the manifest wants now is replaced; an empty one gets
    ``version``)."""
    aliases, stages = dict(manifest.aliases), dict(manifest.stages)
    for target in targets:
        if target.kind == "alias":
            aliases[target.name] = version
        else:
            moved = tuple(version if v == target.wanted else v for v in stages[target.name])
            stages[target.name] = moved or (version,)
    return replace(manifest, aliases=aliases, stages=stages)


class Metrics:
    """A metrics fetcher that reads each run and logged model once: prefetched in one
    batch, the rest (those of other pending promotions) on demand."""

    def __init__(self, read: Callable[[Iterable[str], Iterable[str]], MetricBook]) -> None:
        self.read = read
        self.book = MetricBook()

    def __call__(self, versions: Iterable[ObservedVersion]) -> MetricBook:
        runs, models = self.book.missing(versions)
        if runs or models:
            self.book.merge(self.read(runs, models))
        return self.book


@dataclass
class Search:
    """One model's candidates still to try, newest first (newer than any existing
    proposal), and which of its gated targets each is a candidate for."""

    manifest: ModelManifest
    model: ObservedModel
    targets: list[Target]
    per_target: dict[str, list[int]]  # target key -> its candidates
    tries: list[int]
    existing: tuple[int, str] | None  # version and commit of a proposal branch found

    def targets_of(self, version: int) -> list[Target]:
        """The gated targets ``version`` is a candidate for."""
        return [t for t in self.targets if version in self.per_target[t.key]]


def start_search(
    root: Path, manifest: ModelManifest, model: ObservedModel, targets: list[Target]
) -> Search:
    """Every target's candidates, newest first across them, up to the first version
    proposed before (its branch exists): nothing older is tried for the model."""
    per_target = {t.key: candidates(manifest, model, t) for t in targets}
    tries: list[int] = []
    for version in sorted({v for found in per_target.values() for v in found}, reverse=True):
        commit = gitinfo.find_branch(root, branch_name(manifest.model, version))
        if commit is not None:
            return Search(manifest, model, targets, per_target, tries, (version, commit))
        tries.append(version)
    return Search(manifest, model, targets, per_target, tries, None)


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
        if version > target.floor
    ]


def prefetch(searches: list[Search], desired: Desired) -> list[ObservedVersion]:
    """Versions whose metrics the gates will read: every candidate and the holders."""
    versions: list[ObservedVersion] = []
    for search in searches:
        model = search.model
        for target in search.targets:
            policy = desired.policies.get(target.policy)
            tries = [v for v in search.tries if v in search.per_target[target.key]]
            if not tries or policy is None:
                continue
            if not any(g.needs_metrics for g in gates.build(policy)):
                continue
            if target.kind == "alias":
                holders = [model.aliases.get(target.name)]
            else:
                holders = list(model.stage_holders(target.name))
            for number in [*tries, *holders]:
                version = model.versions.get(number) if number is not None else None
                if version is not None:
                    versions.append(version)
    return versions


def first_passing(
    search: Search,
    desired: Desired,
    observed: Observed,
    metrics: Metrics,
    context: gates.GateContext,
    outcome: Outcome,
) -> tuple[Proposal, ModelPlan] | None:
    """The newest candidate that passes every gate of one or more of its targets, with
    the plan of the manifest giving it all of them."""
    for version in search.tries:
        targets = search.targets_of(version)
        judged = _judge(search, targets, version, desired, observed, metrics, context, outcome)
        if judged is None:
            return None
        model_plan, moves = judged
        passing = _one_stage(moves, version, outcome)
        if not passing:
            continue
        if len(passing) < len(targets):
            # The plan of what is proposed: re-planned without the targets it fails
            # (the context has every gate's evidence already).
            scratch = Outcome()  # its rejections were reported above already
            judged = _judge(
                search, [m.target for m in passing], version, desired, observed, metrics,
                context, scratch,
            )  # fmt: skip
            outcome.errors.extend(scratch.errors)
            if judged is None:
                return None
            model_plan, passing = judged
        status = WOULD_PROPOSE if outcome.dry_run else PROPOSED
        return _proposal(search, version, status, moves=passing), model_plan
    return None


def _judge(
    search: Search,
    targets: list[Target],
    version: int,
    desired: Desired,
    observed: Observed,
    metrics: Metrics,
    context: gates.GateContext,
    outcome: Outcome,
) -> tuple[ModelPlan, list[Move]] | None:
    """Plan and gate the manifest giving ``version`` every one of ``targets``, as
    ``plan`` would; the moves that pass, the others rejected in ``outcome``. None when
    the manifest cannot be planned (an error in ``outcome``)."""
    manifest = hypothetical(search.manifest, targets, version)
    try:
        model_plans = plan_models([manifest], observed)
    except InvalidInput as exc:
        outcome.errors.extend(str(p) for p in exc.problems)
        return None
    what_if = replace(desired, manifests={**desired.manifests, manifest.model: manifest})
    gates.evaluate(model_plans, what_if, observed, metrics, context=context)
    model_plan = model_plans[0]
    moves: list[Move] = []
    for target in targets:
        change = _change_for(model_plan, target, version)
        reason = _why_not(change)
        if reason is not None:
            outcome.rejected.append(Rejection(target.model, target.name, version, reason))
            continue
        assert change is not None
        moves.append(Move(target, holder=change.from_version, gates=list(change.gates)))
    return model_plan, moves


def _one_stage(moves: list[Move], version: int, outcome: Outcome) -> list[Move]:
    """``moves`` with at most one stage: a version passing both Production's and
    Staging's gates is proposed for Production (a policy asks for Staging first with
    ``requires_previous: Staging``)."""
    if not any(m.target.key == "stage:Production" for m in moves):
        return moves
    kept = []
    for move in moves:
        if move.target.key == "stage:Staging":
            outcome.rejected.append(
                Rejection(
                    move.target.model,
                    move.target.name,
                    version,
                    "passes Production's gates too: a version holds one stage at a time, "
                    "and it is proposed for Production",
                )
            )
            continue
        kept.append(move)
    return kept


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
    """A proposal giving ``version`` the search's model's targets in ``moves``."""
    return Proposal(
        model=search.manifest.model,
        manifest=search.manifest.file,
        to_version=version,
        branch=branch_name(search.manifest.model, version),
        status=status,
        **extra,
    )
