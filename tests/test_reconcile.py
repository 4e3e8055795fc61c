"""End to end on every backend: plan, apply, drift, stale plans, adoption.

Each registry test runs on a sqlite store, an ``mlflow server`` on sqlite and one
on PostgreSQL (the ``backend`` fixture, tests/support/backends.py). Tests about
input, rendering and the CLI itself run on the sqlite store only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from registry_ops.core.records import RecordKey
from registry_ops.pipeline.lease import last_applied_commit
from tests.support.backends import only

PRODUCTION = """\
    - metric: val_accuracy
      min: 0.9
"""


@pytest.fixture(autouse=True)
def _short_lease_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    """No two writers race here (tests/test_lease.py has those): apply's pause between
    writing its lease and reading it back (1 s by default) would only cost time."""
    monkeypatch.setenv("REGISTRY_OPS_LEASE_SETTLE", "0.05")


@pytest.fixture
def two_versions(backend, workspace):  # type: ignore[no-untyped-def]
    """Model 'clf' with v1 (weak) and v2 (good); a manifest making v2 champion and Production."""
    clf = backend.name("clf")
    backend.seeder.version(clf, val_accuracy=0.7)
    backend.seeder.version(clf, val_accuracy=0.95)
    workspace.policy("production", PRODUCTION)
    workspace.manifest(
        clf,
        """\
        description: the classifier
        tags: {team: research}
        aliases: {champion: 2}
        stages: {Production: 2}
        gates: {champion: production, Production: production}
        """,
    )
    return workspace


def test_apply_then_plan_is_empty_and_second_apply_does_nothing(cli, two_versions, backend):  # type: ignore[no-untyped-def]
    clf = backend.name("clf")
    first = cli(*backend.args(two_versions.root, "plan", "--detailed-exitcode"))
    assert first.code == 2, first.err
    assert "alias champion -> v2" in first.out

    applied = cli(*backend.args(two_versions.root, "apply", "--yes"))
    assert applied.code == 0, applied.err
    model = backend.client.get_registered_model(clf)
    assert backend.aliases(clf) == {"champion": 2}
    assert model.description == "the classifier"
    assert model.tags["team"] == "research"
    assert backend.stage(clf, 2) == "Production"

    again = cli(*backend.args(two_versions.root, "plan", "--detailed-exitcode"))
    assert again.code == 0, again.out
    assert "No changes" in again.out
    second = cli(*backend.args(two_versions.root, "apply", "--yes"))
    assert second.code == 0
    assert "Applied" not in second.out


def test_apply_stamps_provenance_on_version_and_model(cli, two_versions, backend):  # type: ignore[no-untyped-def]
    clf = backend.name("clf")
    assert cli(*backend.args(two_versions.root, "apply", "--yes")).code == 0
    tags = backend.client.get_model_version(clf, "2").tags
    record = json.loads(tags["registry_ops.provenance"])
    assert record["manifest"] == "manifests/m.yaml"
    assert set(record["targets"]) == {"alias:champion", "stage:Production"}
    assert {"alias:champion", "stage:Production"} <= set(record["held"])
    assert record["commit"]  # "unknown" outside a git repository
    assert record["applied_at"] and record["applied_by"]
    model_tags = backend.client.get_registered_model(clf).tags
    # the lease, released, records the commit the model now reflects
    assert (
        last_applied_commit(model_tags["registry_ops.lease"], clf, RecordKey.from_env())
        == record["commit"]
    )


def test_drift_is_shown_and_repaired(cli, two_versions, backend):  # type: ignore[no-untyped-def]
    clf = backend.name("clf")
    assert cli(*backend.args(two_versions.root, "apply", "--yes")).code == 0
    backend.client.set_registered_model_alias(clf, "champion", "1")  # behind the tool's back

    drift = cli(*backend.args(two_versions.root, "plan", "--detailed-exitcode"))
    assert drift.code == 2
    assert "alias champion: v1 -> v2" in drift.out

    assert cli(*backend.args(two_versions.root, "apply", "--yes")).code == 0
    assert backend.aliases(clf)["champion"] == 2


def test_new_production_before_old_is_archived(cli, two_versions, backend):  # type: ignore[no-untyped-def]
    clf = backend.name("clf")
    assert cli(*backend.args(two_versions.root, "apply", "--yes")).code == 0
    backend.seeder.version(clf, val_accuracy=0.97)
    two_versions.manifest(
        clf,
        """\
        aliases: {champion: 3}
        stages: {Production: 3}
        gates: {champion: production, Production: production}
        """,
    )
    out = cli(*backend.args(two_versions.root, "plan", "--format", "json"))
    changes = json.loads(out.out)["models"][0]["changes"]
    order = [(c["action"], c.get("stage"), c["version"]) for c in changes]
    assert order.index(("transition_stage", "Production", 3)) < order.index(
        ("transition_stage", "Archived", 2)
    )
    production = next(c for c in changes if c.get("stage") == "Production")
    assert production["from_version"] == 2
    assert cli(*backend.args(two_versions.root, "apply", "--yes")).code == 0
    assert backend.stages(clf, [2, 3]) == {2: "Archived", 3: "Production"}


def test_aliases_stages_and_retention_converge(cli, backend, workspace):  # type: ignore[no-untyped-def]
    """Two aliases, two stages and retention in one apply; the gate reads the run's metric."""
    clf = backend.name("clf")
    for accuracy in (0.6, 0.95, 0.97):
        backend.seeder.version(clf, val_accuracy=accuracy)
    workspace.policy("production", PRODUCTION)
    workspace.manifest(
        clf,
        """\
        aliases: {champion: 3, challenger: 2}
        stages: {Production: 3, Staging: 2}
        gates: {champion: production, Production: production}
        retention: {archive_unlisted: true}
        """,
    )
    plan = cli(*backend.args(workspace.root, "plan", "--format", "json", "--detailed-exitcode"))
    assert plan.code == 2, plan.err
    changes = json.loads(plan.out)["models"][0]["changes"]
    champion = next(c for c in changes if c.get("alias") == "champion")
    assert champion["gates"][0]["observed"] == pytest.approx(0.97)

    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    assert backend.aliases(clf) == {"champion": 3, "challenger": 2}
    assert backend.stages(clf, [1, 2, 3]) == {1: "Archived", 2: "Staging", 3: "Production"}
    assert cli(*backend.args(workspace.root, "plan", "--detailed-exitcode")).code == 0


