"""Desired x observed -> ordered changes. Pure: no I/O, no MLflow.

Order within a model is what keeps every target held while applying:
metadata first, then aliases (an alias moves atomically), then new stage
holders (versions that vacate nothing go first), then the archiving of
displaced holders and retention, and alias deletions last.

A target the manifest owns and leaves empty (an alias given no version, a
stage given none) is emptied by the same changes: its alias deleted with the
other deletions, its stage's holders archived as displaced.
"""

from __future__ import annotations

from collections.abc import Sequence

from registry_ops.core.changes import (
    Change,
    DeleteAlias,
    DeleteModelTag,
    SetAlias,
    SetModelTag,
    TransitionStage,
    UpdateDescription,
)
from registry_ops.core.model import STAGES, Location, ModelManifest
from registry_ops.core.plan import ModelPlan
from registry_ops.core.provenance import unstamped
from registry_ops.core.state import (
    Observed,
    ObservedModel,
    fingerprint,
    reserved_tag,
    snapshot_of,
)
from registry_ops.errors import InvalidInput, Problem

# Stage a version leaves matters for ordering: one leaving Production must
# wait until its replacement is in place.
_LEAVE_RANK = {"None": 0, "Archived": 0, "Staging": 1, "Production": 2}


def plan_models(manifests: Sequence[ModelManifest], observed: Observed) -> list[ModelPlan]:
    """Plan every manifest against the observed state; raise InvalidInput listing
    every manifest that names a model or version MLflow does not have."""
    problems: list[Problem] = []
    plans: list[ModelPlan] = []
    for manifest in manifests:
        model = observed.get(manifest.model)
        missing = _missing(manifest, model)
        if missing:
            problems.extend(missing)
            continue
        assert model is not None
        snap = snapshot_of(model)
        plans.append(
            ModelPlan(
                model=manifest.model,
                manifest=manifest.file,
                changes=plan_model(manifest, model),
                snapshot=snap,
                fingerprint=fingerprint(snap),
                unmanaged=unmanaged(manifest, model),
            )
        )
    if problems:
        raise InvalidInput(problems)
    return plans


def unmanaged(manifest: ModelManifest, model: ObservedModel) -> dict[str, dict[str, object]]:
    """Aliases and model tags the manifest does not name and does not prune: left
    alone, but shown, so nobody mistakes them for managed ones."""
    out: dict[str, dict[str, object]] = {}
    if not manifest.prune.aliases:
        aliases = {a: v for a, v in sorted(model.aliases.items()) if a not in manifest.aliases}
        if aliases:
            out["aliases"] = dict(aliases)
    if not manifest.prune.tags:
        named = manifest.tags or {}
        tags = {k: v for k, v in sorted(model.user_tags().items()) if k not in named}
        if tags:
            out["tags"] = dict(tags)
    return out


def _problem(loc: Location, path: str, message: str) -> Problem:
    return Problem(loc.file, loc.line, loc.column, path, message)


def _missing(manifest: ModelManifest, model: ObservedModel | None) -> list[Problem]:
    """What the manifest names that MLflow lacks, or that must not be promoted."""
    if model is None:
        return [
            _problem(
                manifest.where("model"),
                "$.model",
                f"registered model '{manifest.model}' does not exist in MLflow",
            )
        ]
    if model.is_prompt:
        return [
            _problem(
                manifest.where("model"),
                "$.model",
                f"'{manifest.model}' is an MLflow prompt, not a registered model; "
                "registry-ops does not manage prompts",
            )
        ]
    out = []
    named: list[tuple[Location, str, int, bool]] = [
        (
            manifest.where("aliases", alias),
            f"$.aliases.{alias}",
            version,
            model.aliases.get(alias) == version,
        )
        for alias, version in sorted(manifest.aliases.items())
        if version is not None
    ]
    for stage, versions in sorted(manifest.stages.items()):
        for index, version in enumerate(versions):
            loc = manifest.where("stages", stage, str(index))
            if loc.line is None:
                loc = manifest.where("stages", stage)
            held = version in model.versions and model.versions[version].stage == stage
            named.append((loc, f"$.stages.{stage}", version, held or stage == "Archived"))
    for loc, path, version, held in named:
        if version not in model.versions:
            out.append(
                _problem(
                    loc,
                    path,
                    f"version {version} of '{manifest.model}' does not exist in MLflow"
                    f" (versions: {_listing(model)})",
                )
            )
        elif not held and model.versions[version].status != "READY":
            out.append(
                _problem(
                    loc,
                    path,
                    f"version {version} of '{manifest.model}' is "
                    f"{model.versions[version].status}, not READY: only READY versions are "
                    "promoted",
                )
            )
    return out


def _listing(model: ObservedModel) -> str:
    versions = sorted(model.versions)
    if not versions:
        return "none"
    if len(versions) > 8:
        return f"{versions[0]}..{versions[-1]}"
    return ", ".join(map(str, versions))


