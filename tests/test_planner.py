"""Planner on plain data: hand-built manifests and observed state, no MLflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from registry_ops.core.changes import Change
from registry_ops.core.model import Location, ModelManifest, Prune, Retention
from registry_ops.core.planner import plan_model, plan_models
from registry_ops.core.state import Observed, ObservedModel, ObservedVersion, fingerprint
from registry_ops.errors import InvalidInput

# --- builders ----------------------------------------------------------------


def observed(
    stages: dict[int, str] | None = None,
    *,
    name: str = "clf",
    versions: int = 0,
    aliases: dict[str, int] | None = None,
    tags: dict[str, str] | None = None,
    description: str = "",
) -> ObservedModel:
    """A model with versions 1..max(versions, stage keys); ``stages`` maps version -> stage."""
    stages = stages or {}
    top = max([versions, *stages])
    return ObservedModel(
        name=name,
        description=description,
        tags=dict(tags or {}),
        aliases=dict(aliases or {}),
        versions={
            v: ObservedVersion(v, stages.get(v, "None"), run_id=f"run{v}")
            for v in range(1, top + 1)
        },
    )


def manifest(name: str = "clf", **kw: Any) -> ModelManifest:
    stages = {k: (v,) if isinstance(v, int) else tuple(v) for k, v in kw.pop("stages", {}).items()}
    return ModelManifest(model=name, file=f"manifests/{name}.yaml", stages=stages, **kw)


def summary(changes: list[Change]) -> list[tuple[Any, ...]]:
    """A compact, comparable view of a change list (stamp-only changes are
    left out here; the provenance tests below look at them)."""
    out: list[tuple[Any, ...]] = []
    for c in changes:
        if c.reason == "provenance":
            continue
        if c.action == "transition_stage":
            out.append((c.action, c.version, c.stage, c.reason))
        elif c.action in ("set_alias", "delete_alias"):
            out.append((c.action, c.alias, c.version, c.from_version))
        else:
            out.append((c.action, c.key, c.value))
    return out


def stage_moves(changes: list[Change]) -> list[tuple[int | None, str | None]]:
    return [(c.version, c.stage) for c in changes if c.action == "transition_stage"]


# --- convergence and aliases -----------------------------------------------------


def test_converged_model_plans_nothing() -> None:
    model = observed(
        {2: "Production", 3: "Staging", 1: "Archived"},
        aliases={"champion": 2},
        tags={"team": "ml"},
        description="d",
    )
    wanted = manifest(
        description="d",
        tags={"team": "ml"},
        aliases={"champion": 2},
        stages={"Production": 2, "Staging": 3},
        retention=Retention(archive_unlisted=True),
    )
    assert plan_model(wanted, model) == []


def test_alias_set_when_absent_has_no_from_version() -> None:
    changes = plan_model(manifest(aliases={"champion": 2}), observed(versions=2))
    assert summary(changes) == [("set_alias", "champion", 2, None)]
    assert changes[0].is_promotion and changes[0].target == "alias:champion"


def test_alias_move_records_the_current_holder() -> None:
    changes = plan_model(
        manifest(aliases={"champion": 3}), observed(versions=3, aliases={"champion": 1})
    )
    assert summary(changes) == [("set_alias", "champion", 3, 1)]


def test_unnamed_aliases_are_left_alone_without_prune() -> None:
    model = observed(versions=2, aliases={"champion": 1, "stray": 2})
    assert plan_model(manifest(aliases={"champion": 1}), model) == []


def test_prune_aliases_deletes_unnamed_ones_last() -> None:
    model = observed({1: "None"}, versions=2, aliases={"zeta": 2, "stray": 1})
    wanted = manifest(aliases={"champion": 2}, stages={"Production": 2}, prune=Prune(aliases=True))
    changes = plan_model(wanted, model)
    assert summary(changes) == [
        ("set_alias", "champion", 2, None),
        ("transition_stage", 2, "Production", "manifest"),
        ("delete_alias", "stray", None, 1),
        ("delete_alias", "zeta", None, 2),
    ]
    assert all(c.reason == "prune" for c in changes if c.action == "delete_alias")


# --- description and tags -----------------------------------------------------------


def test_description_and_tags_untouched_when_absent_from_manifest() -> None:
    model = observed(versions=1, tags={"team": "x"}, description="old")
    assert plan_model(manifest(), model) == []
    # prune.tags without a tags key owns nothing to compare against: still no change
    assert plan_model(manifest(prune=Prune(tags=True)), model) == []


def test_description_update_carries_old_and_new_value() -> None:
    changes = plan_model(manifest(description="new"), observed(versions=1, description="old"))
    assert [(c.action, c.from_value, c.value) for c in changes] == [
        ("update_description", "old", "new")
    ]


def test_tags_set_and_changed_but_unnamed_kept_without_prune() -> None:
    model = observed(versions=1, tags={"team": "a", "other": "o"})
    changes = plan_model(manifest(tags={"team": "b", "tier": "1"}), model)
    assert [(c.action, c.key, c.from_value, c.value) for c in changes] == [
        ("set_model_tag", "team", "a", "b"),
        ("set_model_tag", "tier", None, "1"),
    ]


def test_prune_tags_deletes_unnamed_user_tags() -> None:
    model = observed(versions=1, tags={"team": "a", "old": "o", "older": "oo"})
    changes = plan_model(manifest(tags={"team": "a"}, prune=Prune(tags=True)), model)
    assert summary(changes) == [
        ("delete_model_tag", "old", None),
        ("delete_model_tag", "older", None),
    ]
    assert [c.from_value for c in changes] == ["o", "oo"]


def test_provenance_tags_are_neither_drift_nor_pruned() -> None:
    model = observed(
        versions=1,
        tags={"team": "a", "registry_ops.last_applied_commit": "abc", "registry_ops.x": "y"},
    )
    wanted = manifest(tags={"team": "a"}, prune=Prune(aliases=True, tags=True))
    assert plan_model(wanted, model) == []
    # and an empty owned tag set still keeps them
    changes = plan_model(manifest(tags={}, prune=Prune(tags=True)), model)
    assert [c.key for c in changes] == ["team"]


# --- stages ---------------------------------------------------------------------------


def test_promotion_archives_displaced_holder_after_new_holder() -> None:
    model = observed({1: "Production"}, versions=2)
    changes = plan_model(manifest(stages={"Production": 2}), model)
    assert summary(changes) == [
        ("transition_stage", 2, "Production", "manifest"),
        ("transition_stage", 1, "Archived", "displaced"),
    ]
    assert changes[0].from_version == 1 and changes[0].from_stage == "None"
    assert changes[1].from_stage == "Production"
    assert changes[0].is_promotion and not changes[1].is_promotion


def test_staging_to_production_with_new_staging_holder_orders_staging_first() -> None:
    model = observed({1: "Production", 2: "Staging"}, versions=3)
    changes = plan_model(manifest(stages={"Production": 2, "Staging": 3}), model)
    assert stage_moves(changes) == [(3, "Staging"), (2, "Production"), (1, "Archived")]
    staging = changes[0]
    assert (staging.from_version, staging.from_stage) == (2, "None")
    production = changes[1]
    assert (production.from_version, production.from_stage) == (1, "Staging")


def test_swap_between_stages_archives_nothing() -> None:
    model = observed({1: "Production", 2: "Staging"})
    changes = plan_model(manifest(stages={"Production": 2, "Staging": 1}), model)
    assert stage_moves(changes) == [(2, "Production"), (1, "Staging")]


def test_stage_list_keeps_several_production_holders() -> None:
    model = observed({1: "Production", 2: "Production"}, versions=3)
    changes = plan_model(manifest(stages={"Production": [2, 3]}), model)
    assert summary(changes) == [
        ("transition_stage", 3, "Production", "manifest"),
        ("transition_stage", 1, "Archived", "displaced"),
    ]
    assert plan_model(manifest(stages={"Production": [1, 2]}), model) == []


def test_explicit_archive_is_not_a_promotion_and_skips_archived_versions() -> None:
    model = observed({1: "Production", 2: "Archived"}, versions=3)
    changes = plan_model(manifest(stages={"Archived": [1, 2], "Production": 3}), model)
    assert stage_moves(changes) == [(3, "Production"), (1, "Archived")]
    assert not changes[1].is_promotion


def test_explicit_archive_has_no_from_version() -> None:
    model = observed({1: "Production", 5: "Archived"})
    (change,) = plan_model(manifest(stages={"Archived": 1}), model)
    assert (change.version, change.stage) == (1, "Archived")
    assert change.from_version is None


# --- owned, empty targets ------------------------------------------------------------


def test_an_owned_empty_alias_is_deleted_last_and_an_unheld_one_plans_nothing() -> None:
    model = observed({1: "Production"}, versions=3, aliases={"champion": 2, "challenger": 3})
    wanted = manifest(aliases={"champion": 3, "challenger": None}, stages={"Production": 2})
    changes = plan_model(wanted, model)
    assert summary(changes) == [
        ("set_alias", "champion", 3, 2),
        ("transition_stage", 2, "Production", "manifest"),
        ("transition_stage", 1, "Archived", "displaced"),
        ("delete_alias", "challenger", None, 3),
    ]
    deletion = changes[-1]
    assert deletion.reason == "manifest" and deletion.target == "alias:challenger"
    assert not deletion.is_promotion  # emptying runs no gates

    emptied = observed({2: "Production"}, versions=3, aliases={"champion": 3})
    assert plan_model(wanted, emptied) == []


def test_an_owned_empty_stage_has_its_holders_archived_after_they_move_on() -> None:
    # Staging's v2 moves up to Production; Staging stays owned, with nobody in it.
    model = observed({1: "Production", 2: "Staging", 3: "Staging"}, versions=3)
    wanted = manifest(stages={"Production": 2, "Staging": []})
    changes = plan_model(wanted, model)
    assert summary(changes) == [
        ("transition_stage", 2, "Production", "manifest"),
        ("transition_stage", 1, "Archived", "displaced"),
        ("transition_stage", 3, "Archived", "displaced"),
    ]
    assert changes[2].from_stage == "Staging"
    converged = observed({1: "Archived", 2: "Production", 3: "Archived"})
    assert plan_model(wanted, converged) == []


def test_retention_archives_what_an_emptied_alias_held_and_stamps_no_empty_target() -> None:
    managed = {"registry_ops.last_applied_commit": "abc"}
    model = observed(versions=4, aliases={"champion": 4, "challenger": 3}, tags=managed)
    wanted = manifest(
        aliases={"champion": 4, "challenger": None},
        stages={"Staging": []},
        retention=Retention(True, keep_latest=1),
    )
    changes = plan_model(wanted, model)
    assert [(c.action, c.version or c.from_version, c.reason) for c in changes] == [
        ("transition_stage", 1, "retention"),
        ("transition_stage", 2, "retention"),
        ("transition_stage", 3, "retention"),
        ("delete_alias", 3, "manifest"),
        ("set_alias", 4, "provenance"),  # the held champion; nothing for the empty ones
    ]


def test_an_owned_empty_target_names_no_version_that_must_exist() -> None:
    wanted = manifest(aliases={"challenger": None}, stages={"Staging": []})
    (plan,) = plan_models([wanted], Observed({"clf": observed(versions=1)}))
    assert plan.changes == []
    assert wanted.named_versions() == set()


# --- retention --------------------------------------------------------------------------


def test_retention_archives_unlisted_except_newest() -> None:
    model = observed(versions=6)
    wanted = manifest(aliases={"champion": 2}, retention=Retention(True, keep_latest=2))
    changes = plan_model(wanted, model)
    assert stage_moves(changes) == [(1, "Archived"), (3, "Archived"), (4, "Archived")]
    assert all(c.reason == "retention" for c in changes if c.action == "transition_stage")


def test_retention_off_archives_nothing() -> None:
    model = observed(versions=6, aliases={"champion": 2})
    assert plan_model(manifest(aliases={"champion": 2}), model) == []


def test_retention_keep_latest_zero_and_already_archived_not_rearchived() -> None:
    model = observed({1: "Archived", 2: "Staging", 3: "Production"}, versions=4)
    changes = plan_model(manifest(stages={"Production": 3}, retention=Retention(True)), model)
    # v2 holds Staging, which this manifest does not list: not its to archive.
    assert summary(changes) == [("transition_stage", 4, "Archived", "retention")]
    assert changes[0].from_stage == "None"


def test_displaced_holder_is_archived_once_even_with_retention() -> None:
    model = observed({1: "Production"}, versions=2)
    changes = plan_model(manifest(stages={"Production": 2}, retention=Retention(True)), model)
    assert [c.version for c in changes if c.stage == "Archived"] == [1]


def test_full_order_metadata_aliases_promotions_archives_deletions() -> None:
    model = observed(
        {1: "Production", 2: "Staging"},
        versions=4,
        aliases={"old": 1},
        tags={"team": "a"},
        description="x",
    )
    wanted = manifest(
        description="y",
        tags={"team": "b"},
        aliases={"champion": 2},
        stages={"Production": 2, "Staging": 3},
        retention=Retention(True),
        prune=Prune(aliases=True),
    )
    actions = [(c.action, c.version, c.stage) for c in plan_model(wanted, model)]
    assert actions == [
        ("update_description", None, None),
        ("set_model_tag", None, None),
        ("set_alias", 2, None),
        ("transition_stage", 3, "Staging"),
        ("transition_stage", 2, "Production"),
        ("transition_stage", 1, "Archived"),
        ("transition_stage", 4, "Archived"),
        ("delete_alias", None, None),
    ]


# --- plan_models: missing things, determinism ------------------------------------------


def test_missing_model_raises_with_manifest_location() -> None:
    wanted = ModelManifest(
        "ghost",
        "manifests/ghost.yaml",
        locations={("model",): Location("/r/manifests/ghost.yaml", 3, 8)},
    )
    with pytest.raises(InvalidInput) as info:
        plan_models([wanted], Observed({}))
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.column, problem.path) == (
        "/r/manifests/ghost.yaml",
        3,
        8,
        "$.model",
    )
    assert "'ghost' does not exist" in problem.message


def test_missing_versions_all_reported_with_locations() -> None:
    f = "/r/manifests/clf.yaml"
    wanted = manifest(
        aliases={"champion": 9},
        stages={"Production": [1, 7], "Staging": 8},
        locations={
            ("aliases", "champion"): Location(f, 5, 13),
            ("stages", "Production", "1"): Location(f, 7, 21),
            ("stages", "Staging"): Location(f, 8, 12),
        },
    )
    other = manifest("other", aliases={"x": 4})  # no locations: falls back to the file
    with pytest.raises(InvalidInput) as info:
        plan_models(
            [wanted, other],
            Observed({"clf": observed(versions=2), "other": observed(name="other")}),
        )
    got = [(p.file, p.line, p.column, p.path) for p in info.value.problems]
    assert got == [
        (f, 5, 13, "$.aliases.champion"),
        (f, 7, 21, "$.stages.Production"),
        (f, 8, 12, "$.stages.Staging"),
        ("manifests/other.yaml", None, None, "$.aliases.x"),
    ]
    assert "version 9 of 'clf' does not exist in MLflow (versions: 1, 2)" in str(info.value)
    assert "(versions: none)" in str(info.value)


def test_plan_models_carries_snapshot_and_fingerprint() -> None:
    model = observed({1: "Production"}, aliases={"champion": 1}, tags={"registry_ops.x": "y"})
    (plan,) = plan_models([manifest(aliases={"champion": 1})], Observed({"clf": model}))
    # A model registry-ops wrote to whose champion carries no record: stamp it.
    assert [(c.action, c.reason) for c in plan.changes] == [("set_alias", "provenance")]
    assert plan.manifest == "manifests/clf.yaml"
    assert plan.snapshot == {
        "description": "",
        "tags": {},
        "aliases": {"champion": 1},
        "stages": {"1": "Production"},
    }
    assert plan.fingerprint == fingerprint(plan.snapshot)


def test_an_adopted_model_is_stamped_at_once_only_when_it_protects_a_target() -> None:
    # Never written to by registry-ops (no tag of ours): its first plan stays empty...
    model = observed({1: "Production"}, versions=2, aliases={"champion": 1})
    wanted = manifest(aliases={"champion": 1}, stages={"Production": 1})
    assert plan_model(wanted, model) == []
    # ... unless it asks for protection: then every wanted holder is recorded, so that
    # a later move by hand can be told from a reviewed one
    protected = manifest(aliases={"champion": 1}, stages={"Production": 1}, protect=("champion",))
    changes = plan_model(protected, model)
    assert [(c.action, c.version, c.reason) for c in changes] == [
        ("set_alias", 1, "provenance"),
        ("transition_stage", 1, "provenance"),
    ]


_DETERMINISM = """
import json, sys
from registry_ops.core.model import ModelManifest, Prune, Retention
from registry_ops.core.planner import plan_models
from registry_ops.core.state import Observed, ObservedModel, ObservedVersion