def test_blocked_promotion_exits_3_and_changes_nothing_for_that_model(cli, backend, workspace):  # type: ignore[no-untyped-def]
    weak, good = backend.name("weak"), backend.name("good")
    backend.seeder.version(weak, val_accuracy=0.5)
    backend.seeder.version(good, val_accuracy=0.99)
    workspace.policy("production", PRODUCTION)
    workspace.manifest(
        weak, "description: d\naliases: {champion: 1}\ngates: {champion: production}\n", "weak"
    )
    workspace.manifest(good, "aliases: {champion: 1}\ngates: {champion: production}\n", "good")

    plan = cli(*backend.args(workspace.root, "plan", "--detailed-exitcode", "--format", "json"))
    assert plan.code == 3
    data = json.loads(plan.out)
    assert data["status"] == "blocked"
    weak_plan = next(m for m in data["models"] if m["model"] == weak)
    gate = next(c for c in weak_plan["changes"] if c["action"] == "set_alias")["gates"][0]
    assert gate["passed"] is False and "0.5" in gate["detail"]

    applied = cli(*backend.args(workspace.root, "apply", "--yes"))
    assert applied.code == 3
    assert weak in applied.err
    assert backend.aliases(weak) == {}
    assert backend.client.get_registered_model(weak).description in ("", None)  # no metadata
    assert backend.aliases(good) == {"champion": 1}