def plan_model(manifest: ModelManifest, model: ObservedModel) -> list[Change]:
    """The ordered changes that bring ``model`` to what ``manifest`` says."""
    name = manifest.model
    meta: list[Change] = []
    if manifest.description is not None and manifest.description != (model.description or ""):
        meta.append(
            UpdateDescription(name, value=manifest.description, from_value=model.description or "")
        )
    current_tags = model.user_tags()
    if manifest.tags is not None:
        for key, value in sorted(manifest.tags.items()):
            if reserved_tag(key):
                continue  # another tool's tag: never planned (validate warns about it)
            if current_tags.get(key) != value:
                meta.append(
                    SetModelTag(name, key=key, value=value, from_value=current_tags.get(key))
                )
        if manifest.prune.tags:
            for key in sorted(set(current_tags) - set(manifest.tags)):
                meta.append(
                    DeleteModelTag(name, key=key, from_value=current_tags[key], reason="prune")
                )

    aliases: list[SetAlias] = []
    deletions: list[DeleteAlias] = []
    for alias, version in sorted(manifest.aliases.items()):
        holder = model.aliases.get(alias)
        if version is None:
            if holder is not None:  # owned and empty: whoever holds it lets go
                deletions.append(DeleteAlias(name, alias=alias, from_version=holder))
        elif holder != version:
            aliases.append(SetAlias(name, alias=alias, version=version, from_version=holder))
    if manifest.prune.aliases:
        for alias in sorted(set(model.aliases) - set(manifest.aliases)):
            deletions.append(
                DeleteAlias(name, alias=alias, from_version=model.aliases[alias], reason="prune")
            )

    promotions, archives = _stage_changes(manifest, model)
    changes: list[Change] = [*meta, *aliases, *promotions, *archives, *deletions]
    # A model registry-ops never wrote to is adopted by its first apply that changes
    # something, or at once when its manifest protects a target: what registry-ops
    # recorded as held is how a later move by hand is told from a reviewed one.
    adopting = bool(changes) or bool(manifest.protect)
    return changes + _unstamped(manifest, model, [*aliases, *promotions], adopting=adopting)


def _unstamped(
    manifest: ModelManifest, model: ObservedModel, planned: Sequence[Change], adopting: bool
) -> list[Change]:
    """Stamp-only changes for targets held as wanted by a version with no record of it.

    That is what a crash between a change and its stamp leaves behind; planning
    the stamp is what makes the next apply repair it.
    """
    moving = {c.target for c in planned}
    out: list[Change] = []
    for alias, version in sorted(manifest.aliases.items()):
        target = f"alias:{alias}"
        if version is None or target in moving:
            continue
        if version in unstamped(model, target, adopting):
            out.append(
                SetAlias(
                    manifest.model,
                    alias=alias,
                    version=version,
                    from_version=version,
                    reason="provenance",
                )
            )
    for stage in STAGES:
        target = f"stage:{stage}"
        if stage == "Archived" or stage not in manifest.stages:
            continue
        for version in unstamped(model, target, adopting):
            if version in manifest.stages[stage]:
                out.append(
                    TransitionStage(
                        manifest.model,
                        version=version,
                        from_version=version,
                        stage=stage,
                        from_stage=stage,
                        reason="provenance",
                    )
                )
    return out


def _stage_changes(
    manifest: ModelManifest, model: ObservedModel
) -> tuple[list[TransitionStage], list[TransitionStage]]:
    name = manifest.model
    wanted: dict[int, str] = {v: stage for stage in STAGES for v in manifest.stages.get(stage, ())}
    promotions: list[TransitionStage] = []
    archives: list[TransitionStage] = []
    archived: set[int] = set()

    for stage in STAGES:
        if stage not in manifest.stages:
            continue
        desired = manifest.stages[stage]
        holders = model.stage_holders(stage)
        displaced = [v for v in holders if v not in desired]
        for version in desired:
            current = model.versions[version].stage
            if current == stage:
                continue
            change = TransitionStage(
                name,
                version=version,
                from_version=displaced[0] if displaced and stage != "Archived" else None,
                stage=stage,
                from_stage=current,
            )
            (archives if stage == "Archived" else promotions).append(change)
            if stage == "Archived":
                archived.add(version)
        if stage == "Archived":
            continue
        for version in displaced:
            if version in wanted:
                continue  # it gets its own transition
            archives.append(_archive(name, version, stage, "displaced"))
            archived.add(version)

    if manifest.retention.archive_unlisted:
        named = manifest.named_versions()
        newest = set(sorted(model.versions, reverse=True)[: manifest.retention.keep_latest])
        # Retention never archives what the manifest does not own: the holder of
        # an alias it does not list, or of a stage it does not list.
        # (With ``prune.aliases`` every alias is the manifest's: unlisted ones go.)
        foreign = {
            v
            for a, v in model.aliases.items()
            if a not in manifest.aliases and not manifest.prune.aliases
        }
        for version in sorted(model.versions):
            observed = model.versions[version]
            if version in named or version in newest or version in archived:
                continue
            if observed.stage == "Archived" or version in foreign:
                continue
            if (
                observed.stage in ("Production", "Staging")
                and observed.stage not in manifest.stages
            ):
                continue
            archives.append(_archive(name, version, observed.stage, "retention"))

    promotions.sort(
        key=lambda c: (
            _LEAVE_RANK.get(c.from_stage or "None", 0),
            STAGES.index(c.stage),
            c.version,
        )
    )
    archives.sort(key=lambda c: c.version)
    return promotions, archives


def _archive(model: str, version: int, from_stage: str, reason: str) -> TransitionStage:
    return TransitionStage(
        model,
        version=version,
        stage="Archived",
        from_stage=from_stage,
        reason=reason,
    )
