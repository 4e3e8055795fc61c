"""End to end on an embedded sqlite MLflow: plan, apply, drift, stale plans, adoption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

PRODUCTION = """\
    - metric: val_accuracy
      min: 0.9
"""


@pytest.fixture
def two_versions(seeder, workspace):  # type: ignore[no-untyped-def]
    """Model 'clf' with v1 (weak) and v2 (good); a manifest making v2 champion and Production."""
    seeder.version("clf", val_accuracy=0.7)
    seeder.version("clf", val_accuracy=0.95)
    workspace.policy("production", PRODUCTION)
    workspace.manifest(
        "clf",
        """\
        description: the classifier
        tags: {team: research}
        aliases: {champion: 2}
        stages: {Production: 2}
        gates: {champion: production, Production: production}
        """,
    )
    return workspace


def args(workspace, tracking_uri: str, *rest: str) -> list[str]:  # type: ignore[no-untyped-def]
    return ["--tracking-uri", tracking_uri, "-C", str(workspace.root), *rest]


def test_apply_then_plan_is_empty_and_second_apply_does_nothing(cli, two_versions, tracking_uri):  # type: ignore[no-untyped-def]
    first = cli(*args(two_versions, tracking_uri, "plan", "--detailed-exitcode"))
    assert first.code == 2, first.err
    assert "alias champion -> v2" in first.out

    applied = cli(*args(two_versions, tracking_uri, "apply", "--yes"))
    assert applied.code == 0, applied.err
    client = MlflowClient(tracking_uri)
    model = client.get_registered_model("clf")
    assert model.aliases == {"champion": 2} or model.aliases == {"champion": "2"}
    assert model.description == "the classifier"
    assert model.tags["team"] == "research"
    assert client.get_model_version("clf", "2").current_stage == "Production"

    again = cli(*args(two_versions, tracking_uri, "plan", "--detailed-exitcode"))
    assert again.code == 0, again.out
    assert "No changes" in again.out
    second = cli(*args(two_versions, tracking_uri, "apply", "--yes"))
    assert second.code == 0
    assert "Applied" not in second.out


def test_apply_stamps_provenance_on_version_and_model(cli, two_versions, tracking_uri):  # type: ignore[no-untyped-def]
    assert cli(*args(two_versions, tracking_uri, "apply", "--yes")).code == 0
    client = MlflowClient(tracking_uri)
    tags = client.get_model_version("clf", "2").tags
    assert tags["registry_ops.manifest"] == "manifests/m.yaml"
    assert tags["registry_ops.target"] in ("alias:champion", "stage:Production")
    assert "registry_ops.held.alias.champion" in tags
    assert "registry_ops.held.stage.Production" in tags
    assert tags["registry_ops.commit"]  # "unknown" outside a git repository
    assert "registry_ops.applied_at" in tags
    model_tags = client.get_registered_model("clf").tags
    assert "registry_ops.last_applied_commit" in model_tags


def test_drift_is_shown_and_repaired(cli, two_versions, tracking_uri):  # type: ignore[no-untyped-def]
    assert cli(*args(two_versions, tracking_uri, "apply", "--yes")).code == 0
    client = MlflowClient(tracking_uri)
    client.set_registered_model_alias("clf", "champion", "1")  # behind the tool's back

    drift = cli(*args(two_versions, tracking_uri, "plan", "--detailed-exitcode"))
    assert drift.code == 2
    assert "alias champion: v1 -> v2" in drift.out

    assert cli(*args(two_versions, tracking_uri, "apply", "--yes")).code == 0
    assert int(client.get_registered_model("clf").aliases["champion"]) == 2


def test_new_production_before_old_is_archived(cli, seeder, two_versions, tracking_uri):  # type: ignore[no-untyped-def]
    assert cli(*args(two_versions, tracking_uri, "apply", "--yes")).code == 0
    seeder.version("clf", val_accuracy=0.97)
    two_versions.manifest(
        "clf",
        """\
        aliases: {champion: 3}
        stages: {Production: 3}
        gates: {champion: production, Production: production}
        """,
    )
    out = cli(*args(two_versions, tracking_uri, "plan", "--format", "json"))
    changes = json.loads(out.out)["models"][0]["changes"]
    order = [(c["action"], c.get("stage"), c["version"]) for c in changes]
    assert order.index(("transition_stage", "Production", 3)) < order.index(
        ("transition_stage", "Archived", 2)
    )
    production = next(c for c in changes if c.get("stage") == "Production")
    assert production["from_version"] == 2
    assert cli(*args(two_versions, tracking_uri, "apply", "--yes")).code == 0
    client = MlflowClient(tracking_uri)
    assert client.get_model_version("clf", "3").current_stage == "Production"
    assert client.get_model_version("clf", "2").current_stage == "Archived"


def test_blocked_promotion_exits_3_and_changes_nothing_for_that_model(
    cli, seeder, workspace, tracking_uri
):  # type: ignore[no-untyped-def]
    seeder.version("weak", val_accuracy=0.5)
    seeder.version("good", val_accuracy=0.99)
    workspace.policy("production", PRODUCTION)
    workspace.manifest(
        "weak", "description: d\naliases: {champion: 1}\ngates: {champion: production}\n", "weak"
    )
    workspace.manifest("good", "aliases: {champion: 1}\ngates: {champion: production}\n", "good")

    plan = cli(*args(workspace, tracking_uri, "plan", "--detailed-exitcode", "--format", "json"))
    assert plan.code == 3
    data = json.loads(plan.out)
    assert data["status"] == "blocked"
    weak = next(m for m in data["models"] if m["model"] == "weak")
    gate = next(c for c in weak["changes"] if c["action"] == "set_alias")["gates"][0]
    assert gate["passed"] is False and "0.5" in gate["detail"]

    applied = cli(*args(workspace, tracking_uri, "apply", "--yes"))
    assert applied.code == 3
    assert "weak" in applied.err
    client = MlflowClient(tracking_uri)
    assert client.get_registered_model("weak").aliases == {}
    assert client.get_registered_model("weak").description in ("", None)  # not even metadata
    assert int(client.get_registered_model("good").aliases["champion"]) == 1


def test_missing_metric_fails_the_gate_naming_it(cli, seeder, workspace, tracking_uri):  # type: ignore[no-untyped-def]
    seeder.version("clf", other=1.0)
    workspace.policy("production", PRODUCTION)
    workspace.manifest("clf", "aliases: {champion: 1}\ngates: {champion: production}\n")
    plan = cli(*args(workspace, tracking_uri, "plan", "--detailed-exitcode"))
    assert plan.code == 3
    assert "metric 'val_accuracy' is missing" in plan.out


def test_saved_plan_applies_and_stale_plan_is_refused(cli, two_versions, tracking_uri, tmp_path):  # type: ignore[no-untyped-def]
    saved = tmp_path / "plan.json"
    assert cli(*args(two_versions, tracking_uri, "plan", "--out", str(saved))).code == 0
    MlflowClient(tracking_uri).set_registered_model_alias("clf", "champion", "1")
    stale = cli(*args(two_versions, tracking_uri, "apply", "--yes", str(saved)))
    assert stale.code == 4, stale.err
    assert "stale" in stale.err
    assert int(MlflowClient(tracking_uri).get_registered_model("clf").aliases["champion"]) == 1

    fresh = tmp_path / "fresh.json"
    assert cli(*args(two_versions, tracking_uri, "plan", "--out", str(fresh))).code == 0
    assert cli(*args(two_versions, tracking_uri, "apply", "--yes", str(fresh))).code == 0
    assert int(MlflowClient(tracking_uri).get_registered_model("clf").aliases["champion"]) == 2
    # Applying the same saved plan twice: the registry moved (by that plan), so it is stale.
    assert cli(*args(two_versions, tracking_uri, "apply", "--yes", str(fresh))).code == 4


def test_apply_without_yes_and_without_terminal_refuses(cli, two_versions, tracking_uri):  # type: ignore[no-untyped-def]
    result = cli(*args(two_versions, tracking_uri, "apply"))
    assert result.code == 1
    assert "--yes" in result.err
    assert MlflowClient(tracking_uri).get_registered_model("clf").aliases == {}


def test_export_then_plan_is_empty(cli, seeder, tmp_path, tracking_uri):  # type: ignore[no-untyped-def]
    client = MlflowClient(tracking_uri)
    name = "Modèle spécial ünïcode 2"
    for _ in range(3):
        seeder.version(name, val_accuracy=0.9)
    seeder.version("plain", val_accuracy=0.9)
    client.set_registered_model_alias(name, "champion", "2")
    client.set_registered_model_alias(name, "old", "1")
    client.transition_model_version_stage(name, "2", "Production")
    client.transition_model_version_stage(name, "3", "Staging")
    client.update_registered_model(name, description="adopted\nmultiline: yes")
    client.set_registered_model_tag(name, "tier", "1")

    root = tmp_path / "adopt"
    exported = cli("--tracking-uri", tracking_uri, "-C", str(root), "export")
    assert exported.code == 0, exported.err
    files = sorted(p.name for p in (root / "manifests").iterdir())
    assert len(files) == 2
    assert cli("--tracking-uri", tracking_uri, "-C", str(root), "validate").code == 0
    plan = cli("--tracking-uri", tracking_uri, "-C", str(root), "plan", "--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err

    # A second export refuses to overwrite what is now managed.
    again = cli("--tracking-uri", tracking_uri, "-C", str(root), "export")
    assert again.code == 1
    assert "--force" in again.err


@pytest.mark.parametrize("name", ["Détecteur de fraude 🚀", "O'Brien's \"best\" model"])
def test_model_name_with_spaces_quotes_and_non_ascii(cli, seeder, workspace, tracking_uri, name):  # type: ignore[no-untyped-def]
    seeder.version(name, val_accuracy=0.95)
    workspace.policy("production", PRODUCTION)
    # JSON is YAML: a safe way to write any name as a scalar.
    workspace.manifest(
        json.dumps(name, ensure_ascii=False),
        "aliases: {champion: 1}\ngates: {champion: production}\n",
    )
    assert cli(*args(workspace, tracking_uri, "apply", "--yes")).code == 0
    assert int(MlflowClient(tracking_uri).get_registered_model(name).aliases["champion"]) == 1
    plan = cli(*args(workspace, tracking_uri, "plan", "--detailed-exitcode", name))
    assert plan.code == 0
    status = cli(*args(workspace, tracking_uri, "status", "--format", "json"))
    data = json.loads(status.out)
    assert data["models"][0]["model"] == name
    assert data["models"][0]["holders"][0]["metrics"] == {"val_accuracy": 0.95}


def test_retention_archives_unlisted_except_newest(cli, seeder, workspace, tracking_uri):  # type: ignore[no-untyped-def]
    for _ in range(5):
        seeder.version("clf", val_accuracy=0.9)
    workspace.manifest(
        "clf", "aliases: {champion: 2}\nretention: {archive_unlisted: true, keep_latest: 2}\n"
    )
    assert cli(*args(workspace, tracking_uri, "apply", "--yes")).code == 0
    client = MlflowClient(tracking_uri)
    stages = {v: client.get_model_version("clf", str(v)).current_stage for v in range(1, 6)}
    assert stages == {1: "Archived", 2: "None", 3: "Archived", 4: "None", 5: "None"}


def test_prune_opt_in_deletes_unnamed_aliases_and_tags(cli, seeder, workspace, tracking_uri):  # type: ignore[no-untyped-def]
    seeder.version("clf", val_accuracy=0.9)
    client = MlflowClient(tracking_uri)
    client.set_registered_model_alias("clf", "stray", "1")
    client.set_registered_model_tag("clf", "stray_tag", "x")
    workspace.manifest("clf", "aliases: {champion: 1}\ntags: {a: b}\n")
    cli(*args(workspace, tracking_uri, "apply", "--yes"))
    assert "stray" in client.get_registered_model("clf").aliases  # not owned: left alone
    workspace.manifest(
        "clf", "aliases: {champion: 1}\ntags: {a: b}\nprune: {aliases: true, tags: true}\n"
    )
    assert cli(*args(workspace, tracking_uri, "apply", "--yes")).code == 0
    model = client.get_registered_model("clf")
    assert set(model.aliases) == {"champion"}
    assert "stray_tag" not in model.tags
    assert "registry_ops.last_applied_commit" in model.tags  # own tags are never pruned


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("aliases: {champion: 9}\n", "m.yaml:4:21: $.aliases.champion: version 9"),
        ("aliases: {champion: two}\n", "m.yaml:4:21: $.aliases.champion: expected an integer"),
        ("aliases: {latest: 1}\n", "m.yaml:4:11: $.aliases.latest: alias 'latest' is reserved"),
        ("stages: {Production: 1, Staging: 1}\n", "$.stages.Staging: version 1 is already given"),
        ("stages: {Prod: 1}\n", "$.stages.Prod: unknown key 'Prod'"),
        ("gates: {champion: missing}\naliases: {champion: 1}\n", "unknown policy 'missing'"),
        ("aliases: [1, 2]\n", "$.aliases: expected a mapping, got a list"),
        ("aliases: {champion: 1\n", "invalid YAML"),
    ],
)
def test_invalid_manifest_exits_1_with_location_and_writes_nothing(
    cli, seeder, workspace, tracking_uri, body, expected
):  # type: ignore[no-untyped-def]
    seeder.version("clf", val_accuracy=0.9)
    workspace.manifest("clf", body)
    before = MlflowClient(tracking_uri).get_registered_model("clf")
    for command in ("validate", "plan", "apply"):
        extra = ["--yes"] if command == "apply" else []
        result = cli(*args(workspace, tracking_uri, command, *extra))
        if command == "validate" and "version 9" in expected:
            assert result.code == 0  # existence is checked against MLflow at plan time
            continue
        assert result.code == 1, (command, result.out)
        assert expected in result.err, result.err
        assert "Traceback" not in result.err
    after = MlflowClient(tracking_uri).get_registered_model("clf")
    assert (after.aliases, after.tags, after.description) == (
        before.aliases,
        before.tags,
        before.description,
    )
    assert MlflowClient(tracking_uri).get_model_version("clf", "1").current_stage == "None"


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


def test_unknown_model_argument_is_an_error(cli, two_versions, tracking_uri):  # type: ignore[no-untyped-def]
    result = cli(*args(two_versions, tracking_uri, "plan", "nope"))
    assert result.code == 1
    assert "no manifest for model(s): nope" in result.err


def test_markdown_plan_escapes_registry_text(cli, seeder, workspace, tracking_uri):  # type: ignore[no-untyped-def]
    seeder.version("clf", val_accuracy=0.9)
    workspace.manifest("clf", "description: '<img src=x onerror=alert(1)> | *bold*'\n")
    result = cli(*args(workspace, tracking_uri, "plan", "--format", "markdown"))
    assert result.code == 0
    assert "<img" not in result.out
    assert "&lt;img" in result.out


def test_plan_json_has_the_contract_fields(cli, two_versions, tracking_uri):  # type: ignore[no-untyped-def]
    data = json.loads(cli(*args(two_versions, tracking_uri, "plan", "--format", "json")).out)
    assert data["format_version"] == 1
    assert data["status"] == "changes"
    model = data["models"][0]
    assert model["model"] == "clf"
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


def test_missing_model_in_registry_is_reported_with_location(cli, seeder, workspace, tracking_uri):  # type: ignore[no-untyped-def]
    seeder.version("someone-else", val_accuracy=0.5)
    workspace.manifest("ghost", "aliases: {champion: 1}\n")
    result = cli(*args(workspace, tracking_uri, "plan"))
    assert result.code == 1
    assert "m.yaml:3:8: $.model: registered model 'ghost' does not exist in MLflow" in result.err


def test_status_without_manifests_lists_whole_registry(cli, seeder, tmp_path: Path, tracking_uri):  # type: ignore[no-untyped-def]
    seeder.version("a", val_accuracy=0.5)
    MlflowClient(tracking_uri).set_registered_model_alias("a", "champion", "1")
    result = cli("--tracking-uri", tracking_uri, "-C", str(tmp_path / "empty"), "status")
    assert result.code == 0
    assert "alias champion  v1" in result.out and "val_accuracy=0.5" in result.out


def test_colour_only_when_asked_or_on_a_terminal(cli, two_versions, tracking_uri, monkeypatch):  # type: ignore[no-untyped-def]
    plain = cli(*args(two_versions, tracking_uri, "plan"))
    assert "\033[" not in plain.out  # captured stdout is not a terminal
    forced = cli("--color", "always", *args(two_versions, tracking_uri, "plan"))
    assert "\033[32m+\033[0m alias champion -> v2" in forced.out
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert "\033[" not in cli(*args(two_versions, tracking_uri, "plan")).out


def test_missing_sqlite_database_is_an_error_not_a_new_file(cli, workspace, tmp_path: Path):  # type: ignore[no-untyped-def]
    workspace.manifest("clf", "aliases: {champion: 1}\n")
    db = tmp_path / "typo" / "mlflow.db"
    result = cli("--tracking-uri", f"sqlite:///{db}", "-C", str(workspace.root), "plan")
    assert result.code == 1
    assert "no MLflow database at" in result.err
    assert not db.exists() and not db.parent.exists()


def test_unwritable_plan_file_is_an_error_not_a_traceback(
    cli, two_versions, tracking_uri, tmp_path
):  # type: ignore[no-untyped-def]
    out = tmp_path / "missing-dir" / "plan.json"
    result = cli(*args(two_versions, tracking_uri, "plan", "--out", str(out)))
    assert result.code == 1
    assert "No such file or directory" in result.err
    assert "Traceback" not in result.err