def test_missing_metric_fails_the_gate_naming_it(cli, backend, workspace):  # type: ignore[no-untyped-def]
    clf = backend.name("clf")
    backend.seeder.version(clf, other=1.0)
    workspace.policy("production", PRODUCTION)
    workspace.manifest(clf, "aliases: {champion: 1}\ngates: {champion: production}\n")
    plan = cli(*backend.args(workspace.root, "plan", "--detailed-exitcode"))
    assert plan.code == 3
    assert "metric 'val_accuracy' is missing" in plan.out


def test_saved_plan_applies_and_stale_plan_is_refused(cli, two_versions, backend, tmp_path):  # type: ignore[no-untyped-def]
    clf = backend.name("clf")
    saved = tmp_path / "plan.json"
    assert cli(*backend.args(two_versions.root, "plan", "--out", str(saved))).code == 0
    backend.client.set_registered_model_alias(clf, "champion", "1")
    stale = cli(*backend.args(two_versions.root, "apply", "--yes", str(saved)))
    assert stale.code == 4, stale.err
    assert "stale" in stale.err
    assert backend.aliases(clf) == {"champion": 1}

    fresh = tmp_path / "fresh.json"
    assert cli(*backend.args(two_versions.root, "plan", "--out", str(fresh))).code == 0
    assert cli(*backend.args(two_versions.root, "apply", "--yes", str(fresh))).code == 0
    assert backend.aliases(clf) == {"champion": 2}
    # Applying the same saved plan twice: the registry moved (by that plan), so it is stale.
    assert cli(*backend.args(two_versions.root, "apply", "--yes", str(fresh))).code == 4


@only("sqlite")
def test_apply_without_yes_and_without_terminal_refuses(cli, two_versions, backend):  # type: ignore[no-untyped-def]
    result = cli(*backend.args(two_versions.root, "apply"))
    assert result.code == 1
    assert "--yes" in result.err
    assert backend.aliases(backend.name("clf")) == {}


def exported_models(root: Path) -> dict[str, str]:
    """Model name -> manifest file name, for every manifest under ``root/manifests``."""
    return {
        yaml.safe_load(path.read_text(encoding="utf-8"))["model"]: path.name
        for path in (root / "manifests").glob("*.yaml")
    }


def test_export_then_plan_is_empty(cli, backend, tmp_path):  # type: ignore[no-untyped-def]
    client = backend.client
    name, plain = backend.name("Modèle spécial ünïcode 2"), backend.name("plain")
    for _ in range(3):
        backend.seeder.version(name, val_accuracy=0.9)
    backend.seeder.version(plain, val_accuracy=0.9)
    client.set_registered_model_alias(name, "champion", "2")
    client.set_registered_model_alias(name, "old", "1")
    client.transition_model_version_stage(name, "2", "Production")
    client.transition_model_version_stage(name, "3", "Staging")
    client.update_registered_model(name, description="adopted\nmultiline: yes")
    client.set_registered_model_tag(name, "tier", "1")

    root = tmp_path / "adopt"
    exported = cli(*backend.args(root, "export"))  # the whole registry
    assert exported.code == 0, exported.err
    models = exported_models(root)
    if backend.shared:  # the session's server also holds every earlier test's models
        assert {name, plain} <= set(models)
    else:
        assert set(models) == {name, plain}
    assert len(set(models.values())) == len(models)  # one file per model
    assert cli(*backend.args(root, "validate")).code == 0
    # On a shared server, earlier tests may have left states of their own: plan ours.
    ours = [name, plain] if backend.shared else []
    plan = cli(*backend.args(root, "plan", "--detailed-exitcode", *ours))
    assert plan.code == 0, plan.out + plan.err

    # A second export refuses to overwrite what is now managed.
    again = cli(*backend.args(root, "export"))
    assert again.code == 1
    assert "--force" in again.err


