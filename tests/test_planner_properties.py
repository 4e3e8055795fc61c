"""Planner invariants on generated registries and manifests (plain data, no MLflow).

Applying a plan's changes in order, the way apply does, must reach the
manifest's state (a second plan is empty), and must never leave a stage
empty that was held before and is wanted held after.
"""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import example, given, settings
from hypothesis import strategies as st

from registry_ops.core.changes import Change
from registry_ops.core.model import ModelManifest, Prune, Retention
from registry_ops.core.planner import plan_model
from registry_ops.core.provenance import Provenance, stamp, with_stamp
from registry_ops.core.state import ObservedModel, ObservedVersion
from registry_ops.pipeline.apply import stamp_points, targets_of

STAGE_NAMES = ("None", "Staging", "Production", "Archived")
ALIASES = ("champion", "challenger", "shadow")


@st.composite
def scenario(draw: st.DrawFn) -> tuple[ModelManifest, ObservedModel]:
    count = draw(st.integers(1, 5))
    versions = list(range(1, count + 1))
    observed = ObservedModel(
        name="m",
        description=draw(st.sampled_from(["", "old"])),
        tags=draw(
            st.dictionaries(
                st.sampled_from(["a", "b", "registry_ops.commit"]), st.text(max_size=2), max_size=3
            )
        ),
        aliases=draw(
            st.dictionaries(st.sampled_from(ALIASES), st.sampled_from(versions), max_size=3)
        ),
        versions={
            v: ObservedVersion(v, draw(st.sampled_from(STAGE_NAMES)), f"run{v}", 0, {})
            for v in versions
        },
    )
    # Each version takes at most one stage in a valid manifest; a stage may be listed
    # owned and empty ([]).
    unassigned = draw(st.permutations(versions))
    stages: dict[str, tuple[int, ...]] = {}
    for stage in ("Production", "Staging", "Archived"):
        take = draw(st.integers(0, min(2, len(unassigned))))
        if take or draw(st.booleans()):
            stages[stage], unassigned = tuple(unassigned[:take]), unassigned[take:]
    manifest = ModelManifest(
        model="m",
        file="manifests/m.yaml",
        description=draw(st.sampled_from([None, "", "new"])),
        tags=draw(
            st.one_of(
                st.none(),
                st.dictionaries(st.sampled_from(["a", "c"]), st.text(max_size=2), max_size=2),
            )
        ),
        aliases=draw(  # None: owned and empty
            st.dictionaries(
                st.sampled_from(ALIASES),
                st.one_of(st.none(), st.sampled_from(versions)),
                max_size=3,
            )
        ),
        stages=stages,
        retention=Retention(draw(st.booleans()), draw(st.integers(0, 3))),
        prune=Prune(draw(st.booleans()), draw(st.booleans())),
        protect=draw(st.sampled_from([(), ("champion",), ("Production",)])),
    )
    return manifest, observed


_CLOCK = iter(range(10**9))


def apply_changes(model: ObservedModel, changes: list[Change]) -> Iterator[ObservedModel]:
    """What apply leaves after each change: MLflow's effect (stages with
    archive_existing_versions=False), then the provenance stamp at its point."""
    prov = Provenance("c0ffee", False, "ci", f"2026-11-24T00:00:00.{next(_CLOCK):09d}", "d")
    points = stamp_points(changes)
    for index, change in enumerate(changes):
        model = change.simulate(model)
        if index in points:
            number = points[index]
            value = stamp(model.versions[number], targets_of(changes, number), "m.yaml", prov)
            model = with_stamp(model, number, value)
        yield model


def apply_all(model: ObservedModel, changes: list[Change]) -> ObservedModel:
    states = list(apply_changes(model, changes))
    return states[-1] if states else model


@settings(max_examples=400, deadline=None)
@given(scenario())
def test_applying_the_plan_converges(case: tuple[ModelManifest, ObservedModel]) -> None:
    manifest, model = case
    model = apply_all(model, plan_model(manifest, model))
    assert plan_model(manifest, model) == []


def _swap(manifest: ModelManifest, model: ObservedModel) -> bool:
    """Staging is refilled only from Production while its holders move up: a version
    holds one stage at a time, so one of the two stages must be empty for a moment."""
    incoming = [
        v for v in manifest.stages.get("Staging", ()) if model.versions[v].stage != "Staging"
    ]
    return bool(incoming) and all(model.versions[v].stage == "Production" for v in incoming)


CHAIN = (  # v3 None -> Staging, v2 Staging -> Production, v1 Production -> Archived
    ModelManifest(model="m", file="f", stages={"Production": (2,), "Staging": (3,)}),
    ObservedModel(
        "m",
        versions={
            1: ObservedVersion(1, "Production"),
            2: ObservedVersion(2, "Staging"),
            3: ObservedVersion(3, "None"),
        },
    ),
)


@settings(max_examples=1000, deadline=None)
@example(CHAIN)
@given(scenario())
def test_no_wanted_stage_is_left_empty_mid_way(case: tuple[ModelManifest, ObservedModel]) -> None:
    manifest, model = case
    keep = [
        stage
        for stage in ("Production", "Staging")
        if manifest.stages.get(stage)
        and model.stage_holders(stage)
        and not (stage == "Staging" and _swap(manifest, model))
    ]
    changes = plan_model(manifest, model)
    for change, after in zip(changes, apply_changes(model, changes), strict=True):
        for stage in keep:
            assert after.stage_holders(stage), f"{stage} empty after {change}"


@settings(max_examples=200, deadline=None)
@given(scenario())
def test_plans_do_not_depend_on_dict_order(case: tuple[ModelManifest, ObservedModel]) -> None:
    """MLflow returns aliases, tags and versions in no promised order: the same
    registry read in another order must give the same plan."""
    manifest, model = case
    shuffled = ObservedModel(
        name=model.name,
        description=model.description,
        tags=dict(reversed(list(model.tags.items()))),
        aliases=dict(reversed(list(model.aliases.items()))),
        versions=dict(reversed(list(model.versions.items()))),
    )
    assert plan_model(manifest, model) == plan_model(manifest, shuffled)


@settings(max_examples=200, deadline=None)
@given(scenario())
def test_own_provenance_tags_are_never_touched(case: tuple[ModelManifest, ObservedModel]) -> None:
    manifest, model = case
    for change in plan_model(manifest, model):
        assert not (change.key or "").startswith("registry_ops.")
