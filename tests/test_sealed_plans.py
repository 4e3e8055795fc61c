"""A saved plan is a sealed artifact, bound to its registry, its commit and its evidence."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import git
import pytest

from registry_ops.core.provenance import PROVENANCE_TAG
from registry_ops.core.records import RecordKey
from registry_ops.pipeline.lease import last_applied_commit
from tests.support.backends import SQLITE, only
from tests.support.snapshot import registry_snapshot

PRODUCTION = """\
    - metric: val_accuracy
      min: 0.9
"""


@pytest.fixture
def scene(backend, workspace):  # type: ignore[no-untyped-def]
    """v1 passes the production gate, v2 fails it; the manifest promotes v2 and tags the model."""
    clf = backend.name("clf")
    backend.seeder.version(clf, val_accuracy=0.95)
    backend.seeder.version(clf, val_accuracy=0.5)
    workspace.policy("production", PRODUCTION)
    workspace.manifest(
        clf, "tags: {team: a}\naliases: {champion: 2}\ngates: {champion: production}\n"
    )
    return clf


def save(cli, backend, workspace, path: Path) -> dict:  # type: ignore[no-untyped-def,type-arg]
    result = cli(*backend.args(workspace.root, "plan", "--out", str(path)))
    assert result.code == 0, result.err
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def apply_file(cli, backend, workspace, path: Path):  # type: ignore[no-untyped-def]
    return cli(*backend.args(workspace.root, "apply", "--yes", str(path)))


def test_flipping_gate_results_is_refused_and_changes_nothing(  # type: ignore[no-untyped-def]
    cli, backend, workspace, scene, tmp_path
):
    path = tmp_path / "plan.json"
    data = save(cli, backend, workspace, path)
    assert data["status"] == "blocked"
    change = next(c for c in data["models"][0]["changes"] if c.get("alias") == "champion")
    change["gates"][0]["passed"] = True
    change["blocked"] = False
    data["models"][0]["blocked"] = False
    data["status"] = "changes"
    path.write_text(json.dumps(data))
    before = registry_snapshot(backend.uri, [scene])
    result = apply_file(cli, backend, workspace, path)
    assert result.code == 1
    assert "digest does not match" in result.err and "Traceback" not in result.err
    assert registry_snapshot(backend.uri, [scene]) == before


@only(SQLITE)
def test_derived_fields_are_recomputed_not_read(cli, backend, workspace, scene, tmp_path):  # type: ignore[no-untyped-def]
    """blocked/status are outside the digest: edit them, the gate still blocks."""
    path = tmp_path / "plan.json"
    data = save(cli, backend, workspace, path)
    for model in data["models"]:
        model["blocked"] = False
        for change in model["changes"]:
            change["blocked"] = False
    data["status"] = "changes"
    path.write_text(json.dumps(data))
    result = apply_file(cli, backend, workspace, path)
    assert result.code == 3, result.err
    assert "blocked by gates" in result.err
    assert backend.aliases(scene) == {}


@only(SQLITE)
def test_signed_plans(cli, backend, workspace, scene, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    workspace.manifest(scene, "aliases: {champion: 1}\ngates: {champion: production}\n")
    monkeypatch.setenv("REGISTRY_OPS_PLAN_KEY", "k1")
    signed = tmp_path / "signed.json"
    data = save(cli, backend, workspace, signed)
    assert data["signature"].startswith("hmac-sha256:")

    monkeypatch.setenv("REGISTRY_OPS_PLAN_KEY", "another key")
    wrong = apply_file(cli, backend, workspace, signed)
    assert wrong.code == 1 and "signature does not match" in wrong.err

    monkeypatch.delenv("REGISTRY_OPS_PLAN_KEY")
    unsigned = tmp_path / "unsigned.json"
    save(cli, backend, workspace, unsigned)
    keyless = apply_file(cli, backend, workspace, signed)
    assert keyless.code == 1 and "cannot be checked" in keyless.err

    monkeypatch.setenv("REGISTRY_OPS_PLAN_KEY", "k1")
    refused = apply_file(cli, backend, workspace, unsigned)
    assert refused.code == 1 and "not signed" in refused.err
    # a forged signature that is not even ASCII is refused like any other, not a crash
    for forged in ("hmac-sha256:é", "hmac-sha256:\u202e" + "0" * 63, "hmac-sha256:\ud800"):
        data["signature"] = forged
        odd = tmp_path / "odd.json"
        odd.write_text(json.dumps(data))
        bad = apply_file(cli, backend, workspace, odd)
        assert bad.code == 1 and "signature does not match" in bad.err, bad.err
    assert backend.aliases(scene) == {}

    good = apply_file(cli, backend, workspace, signed)
    assert good.code == 0, good.err
    assert backend.aliases(scene) == {"champion": 1}


@only(SQLITE)
def test_a_plan_for_another_registry_is_refused(  # type: ignore[no-untyped-def]
    cli, backend, workspace, scene, tmp_path
):
    workspace.manifest(scene, "aliases: {champion: 1}\n")
    path = tmp_path / "plan.json"
    save(cli, backend, workspace, path)
    twin = tmp_path / "twin.db"  # the same state, another registry
    shutil.copy(backend.uri.removeprefix("sqlite:///"), twin)
    result = cli(
        "--tracking-uri", f"sqlite:///{twin}", "-C", str(workspace.root), "apply", "-y", str(path)
    )
    assert result.code == 1
    assert "made for another registry" in result.err
    assert "champion" not in json.dumps(registry_snapshot(f"sqlite:///{twin}", [scene]))


def test_changed_evidence_makes_a_saved_plan_stale(  # type: ignore[no-untyped-def]
    cli, backend, workspace, scene, tmp_path
):
    workspace.manifest(scene, "aliases: {champion: 1}\ngates: {champion: production}\n")
    path = tmp_path / "plan.json"
    save(cli, backend, workspace, path)
    # The gate read v1's run metrics and v1's tags: change each, the plan is stale.
    run_id = backend.client.get_model_version(scene, "1").run_id
    backend.client.log_metric(run_id, "val_accuracy", 0.1)
    stale = apply_file(cli, backend, workspace, path)
    assert stale.code == 4, stale.err
    assert "metric val_accuracy is now 0.1, was 0.95" in stale.err
    backend.client.log_metric(run_id, "val_accuracy", 0.95)
    save(cli, backend, workspace, path)
    backend.client.set_model_version_tag(scene, "1", "validation_status", "revoked")
    stale = apply_file(cli, backend, workspace, path)
    assert stale.code == 4 and "evidence of v1 changed (tags)" in stale.err
    assert backend.aliases(scene) == {}


@only(SQLITE)
def test_provenance_stamps_the_plans_commit_not_head(  # type: ignore[no-untyped-def]
    cli, backend, workspace, scene, tmp_path
):
    workspace.manifest(scene, "aliases: {champion: 1}\n")
    repo = git.Repo.init(workspace.root)
    with repo.config_writer() as config:
        config.set_value("user", "name", "Ada").set_value("user", "email", "ada@example.com")
    repo.index.add(["manifests/m.yaml", "policies/production.yaml"])
    planned = repo.index.commit("promote v1").hexsha
    path = tmp_path / "plan.json"
    save(cli, backend, workspace, path)
    (workspace.root / "README.md").write_text("later work\n")
    repo.index.add(["README.md"])
    repo.index.commit("an unrelated commit after the plan")
    assert apply_file(cli, backend, workspace, path).code == 0
    record = json.loads(backend.client.get_model_version(scene, "1").tags[PROVENANCE_TAG])
    assert record["commit"] == planned
    assert record["held"]["alias:champion"] == record["applied_at"]
    model_tags = backend.client.get_registered_model(scene).tags
    assert (
        last_applied_commit(model_tags["registry_ops.lease"], scene, RecordKey.from_env())
        == planned
    )


@only(SQLITE)
def test_uncommitted_means_manifests_or_policies_only(  # type: ignore[no-untyped-def]
    cli, backend, workspace, scene
):
    workspace.manifest(scene, "aliases: {champion: 1}\n")
    repo = git.Repo.init(workspace.root)
    with repo.config_writer() as config:
        config.set_value("user", "name", "Ada").set_value("user", "email", "ada@example.com")
    repo.index.add(["manifests/m.yaml", "policies/production.yaml"])
    head = repo.index.commit("promote v1").hexsha
    (workspace.root / "notes.txt").write_text("an untracked file elsewhere\n")
    clean = cli(*backend.args(workspace.root, "apply", "--yes"))
    assert clean.code == 0 and "uncommitted" not in clean.err
    record = json.loads(backend.client.get_model_version(scene, "1").tags[PROVENANCE_TAG])
    assert record["commit"] == head

    # An untracked manifest is an uncommitted change: applied, loudly, and stamped so.
    backend.seeder.version(scene, val_accuracy=0.99)
    workspace.write("manifests/extra.yaml", "")
    (workspace.root / "manifests" / "extra.yaml").unlink()
    workspace.manifest(scene, "aliases: {champion: 3}\n", name="new")
    (workspace.root / "manifests" / "m.yaml").unlink()
    dirty = cli(*backend.args(workspace.root, "apply", "--yes"))
    assert dirty.code == 0, dirty.err
    assert "WARNING: uncommitted changes in" in dirty.err and "manifests/new.yaml" in dirty.err
    record = json.loads(backend.client.get_model_version(scene, "3").tags[PROVENANCE_TAG])
    assert record["commit"] == head + "+uncommitted"


@only(SQLITE)
def test_show_renders_the_saved_plan_and_refuses_an_edited_one(  # type: ignore[no-untyped-def]
    cli, backend, workspace, scene, tmp_path
):
    path = tmp_path / "plan.json"
    data = save(cli, backend, workspace, path)
    shown = cli("show", str(path), "--format", "json")
    assert shown.code == 0, shown.err
    assert json.loads(shown.out) == data
    summary = cli("show", str(path), "--format", "markdown", "--summary")
    assert summary.code == 0 and "### registry-ops plan" in summary.out
    annotations = cli("show", str(path), "--format", "github")
    assert annotations.code == 0 and "::error" in annotations.out  # the blocked promotion
    data["models"][0]["changes"][0]["reason"] = "drift"
    path.write_text(json.dumps(data))
    edited = cli("show", str(path), "--format", "text")
    assert edited.code == 1 and "digest does not match" in edited.err
    missing = cli("show", str(tmp_path / "nope.json"))
    assert missing.code == 1 and "nope.json" in missing.err and "Traceback" not in missing.err