@only("sqlite")
def test_export_of_very_long_names_into_a_new_directory(cli, backend, tmp_path):  # type: ignore[no-untyped-def]
    """File names are cut (with a hash, so they stay apart) below the file system's limit."""
    # within MLflow's 256 characters, but 360 bytes in UTF-8: over any file name limit
    names = [backend.name("é" * 120 + "x" * 110 + tail) for tail in ("a", "b")]
    names.append(backend.name("short"))
    for name in names:
        backend.seeder.version(name, val_accuracy=0.9)
    root = tmp_path / "new" / "repo"  # nothing of it exists yet
    exported = cli(*backend.args(root, "export", *names))
    assert exported.code == 0, exported.err
    files = exported_models(root)
    assert set(files) == set(names) and len(set(files.values())) == 3
    assert all(len(f.encode()) <= 120 for f in files.values()), files
    assert files[names[2]] == f"{names[2]}.yaml"  # short names are left as they were
    assert cli(*backend.args(root, "plan", "--detailed-exitcode")).code == 0


def test_export_writes_every_file_or_none(tmp_path: Path) -> None:
    from registry_ops.reports.export import _write_all

    new = tmp_path / "manifests"
    texts = {new / "a.yaml": "a: 1\n", new / "gone" / "b.yaml": "b: 2\n"}  # b cannot be made
    with pytest.raises(FileNotFoundError):
        _write_all(texts, new)
    assert not new.exists()  # the directory made for them is gone, with a.yaml's draft
    existing = tmp_path / "kept"
    existing.mkdir()
    (existing / "a.yaml").write_text("old\n")
    with pytest.raises(FileNotFoundError):
        _write_all({existing / "a.yaml": "new\n", existing / "x" / "b.yaml": ""}, existing)
    assert [p.name for p in existing.iterdir()] == ["a.yaml"]
    assert (existing / "a.yaml").read_text() == "old\n"


@pytest.mark.parametrize("base", ["Détecteur de fraude 🚀", "O'Brien's \"best\" model"])
def test_model_name_with_spaces_quotes_and_non_ascii(cli, backend, workspace, base):  # type: ignore[no-untyped-def]
    name = backend.name(base)
    backend.seeder.version(name, val_accuracy=0.95)
    workspace.policy("production", PRODUCTION)
    # JSON is YAML: a safe way to write any name as a scalar.
    workspace.manifest(
        json.dumps(name, ensure_ascii=False),
        "aliases: {champion: 1}\ngates: {champion: production}\n",
    )
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    assert backend.aliases(name) == {"champion": 1}
    plan = cli(*backend.args(workspace.root, "plan", "--detailed-exitcode", name))
    assert plan.code == 0
    status = cli(*backend.args(workspace.root, "status", "--format", "json"))
    data = json.loads(status.out)
    assert data["models"][0]["model"] == name
    assert data["models"][0]["holders"][0]["metrics"] == {"val_accuracy": 0.95}


def test_retention_archives_unlisted_except_newest(cli, backend, workspace):  # type: ignore[no-untyped-def]
    clf = backend.name("clf")
    for _ in range(5):
        backend.seeder.version(clf, val_accuracy=0.9)
    workspace.manifest(
        clf, "aliases: {champion: 2}\nretention: {archive_unlisted: true, keep_latest: 2}\n"
    )
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    assert backend.stages(clf, range(1, 6)) == {
        1: "Archived",
        2: "None",
        3: "Archived",
        4: "None",
        5: "None",
    }


def test_prune_opt_in_deletes_unnamed_aliases_and_tags(cli, backend, workspace):  # type: ignore[no-untyped-def]
    clf = backend.name("clf")
    backend.seeder.version(clf, val_accuracy=0.9)
    client = backend.client
    client.set_registered_model_alias(clf, "stray", "1")
    client.set_registered_model_tag(clf, "stray_tag", "x")
    workspace.manifest(clf, "aliases: {champion: 1}\ntags: {a: b}\n")
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    assert "stray" in backend.aliases(clf)  # not owned: left alone
    workspace.manifest(
        clf, "aliases: {champion: 1}\ntags: {a: b}\nprune: {aliases: true, tags: true}\n"
    )
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    model = client.get_registered_model(clf)
    assert set(model.aliases) == {"champion"}
    assert "stray_tag" not in model.tags
    assert "registry_ops.lease" in model.tags  # own tags are never pruned


