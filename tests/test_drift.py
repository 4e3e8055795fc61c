"""Drift named as drift, unmanaged aliases and tags, protected targets, --changed-since."""

from __future__ import annotations

import json
from typing import Any

import git

from tests.support.backends import SQLITE, only


def plan_json(cli, backend, workspace, *extra: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    result = cli(*backend.args(workspace.root, "plan", "--format", "json", *extra))
    assert result.code == 0, result.err
    return json.loads(result.out)  # type: ignore[no-any-return]


def test_reverting_an_out_of_band_move_is_drift(cli, backend, workspace):  # type: ignore[no-untyped-def]
    clf = backend.name("clf")
    for _ in range(3):
        backend.seeder.version(clf, acc=0.9)
    workspace.manifest(
        clf, "aliases: {champion: 2}\nstages: {Production: 2}\nprotect: [champion]\n"
    )
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    assert cli(*backend.args(workspace.root, "plan", "--detailed-exitcode")).code == 0

    backend.client.set_registered_model_alias(clf, "champion", "3")  # behind the tool's back
    backend.client.transition_model_version_stage(clf, "1", "Production")
    data = plan_json(cli, backend, workspace)
    changes = data["models"][0]["changes"]
    alias = next(c for c in changes if c.get("alias") == "champion")
    assert alias["reason"] == "drift" and alias["alert"] is True
    assert alias["drift"]["put_by_registry_ops_at"] and alias["drift"]["protected"] is True
    archive = next(c for c in changes if c.get("stage") == "Archived")
    assert (archive["version"], archive["reason"]) == (1, "drift")
    assert archive["alert"] is False  # Production is not protected here
    assert data["summary"]["drift"] == 2 and data["summary"]["alerts"] == 1

    text = cli(*backend.args(workspace.root, "plan"))
    assert "[drift: moved outside registry-ops; registry-ops put v2 there at" in text.out
    assert "[PROTECTED]" in text.out and "ALERT: protected alias:champion" in text.out
    code = cli(*backend.args(workspace.root, "plan", "--detailed-exitcode")).code
    assert code == 5  # an alert has its own exit code
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    assert backend.aliases(clf) == {"champion": 2} and backend.stage(clf, 1) == "Archived"


def test_a_manifest_change_is_not_drift(cli, backend, workspace):  # type: ignore[no-untyped-def]
    clf = backend.name("clf")
    for _ in range(2):
        backend.seeder.version(clf, acc=0.9)
    workspace.manifest(clf, "aliases: {champion: 1}\n")
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    workspace.manifest(clf, "aliases: {champion: 2}\n")
    change = plan_json(cli, backend, workspace)["models"][0]["changes"][0]
    assert change["reason"] == "manifest" and "drift" not in change


@only(SQLITE)
def test_metadata_drift_when_the_manifest_is_unchanged_since_the_last_apply(  # type: ignore[no-untyped-def]
    cli, backend, workspace
):
    clf = backend.name("clf")
    backend.seeder.version(clf, acc=0.9)
    workspace.manifest(clf, "description: the classifier\ntags: {team: a}\n")
    repo = git.Repo.init(workspace.root)
    with repo.config_writer() as config:
        config.set_value("user", "name", "Ada").set_value("user", "email", "ada@example.com")
    repo.index.add(["manifests/m.yaml"])
    repo.index.commit("manage clf")
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    backend.client.set_registered_model_tag(clf, "team", "b")
    changes = plan_json(cli, backend, workspace)["models"][0]["changes"]
    assert [(c["action"], c["reason"]) for c in changes] == [("set_model_tag", "drift")]
    assert changes[0]["drift"]["last_applied_commit"] == repo.head.commit.hexsha


def test_unmanaged_aliases_and_tags_are_reported(cli, backend, workspace):  # type: ignore[no-untyped-def]
    clf = backend.name("clf")
    backend.seeder.version(clf, acc=0.9)
    workspace.manifest(clf, "aliases: {champion: 1}\ntags: {team: a}\n")
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    backend.client.set_registered_model_alias(clf, "shadow", "1")
    backend.client.set_registered_model_tag(clf, "owner", "bob")
    model = plan_json(cli, backend, workspace)["models"][0]
    assert model["changes"] == []
    assert model["unmanaged"] == {"aliases": {"shadow": 1}, "tags": {"owner": "bob"}}
    text = cli(*backend.args(workspace.root, "plan")).out
    assert "? unmanaged aliases: shadow -> v1" in text and "owner='bob'" in text


@only(SQLITE)
def test_changed_since_selects_what_a_pull_request_touches(cli, backend, workspace):  # type: ignore[no-untyped-def]
    a, b, c = backend.name("a"), backend.name("b"), backend.name("c")
    for model in (a, b, c):
        backend.seeder.version(model, acc=0.9)
    workspace.policy("prod", "    - metric: acc\n      min: 0.5\n")
    workspace.policy("other", "    - metric: acc\n      min: 0.5\n")
    workspace.manifest(a, "aliases: {champion: 1}\n", name="a")
    workspace.manifest(b, "aliases: {champion: 1}\ngates: {champion: prod}\n", name="b")
    workspace.manifest(c, "aliases: {champion: 1}\ngates: {champion: other}\n", name="c")
    repo = git.Repo.init(workspace.root)
    with repo.config_writer() as config:
        config.set_value("user", "name", "Ada").set_value("user", "email", "ada@example.com")
    repo.git.add(A=True)
    base = repo.index.commit("base").hexsha
    nothing = cli(
        *backend.args(workspace.root, "plan", "--format", "json", "--changed-since", base)
    )
    assert nothing.code == 0 and json.loads(nothing.out)["models"] == []
    assert "No manifest, or policy in use, changed since" in nothing.err

    workspace.manifest(a, "aliases: {champion: 1}\ndescription: edited\n", name="a")
    workspace.policy("prod", "    - metric: acc\n      min: 0.6\n")  # b uses it
    repo.git.add(A=True)
    repo.index.commit("a PR")
    data = plan_json(cli, backend, workspace, "--changed-since", base)
    assert sorted(m["model"] for m in data["models"]) == sorted([a, b])
    unknown = cli(*backend.args(workspace.root, "plan", "--changed-since", "no-such-ref"))
    assert unknown.code == 1 and "git does not know 'no-such-ref'" in unknown.err


@only(SQLITE)
def test_export_force_keeps_what_people_wrote_and_points_at_the_schemas(  # type: ignore[no-untyped-def]
    cli, backend, workspace
):
    clf = backend.name("clf")
    backend.seeder.version(clf, acc=0.9)
    (workspace.root / "schemas").mkdir()
    (workspace.root / "schemas" / "manifest.schema.json").write_text("{}")
    workspace.policy("prod", "    - metric: acc\n      min: 0.5\n")
    workspace.manifest(
        clf,
        "aliases: {champion: 1}\ngates: {champion: prod}\nprotect: [champion]\n"
        "retention: {archive_unlisted: true, keep_latest: 3}\n"
        'overrides:\n  champion:\n    reason: "INC-1: the fallback path needs v1 back today"\n'
        "    expires: 2099-12-31\n",
    )
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    backend.seeder.version(clf, acc=0.9)
    backend.client.set_registered_model_alias(clf, "champion", "2")
    result = cli(*backend.args(workspace.root, "export", clf, "--force"))
    assert result.code == 0, result.err
    text = (workspace.root / "manifests" / "m.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=../schemas/manifest.schema.json\n")
    for kept in ("gates:", "champion: prod", "protect:", "keep_latest: 3", "INC-1", "2099-12-31"):
        assert kept in text, text
    assert "champion: 2" in text
    assert cli(*backend.args(workspace.root, "validate")).code == 0
    # v2 took champion outside registry-ops: adopting it leaves one stamp to write
    data = json.loads(cli(*backend.args(workspace.root, "plan", "--format", "json")).out)
    assert [c["reason"] for c in data["models"][0]["changes"]] == ["provenance"]
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    assert cli(*backend.args(workspace.root, "plan", "--detailed-exitcode")).code == 0


@only(SQLITE)
def test_protecting_an_adopted_model_alerts_on_a_move_by_hand(cli, backend, workspace):  # type: ignore[no-untyped-def]
    # A registry run by hand until now: adopted with export, then protected.
    clf = backend.name("clf")
    for _ in range(2):
        backend.seeder.version(clf, acc=0.9)
    backend.client.set_registered_model_alias(clf, "champion", "1")
    backend.client.transition_model_version_stage(clf, "1", "Production")
    assert cli(*backend.args(workspace.root, "export", clf)).code == 0
    (path,) = (workspace.root / "manifests").glob("*.yaml")
    path.write_text(path.read_text() + "protect: [champion, Production]\n")
    assert cli(*backend.args(workspace.root, "validate")).code == 0

    # Holders as the manifest says: no alert; the first apply records who holds what.
    data = plan_json(cli, backend, workspace)
    assert {c["reason"] for c in data["models"][0]["changes"]} == {"provenance"}
    assert data["summary"]["alerts"] == 0
    assert cli(*backend.args(workspace.root, "plan", "--detailed-exitcode")).code == 2

    # Moved by hand before registry-ops ever wrote to the model: no record, still an alert.
    backend.client.set_registered_model_alias(clf, "champion", "2")
    backend.client.transition_model_version_stage(clf, "2", "Production")
    data = plan_json(cli, backend, workspace)
    moves = [c for c in data["models"][0]["changes"] if c["reason"] != "provenance"]
    assert [(c["action"], c["version"], c["from_version"], c["alert"]) for c in moves] == [
        ("set_alias", 1, 2, True),
        ("transition_stage", 2, None, True),  # v2 archived out of the protected Production
    ]
    assert all(c["drift"] == {"no_registry_ops_record": True, "protected": True} for c in moves)
    text = cli(*backend.args(workspace.root, "plan"))
    assert "registry-ops has no record of this model yet] [PROTECTED]" in text.out
    assert cli(*backend.args(workspace.root, "plan", "--detailed-exitcode")).code == 5

    # apply reverts it and stamps the holders; from then on the records decide
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    assert cli(*backend.args(workspace.root, "plan", "--detailed-exitcode")).code == 0
    backend.client.set_registered_model_alias(clf, "champion", "2")
    (alias,) = plan_json(cli, backend, workspace)["models"][0]["changes"]
    assert alias["alert"] is True and alias["drift"]["put_by_registry_ops_at"]
    # ... and a reviewed promotion of a protected target is no alert
    backend.client.set_registered_model_alias(clf, "champion", "1")
    path.write_text(path.read_text().replace("champion: 1", "champion: 2"))
    (promotion,) = plan_json(cli, backend, workspace)["models"][0]["changes"]
    assert (promotion["reason"], promotion["alert"]) == ("manifest", False)
    assert cli(*backend.args(workspace.root, "plan", "--detailed-exitcode")).code == 2


@only(SQLITE)
def test_an_adopted_model_without_protect_stays_quiet_and_unstamped(cli, backend, workspace):  # type: ignore[no-untyped-def]
    clf = backend.name("clf")
    for _ in range(2):
        backend.seeder.version(clf, acc=0.9)
    backend.client.set_registered_model_alias(clf, "champion", "1")
    assert cli(*backend.args(workspace.root, "export", clf)).code == 0
    assert cli(*backend.args(workspace.root, "plan", "--detailed-exitcode")).code == 0
    backend.client.set_registered_model_alias(clf, "champion", "2")
    (change,) = plan_json(cli, backend, workspace)["models"][0]["changes"]
    assert (change["reason"], change["alert"]) == ("manifest", False) and "drift" not in change
