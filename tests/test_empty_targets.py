"""Owned, empty targets end to end on a sqlite registry: ``Staging: []`` and
``challenger: null`` validate with their gates, plan shows the emptying, apply does it
(after the new holders are in place), and the plan after is empty."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.conftest import Result, Workspace
from tests.support.backends import SQLITE, Backend, only

CLI = Callable[..., Result]

POLICY = """\
    - metric: val_accuracy
      min: 0.9
"""

BEFORE = """\
aliases: {champion: 2, challenger: 3}
stages: {Production: 2, Staging: 3}
gates: {champion: production, Production: production, challenger: production, Staging: production}
"""

# v3 moves up from Staging to Production and becomes champion; Staging and challenger
# stay owned and gated, with nobody in them until the next version earns them.
AFTER = """\
aliases:
  champion: 3
  challenger: null
stages:
  Production: 3
  Staging: []
gates: {champion: production, Production: production, challenger: production, Staging: production}
"""


@pytest.fixture(autouse=True)
def _short_lease_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_OPS_LEASE_SETTLE", "0.05")


@only(SQLITE)
def test_plan_and_apply_empty_a_held_target_then_nothing_is_left_to_do(
    cli: CLI, backend: Backend, workspace: Workspace
) -> None:
    clf = backend.name("clf")
    for _ in range(3):
        backend.seeder.version(clf, val_accuracy=0.95)
    workspace.policy("production", POLICY)
    workspace.manifest(clf, BEFORE)
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    assert backend.aliases(clf) == {"champion": 2, "challenger": 3}

    workspace.manifest(clf, AFTER)
    validated = cli("validate", "-C", str(workspace.root))
    assert validated.code == 0, validated.err

    text = cli(*backend.args(workspace.root, "plan", "--detailed-exitcode"))
    assert text.code == 2, text.err
    assert "- alias challenger (was v3)" in text.out
    assert "stage Production: v3 (Staging -> Production), replacing v2" in text.out
    assert "stage Archived: v2 (Production -> Archived) [displaced]" in text.out

    data = json.loads(cli(*backend.args(workspace.root, "plan", "--format", "json")).out)
    changes = [
        (c["action"], c.get("alias") or c.get("stage"), c["version"], c["from_version"])
        for c in data["models"][0]["changes"]
    ]
    assert changes == [
        ("set_alias", "champion", 3, 2),
        ("transition_stage", "Production", 3, 2),
        ("transition_stage", "Archived", 2, None),
        ("delete_alias", "challenger", None, 3),  # emptied last, as deletions are
    ]
    deletion = data["models"][0]["changes"][-1]
    assert (deletion["reason"], deletion["gates"], deletion["blocked"]) == ("manifest", [], False)

    applied = cli(*backend.args(workspace.root, "apply", "--yes"))
    assert applied.code == 0, applied.err
    assert backend.aliases(clf) == {"champion": 3}
    assert backend.stages(clf, [1, 2, 3]) == {1: "None", 2: "Archived", 3: "Production"}
    after = cli(*backend.args(workspace.root, "plan", "--detailed-exitcode"))
    assert after.code == 0, after.out


@only(SQLITE)
def test_an_empty_stage_that_someone_fills_by_hand_is_emptied_again(
    cli: CLI, backend: Backend, workspace: Workspace
) -> None:
    clf = backend.name("clf")
    for _ in range(2):
        backend.seeder.version(clf, val_accuracy=0.95)
    workspace.policy("production", POLICY)
    workspace.manifest(clf, "stages: {Production: 1, Staging: []}\ngates: {Staging: production}\n")
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    assert cli(*backend.args(workspace.root, "plan", "--detailed-exitcode")).code == 0

    backend.client.transition_model_version_stage(clf, "2", "Staging")
    data = json.loads(cli(*backend.args(workspace.root, "plan", "--format", "json")).out)
    (change,) = data["models"][0]["changes"]
    assert (change["action"], change["version"], change["stage"]) == (
        "transition_stage",
        2,
        "Archived",
    )
    assert change["from_stage"] == "Staging" and change["reason"] == "drift"
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    assert backend.stages(clf, [1, 2]) == {1: "Production", 2: "Archived"}