def check_invalid_manifest(cli, backend, workspace, body: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    """validate, plan and apply all exit 1 naming the location; the registry is untouched."""
    clf = backend.name("clf")
    backend.seeder.version(clf, val_accuracy=0.9)
    workspace.manifest(clf, body)
    before = backend.client.get_registered_model(clf)
    for command in ("validate", "plan", "apply"):
        extra = ["--yes"] if command == "apply" else []
        result = cli(*backend.args(workspace.root, command, *extra))
        if command == "validate" and "version 9" in expected:
            assert result.code == 0  # existence is checked against MLflow at plan time
            continue
        assert result.code == 1, (command, result.out)
        assert expected in result.err, result.err
        assert "Traceback" not in result.err
    after = backend.client.get_registered_model(clf)
    assert (after.aliases, after.tags, after.description) == (
        before.aliases,
        before.tags,
        before.description,
    )
    assert backend.stage(clf, 1) == "None"


def test_version_missing_from_the_registry_exits_1_and_writes_nothing(cli, backend, workspace):  # type: ignore[no-untyped-def]
    expected = "m.yaml:4:21: $.aliases.champion: version 9"
    check_invalid_manifest(cli, backend, workspace, "aliases: {champion: 9}\n", expected)


@only("sqlite")
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "aliases: {champion: two}\n",
            "m.yaml:4:21: $.aliases.champion: expected a version number",
        ),
        ("aliases: {latest: 1}\n", "m.yaml:4:11: $.aliases.latest: alias 'latest' is reserved"),
        ("stages: {Production: 1, Staging: 1}\n", "$.stages.Staging: version 1 is already given"),
        ("stages: {Prod: 1}\n", "$.stages.Prod: unknown key 'Prod'"),
        ("gates: {champion: missing}\naliases: {champion: 1}\n", "unknown policy 'missing'"),
        ("aliases: [1, 2]\n", "$.aliases: expected a mapping, got a list"),
        ("aliases: {champion: 1\n", "invalid YAML"),
    ],
)
def test_invalid_manifest_exits_1_with_location_and_writes_nothing(
    cli, backend, workspace, body, expected
):  # type: ignore[no-untyped-def]
    check_invalid_manifest(cli, backend, workspace, body, expected)


def test_all_problems_reported_together(cli, workspace):  # type: ignore[no-untyped-def]
    workspace.manifest("a", "aliases: {champion: x}\n", "a")
    workspace.manifest("a", "colour: red\n", "b")
    workspace.write(
        "policies/p.yaml",
        "apiVersion: registry-ops/v1\nkind: GatePolicy\nname: p\ngates:\n  - metric: acc\n",
    )
    result = cli("-C", str(workspace.root), "validate")
    assert result.code == 1
    assert "3 problems found" in result.err
    assert "a.yaml:4:21" in result.err and "b.yaml:4:1" in result.err and "p.yaml:5:5" in result.err


def test_duplicate_model_across_files(cli, workspace):  # type: ignore[no-untyped-def]
    workspace.manifest("same", "", "one")
    workspace.manifest("same", "", "two")
    result = cli("-C", str(workspace.root), "validate")
    assert result.code == 1
    assert "two.yaml:3:8: $.model: model 'same' is already managed by" in result.err
    assert "one.yaml:3" in result.err


@only("sqlite")
def test_unknown_model_argument_is_an_error(cli, two_versions, backend):  # type: ignore[no-untyped-def]
    result = cli(*backend.args(two_versions.root, "plan", "nope"))
    assert result.code == 1
    assert "no manifest for model(s): nope" in result.err


@only("sqlite")
def test_markdown_plan_escapes_registry_text(cli, backend, workspace):  # type: ignore[no-untyped-def]
    clf = backend.name("clf")
    backend.seeder.version(clf, val_accuracy=0.9)
    workspace.manifest(clf, "description: '<img src=x onerror=alert(1)> | *bold*'\n")
    result = cli(*backend.args(workspace.root, "plan", "--format", "markdown"))
    assert result.code == 0
    assert "<img" not in result.out
    assert "&lt;img" in result.out


