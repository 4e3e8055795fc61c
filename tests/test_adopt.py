"""Adopting an existing registry: ``export``, then ``history`` and ``plan`` on what it wrote.

A real sqlite MLflow store set up by hand (a real MlflowClient standing in for
the MLflow UI and for other tools), a real git repository that commits what
``export`` wrote, and real applies afterwards.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import git
import yaml

from tests.support.backends import SQLITE, only


def _repo(root: Path) -> git.Repo:
    (root / "manifests").mkdir(parents=True, exist_ok=True)
    (root / "policies").mkdir(exist_ok=True)
    repo = git.Repo.init(root)
    with repo.config_writer() as config:
        config.set_value("user", "name", "Ada").set_value("user", "email", "ada@example.com")
    return repo


def _commit(repo: git.Repo, message: str) -> str:
    repo.git.add("-A", "manifests")
    return repo.index.commit(message).hexsha


def _tick() -> datetime:
    """Now, with a clear second either side: git dates commits to the second."""
    time.sleep(1.1)
    now = datetime.now(UTC)
    time.sleep(1.1)
    return now


def _at(cli: Any, backend: Any, root: Path, model: str, when: datetime) -> dict[str, Any]:
    result = cli(
        *backend.args(root, "history", model, "--at", when.isoformat(), "--format", "json")
    )
    assert result.code == 0, result.err
    targets: dict[str, Any] = json.loads(result.out)["at"]["targets"]
    return targets


def _held(answer: dict[str, Any], target: str) -> dict[int, str]:
    return {h["version"]: h["source"] for h in answer[target]["holders"]}


@only(SQLITE)
def test_history_of_an_adopted_registry_shows_adoption_not_drift(  # type: ignore[no-untyped-def]
    cli, backend, tmp_path: Path
):
    clf, client = backend.name("clf"), backend.client
    for _ in range(3):
        backend.seeder.version(clf, val_accuracy=0.9)
    created = datetime.now(UTC)
    client.set_registered_model_alias(clf, "champion", "2")  # by hand, long before registry-ops
    client.transition_model_version_stage(clf, "2", "Production")
    client.transition_model_version_stage(clf, "3", "Staging")
    before_adoption = _tick()

    root = tmp_path / "repo"
    repo = _repo(root)
    assert cli(*backend.args(root, "export", clf)).code == 0
    adopting = _commit(repo, "adopt the registry")
    between = _tick()  # adopted, nothing applied yet

    (path,) = (root / "manifests").glob("*.yaml")
    path.write_text(path.read_text().replace("champion: 2", "champion: 3"))
    promoting = _commit(repo, "promote v3")
    assert cli(*backend.args(root, "apply", "--yes")).code == 0

    data = json.loads(cli(*backend.args(root, "history", clf, "--format", "json")).out)
    assert data["drift"] == []
    adopted = {(i["target"], i["version"]) for i in data["timeline"] if i["source"] == "adopted"}
    assert adopted == {("alias:champion", 2), ("stage:Production", 2), ("stage:Staging", 3)}
    assert {i["commit"] for i in data["timeline"] if i["source"] == "adopted"} == {adopting}
    champion = [i for i in data["timeline"] if i["target"] == "alias:champion"]
    assert [(i["version"], i["source"], i["commit"]) for i in champion] == [
        (2, "adopted", adopting),
        (3, "apply", promoting),
    ]
    assert champion[0]["end"] == champion[1]["start"] and champion[0]["end_known"]
    assert not champion[0]["start_known"] and champion[0]["reverted_by"] is None
    # The apply re-stamped Production and Staging where they stood: one holding each.
    assert [i["source"] for i in data["timeline"] if i["target"] == "stage:Production"] == [
        "adopted"
    ]

    text = cli(*backend.args(root, "history", clf)).out
    assert "Drift: none" in text and "DRIFT" not in text
    assert f"adopted (commit {adopting[:12]}" in text
    markdown = cli(*backend.args(root, "history", clf, "--format", "markdown")).out
    assert "v2 adopted :" in markdown and "#### Drift" not in markdown and "crit" not in markdown

    # Between adoption and the first apply: what the registry held, and why we know.
    then = _at(cli, backend, root, clf, between)
    assert _held(then, "alias:champion") == {2: "adopted"}
    assert _held(then, "stage:Production") == {2: "adopted"}
    assert _held(then, "stage:Staging") == {3: "adopted"}
    entry = then["alias:champion"]["holders"][0]
    assert entry["basis"] == "adoption" and entry["commit_info"]["commit"] == adopting
    assert "MLflow records no time for alias changes" in entry["note"]
    assert "so it held it then" in entry["note"]
    production = then["stage:Production"]["holders"][0]
    assert (
        "last updated" in production["note"]
        and "entering Production is no later" in (production["note"])
    )
    assert then["alias:champion"]["desired"] == 2

    # Before the adopting commit: the stage's last update bounds it, the alias only the commit.
    early = _at(cli, backend, root, clf, before_adoption)
    assert _held(early, "stage:Production") == {2: "adopted"}
    assert "so it held it then" in early["stage:Production"]["holders"][0]["note"]
    assert "may not have held it yet" in early["alias:champion"]["holders"][0]["note"]
    # Before the versions existed nothing held anything.
    nothing = _at(cli, backend, root, clf, created - timedelta(days=1))
    assert all(not target["holders"] for target in nothing.values())

    shown = cli(*backend.args(root, "history", clf, "--at", between.isoformat())).out
    assert "alias champion: v2; adopted;" in shown and "held by no version" not in shown


@only(SQLITE)
def test_a_change_after_adoption_is_still_drift(cli, backend, tmp_path: Path):  # type: ignore[no-untyped-def]
    clf, client = backend.name("clf"), backend.client
    for _ in range(3):
        backend.seeder.version(clf, val_accuracy=0.9)
    client.set_registered_model_alias(clf, "champion", "2")
    client.transition_model_version_stage(clf, "3", "Staging")
    root = tmp_path / "repo"
    repo = _repo(root)
    assert cli(*backend.args(root, "export", clf)).code == 0
    _commit(repo, "adopt the registry")
    # someone moves Staging by hand after the manifest adopted v3 there
    client.transition_model_version_stage(clf, "1", "Staging", archive_existing_versions=True)
    assert cli(*backend.args(root, "apply", "--yes")).code == 0  # puts v3 back

    data = json.loads(cli(*backend.args(root, "history", clf, "--format", "json")).out)
    assert [(d["target"], d["version"]) for d in data["drift"]] == [("stage:Staging", 1)]
    assert data["drift"][0]["reverted_by"]
    sources = {(i["target"], i["version"]): i["source"] for i in data["timeline"]}
    assert sources[("alias:champion", 2)] == "adopted"
    text = cli(*backend.args(root, "history", clf)).out
    assert "Drift: 1" in text


@only(SQLITE)
def test_history_of_a_registry_never_adopted_answers_from_its_timestamps(  # type: ignore[no-untyped-def]
    cli, backend, tmp_path: Path
):
    clf, client = backend.name("clf"), backend.client
    backend.seeder.version(clf, val_accuracy=0.9)
    client.transition_model_version_stage(clf, "1", "Production")
    client.set_registered_model_alias(clf, "champion", "1")
    root = tmp_path / "repo"
    _repo(root)
    answer = _at(cli, backend, root, clf, datetime.now(UTC))
    production = answer["stage:Production"]["holders"][0]
    assert (production["source"], production["basis"]) == ("unmanaged", "registry")
    assert "registry-ops never applied this model" in production["note"]
    assert "entering Production is no later" in production["note"]
    assert production["held_by"] is not None
    champion = answer["alias:champion"]["holders"][0]
    assert "MLflow records no time for alias changes" in champion["note"]


@only(SQLITE)
def test_export_leaves_tags_of_other_tools_alone(cli, backend, tmp_path: Path):  # type: ignore[no-untyped-def]
    clf, client = backend.name("clf"), backend.client
    backend.seeder.version(clf, val_accuracy=0.9)
    client.set_registered_model_alias(clf, "champion", "1")
    client.set_registered_model_tag(clf, "team", "fraud")
    client.set_registered_model_tag(clf, "mlflow.source.type", "NOTEBOOK")
    client.set_registered_model_tag(clf, "databricks.owner", "someone")
    root = tmp_path / "repo"
    assert cli(*backend.args(root, "export", clf)).code == 0
    (path,) = (root / "manifests").glob("*.yaml")
    exported = yaml.safe_load(path.read_text())
    assert exported["tags"] == {"team": "fraud"}
    assert cli(*backend.args(root, "plan", "--detailed-exitcode")).code == 0

    # Another tool changes, adds and removes its own tags: nothing to plan, nothing listed.
    client.set_registered_model_tag(clf, "mlflow.source.type", "JOB")
    client.set_registered_model_tag(clf, "mlflow.note.content", "retrained")
    client.delete_registered_model_tag(clf, "databricks.owner")
    plan = cli(*backend.args(root, "plan", "--detailed-exitcode", "--format", "json"))
    assert plan.code == 0, plan.out
    (model,) = json.loads(plan.out)["models"]
    assert model["changes"] == [] and "tags" not in model.get("unmanaged", {})

    # Even a manifest that prunes tags, or names one of theirs, leaves them alone.
    text = path.read_text().replace("tags:\n", "tags:\n  mlflow.source.type: MINE\n", 1)
    path.write_text(text + "prune: {tags: true}\n")
    planned = cli(*backend.args(root, "plan", "--detailed-exitcode"))
    assert planned.code == 0, planned.out + planned.err
    assert "$.tags['mlflow.source.type']: tags mlflow.*, databricks.* belong to MLflow" in (
        planned.err
    )
    assert client.get_registered_model(clf).tags["mlflow.source.type"] == "JOB"


@only(SQLITE)
def test_export_out_dir_writes_there_only(cli, backend, workspace, tmp_path: Path):  # type: ignore[no-untyped-def]
    clf = backend.name("clf")
    for _ in range(2):
        backend.seeder.version(clf, val_accuracy=0.9)
    workspace.policy("prod", "    - metric: val_accuracy\n      min: 0.5\n")
    workspace.manifest(
        clf, "# our champion; see the runbook\naliases: {champion: 1}  # v1 for now\n"
        "gates: {champion: prod}\n",
    )  # fmt: skip
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    backend.client.set_registered_model_alias(clf, "champion", "2")  # changed by hand since
    manifests = workspace.root / "manifests"
    before = {p: p.read_bytes() for p in manifests.rglob("*")}

    out = tmp_path / "exported"
    for force in ((), ("--force",)):
        result = cli(*backend.args(workspace.root, "export", clf, "--out-dir", str(out), *force))
        assert result.code == 0, result.err
        assert {p: p.read_bytes() for p in manifests.rglob("*")} == before  # byte-identical
    written = sorted(out.glob("*.yaml"))
    assert written and all(yaml.safe_load(p.read_text())["model"] == clf for p in written)
    data = yaml.safe_load(written[-1].read_text())
    assert data["aliases"] == {"champion": 2} and data["gates"] == {"champion": "prod"}

    # Even a directory that holds manifests/ is written into, never below.
    top = cli(*backend.args(workspace.root, "export", clf, "--out-dir", str(workspace.root)))
    assert top.code == 0 and {p: p.read_bytes() for p in manifests.rglob("*")} == before
    assert yaml.safe_load(Path(top.out.split()[-1]).read_text())["model"] == clf
    # A second manifest of a managed model under manifests/ would manage it twice.
    inside = cli(*backend.args(workspace.root, "export", clf, "--out-dir", str(manifests / "x")))
    assert inside.code == 1 and "second manifest" in inside.err
    assert {p: p.read_bytes() for p in manifests.rglob("*")} == before
