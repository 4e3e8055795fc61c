"""Faults mid-apply lose nothing and a re-run converges; provenance from a real git repo."""

from __future__ import annotations

import json
from pathlib import Path

import git
from mlflow.tracking import MlflowClient


def test_failure_mid_apply_keeps_what_was_done_and_rerun_converges(  # type: ignore[no-untyped-def]
    cli, seeder, workspace, tracking_uri, tmp_path: Path
):
    for _ in range(3):
        seeder.version("clf", val_accuracy=0.9)
    workspace.manifest("clf", "aliases: {champion: 2, challenger: 3}\nstages: {Production: 2}\n")
    base = ["--tracking-uri", tracking_uri, "-C", str(workspace.root)]
    saved = tmp_path / "plan.json"
    assert cli(*base, "plan", "--out", str(saved)).code == 0

    # The registry refuses the second change (a version that does not exist):
    # a real MLflow error half-way through the apply.
    data = json.loads(saved.read_text())
    changes = data["models"][0]["changes"]
    assert [c["action"] for c in changes] == ["set_alias", "set_alias", "transition_stage"]
    changes[1]["version"] = 99
    saved.write_text(json.dumps(data))

    failed = cli(*base, "apply", "--yes", str(saved))
    assert failed.code == 1
    assert "MLflow" in failed.err and "Traceback" not in failed.err
    client = MlflowClient(tracking_uri)
    aliases = {k: int(v) for k, v in client.get_registered_model("clf").aliases.items()}
    assert aliases == {"challenger": 3}  # the first change stayed, stamped
    assert client.get_model_version("clf", "3").tags["registry_ops.target"] == "alias:challenger"

    # A fresh plan shows only what is left; applying it converges.
    rest = json.loads(cli(*base, "plan", "--format", "json").out)
    left = [(c["action"], c.get("alias") or c.get("stage")) for c in rest["models"][0]["changes"]]
    assert left == [("set_alias", "champion"), ("transition_stage", "Production")]
    assert cli(*base, "apply", "--yes").code == 0
    assert cli(*base, "plan", "--detailed-exitcode").code == 0


def test_provenance_records_the_git_commit(cli, seeder, workspace, tracking_uri):  # type: ignore[no-untyped-def]
    seeder.version("clf", val_accuracy=0.9)
    workspace.manifest("clf", "aliases: {champion: 1}\n")
    repo = git.Repo.init(workspace.root)
    with repo.config_writer() as config:
        config.set_value("user", "name", "Ada").set_value("user", "email", "ada@example.com")
    repo.index.add(["manifests/m.yaml"])
    commit = repo.index.commit("promote clf v1 to champion").hexsha

    base = ["--tracking-uri", tracking_uri, "-C", str(workspace.root)]
    plan = json.loads(cli(*base, "plan", "--format", "json").out)
    assert plan["git"]["commit"] == commit and plan["git"]["dirty"] is False
    assert cli(*base, "apply", "--yes").code == 0
    client = MlflowClient(tracking_uri)
    assert client.get_model_version("clf", "1").tags["registry_ops.commit"] == commit
    assert client.get_registered_model("clf").tags["registry_ops.last_applied_commit"] == commit

    # Applying from an uncommitted edit says so in the stamp.
    seeder.version("clf", val_accuracy=0.9)
    workspace.manifest("clf", "aliases: {champion: 2}\n")
    assert cli(*base, "apply", "--yes").code == 0
    assert client.get_model_version("clf", "2").tags["registry_ops.commit"] == commit + "+dirty"