def test_plan_json_has_the_contract_fields(cli, two_versions, backend):  # type: ignore[no-untyped-def]
    plan = cli(*backend.args(two_versions.root, "plan", "--format", "json"))
    data = json.loads(plan.out)
    assert data["format_version"] == 1
    assert data["status"] == "changes"
    model = data["models"][0]
    assert model["model"] == backend.name("clf")
    alias = next(c for c in model["changes"] if c["action"] == "set_alias")
    assert alias["alias"] == "champion" and alias["version"] == 2 and alias["from_version"] is None
    assert alias["blocked"] is False
    assert alias["gates"][0]["name"] and alias["gates"][0]["passed"] is True
    assert {c["action"] for c in model["changes"]} == {
        "set_alias",
        "transition_stage",
        "set_model_tag",
        "update_description",
    }


def test_missing_model_in_registry_is_reported_with_location(cli, backend, workspace):  # type: ignore[no-untyped-def]
    ghost = backend.name("ghost")
    backend.seeder.version(backend.name("someone-else"), val_accuracy=0.5)
    workspace.manifest(ghost, "aliases: {champion: 1}\n")
    result = cli(*backend.args(workspace.root, "plan"))
    assert result.code == 1
    assert f"m.yaml:3:8: $.model: registered model '{ghost}' does not exist in MLflow" in result.err


def test_status_without_manifests_lists_whole_registry(cli, backend, tmp_path: Path):  # type: ignore[no-untyped-def]
    a = backend.name("a")
    backend.seeder.version(a, val_accuracy=0.75)
    backend.client.set_registered_model_alias(a, "champion", "1")
    root = tmp_path / "empty"
    result = cli(*backend.args(root, "status"))
    assert result.code == 0, result.err
    # One block per model; on a shared server, other tests' models are listed too.
    blocks = {block.split()[0]: block for block in result.out.split("\n\n") if block.strip()}
    assert "alias champion  v1" in blocks[a] and "val_accuracy=0.75" in blocks[a]
    if not backend.shared:
        assert list(blocks) == [a]

    data = json.loads(cli(*backend.args(root, "status", "--format", "json")).out)
    rows = {row["model"]: row for row in data["models"]}
    (holder,) = rows[a]["holders"]
    run_id = backend.client.get_model_version(a, "1").run_id
    assert holder == {
        "target": "alias champion",
        "version": 1,
        "metrics": {"val_accuracy": 0.75},
        "sources": {
            "val_accuracy": {
                "value": 0.75, "source": "run", "model_id": None, "run_id": run_id,
                "dataset": None, "dataset_digest": None, "step": 0,
            }
        },
        "origin": f"run {run_id}",
    }  # fmt: skip


def test_missing_sqlite_database_is_an_error_not_a_new_file(cli, workspace, tmp_path: Path):  # type: ignore[no-untyped-def]
    workspace.manifest("clf", "aliases: {champion: 1}\n")
    db = tmp_path / "typo" / "mlflow.db"
    result = cli("--tracking-uri", f"sqlite:///{db}", "-C", str(workspace.root), "plan")
    assert result.code == 1
    assert "no MLflow database at" in result.err
    assert not db.exists() and not db.parent.exists()


@only("sqlite")
def test_colour_only_when_asked_or_on_a_terminal(cli, two_versions, backend, monkeypatch):  # type: ignore[no-untyped-def]
    plain = cli(*backend.args(two_versions.root, "plan"))
    assert "\033[" not in plain.out  # captured stdout is not a terminal
    forced = cli("--color", "always", *backend.args(two_versions.root, "plan"))
    assert "\033[32m+\033[0m alias champion -> v2" in forced.out
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert "\033[" not in cli(*backend.args(two_versions.root, "plan")).out


@only("sqlite")
def test_unwritable_plan_file_is_an_error_not_a_traceback(cli, two_versions, backend, tmp_path):  # type: ignore[no-untyped-def]
    out = tmp_path / "missing-dir" / "plan.json"
    result = cli(*backend.args(two_versions.root, "plan", "--out", str(out)))
    assert result.code == 1
    assert "No such file or directory" in result.err
    assert "Traceback" not in result.err