order = sys.argv[1] == "reversed"
def maybe(d):
    return dict(reversed(list(d.items()))) if order else d
stages = {1: "Production", 2: "Staging", 5: "None", 6: "None", 7: "Archived"}
model = ObservedModel(
    "clf",
    tags=maybe({"z": "1", "y": "2", "x": "3"}),
    aliases=maybe({"b": 1, "a": 2, "c": 5}),
    versions=maybe({v: ObservedVersion(v, s, f"r{v}") for v, s in stages.items()}),
)
wanted = ModelManifest(
    "clf", "manifests/clf.yaml",
    tags=maybe({"k": "v", "a": "b"}),
    aliases=maybe({"x": 6, "a": 7, "b": 1}),
    stages=maybe({"Staging": (6,), "Production": (7, 2)}),
    retention=Retention(True, 1),
    prune=Prune(True, True),
)
plans = plan_models([wanted], Observed({"clf": model}))
print(json.dumps([p.to_dict() for p in plans], sort_keys=True))
"""


def test_same_input_same_output_across_processes_and_orders() -> None:
    """Sets and dicts order by hash seed and insertion: vary both, in fresh processes."""
    outputs = set()
    for seed, order in (("0", "given"), ("1", "reversed"), ("2", "given"), ("3", "reversed")):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", _DETERMINISM, order],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        outputs.add(done.stdout)
    assert len(outputs) == 1
    (plan,) = json.loads(outputs.pop())
    assert plan["changes"]  # a real plan, not an empty one that trivially agrees
