"""The apply log: every apply that changed something is a run of `registry-ops/applies`.

Real MLflow on every backend (sqlite store, servers on sqlite and PostgreSQL),
real git repositories, the real CLI. The partial apply uses the fault seam of
tests/support/faults.py (a dropped connection at the Nth registry write).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import git
import pytest
from mlflow.tracking import MlflowClient

from registry_ops.core.changes import Change, SetAlias, TransitionStage
from registry_ops.core.plan import ModelPlan, Plan
from registry_ops.pipeline import audit
from registry_ops.pipeline.apply import ApplyResult, ModelOutcome
from registry_ops.registry import Registry
from registry_ops.registry.applylog import ApplyLog
from tests.support.backends import SQLITE, only
from tests.support.faults import run_with_fault


def manifest(model: str, version: int) -> str:
    return (
        "apiVersion: registry-ops/v1\nkind: ModelManifest\n"
        f"model: {model}\naliases: {{champion: {version}}}\n"
        f"stages: {{Production: {version}}}\n"
    )


def commit(root: Path, models: list[str], version: int, message: str) -> str:
    (root / "manifests").mkdir(parents=True, exist_ok=True)
    (root / "policies").mkdir(exist_ok=True)
    for i, model in enumerate(models):
        (root / "manifests" / f"m{i}.yaml").write_text(manifest(model, version))
    repo = git.Repo.init(root) if not (root / ".git").exists() else git.Repo(root)
    with repo.config_writer() as config:
        config.set_value("user", "name", "Ada").set_value("user", "email", "ada@example.com")
    repo.index.add([f"manifests/m{i}.yaml" for i in range(len(models))])
    return repo.index.commit(message).hexsha


def runs_of(uri: str, model: str) -> list[Any]:
    """The apply-log runs that changed ``model``, oldest first (read with MlflowClient)."""
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(audit.EXPERIMENT)
    if experiment is None:
        return []
    runs = client.search_runs(
        [experiment.experiment_id],
        audit.model_filter(model),
        order_by=["attributes.start_time ASC"],
    )
    return list(runs)


def artifact(uri: str, run_id: str, name: str, tmp: Path) -> Any:
    path = MlflowClient(uri).download_artifacts(run_id, name, str(tmp))
    return json.loads(Path(path).read_text())


def test_full_apply_is_one_run_with_plan_and_report(  # type: ignore[no-untyped-def]
    cli, backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("GITHUB_ACTOR", "ada-ci")
    clf = backend.name("clf")
    for _ in range(2):
        backend.seeder.version(clf, val_accuracy=0.9)
    root = tmp_path / "repo"
    first = commit(root, [clf], 1, "first champion")
    assert cli(*backend.args(root, "apply", "--yes")).code == 0
    sha = commit(root, [clf], 2, "promote v2")
    applied = cli(*backend.args(root, "apply", "--yes"))
    assert applied.code == 0, applied.err
    assert "Recorded in the apply log: run " in applied.err and "(applied)" in applied.err

    runs = runs_of(backend.uri, clf)
    assert [r.data.tags[audit.TAG_COMMIT] for r in runs] == [first, sha]
    run = runs[-1]
    tags = run.data.tags
    assert tags[audit.TAG_ACTOR] == "ada-ci" and tags["mlflow.user"] == "ada-ci"
    assert tags[audit.TAG_OUTCOME] == "applied" and run.info.status == "FINISHED"
    assert tags[audit.TAG_MODELS] == clf
    assert tags["mlflow.source.git.commit"] == sha
    assert tags[audit.TAG_PLAN].startswith("sha256:")

    plan = artifact(backend.uri, run.info.run_id, audit.PLAN_ARTIFACT, tmp_path / "a")
    assert plan["digest"] == tags[audit.TAG_PLAN] and plan["git"]["commit"] == sha
    report = artifact(backend.uri, run.info.run_id, audit.REPORT_ARTIFACT, tmp_path / "b")
    assert report["outcome"] == "applied" and report["commit"] == sha
    changes = {c["target"]: c for m in report["models"] for c in m["changes"]}
    champion = changes["alias:champion"]
    assert (champion["previous"], champion["new"]) == (1, 2)
    assert champion["reason"] == "manifest" and champion["landed"] is True
    assert champion["actor"] == "ada-ci" and champion["time"] == report["applied_at"]
    assert changes["stage:Archived"]["reason"] == "displaced"
    assert changes["stage:Archived"]["from_stage"] == "Production"

    # The model's own tag carries the summary history reads (no artifact download).
    summary = json.loads(tags[audit.model_tag(clf)])
    assert summary["status"] == "applied"
    assert {"action": "set_alias", "target": "alias:champion", "from": 1, "to": 2,
            "reason": "manifest", "landed": True} in summary["changes"]  # fmt: skip


def test_converged_apply_records_nothing_and_asks_nothing(  # type: ignore[no-untyped-def]
    cli, backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    clf = backend.name("clf")
    backend.seeder.version(clf, val_accuracy=0.9)
    root = tmp_path / "repo"
    commit(root, [clf], 1, "first")
    assert cli(*backend.args(root, "apply", "--yes")).code == 0
    assert len(runs_of(backend.uri, clf)) == 1

    calls: list[str] = []
    log_calls = ("experiment_id", "start_run", "log_run_data", "log_json_artifacts", "end_run",
                 "search_runs")  # fmt: skip
    for owner, name in [(Registry, "probe"), (Registry, "read_versions")] + [
        (ApplyLog, n) for n in log_calls
    ]:
        original = getattr(owner, name)

        def counting(self: Any, *args: Any, _name: str = name, _orig: Any = original,
                     **kwargs: Any) -> Any:  # fmt: skip
            calls.append(_name)
            return _orig(self, *args, **kwargs)

        monkeypatch.setattr(owner, name, counting)
    again = cli(*backend.args(root, "apply", "--yes"))
    assert again.code == 0 and "apply log" not in again.err
    assert calls == []
    assert len(runs_of(backend.uri, clf)) == 1


def test_drift_reverted_by_an_apply_is_recorded_as_drift(  # type: ignore[no-untyped-def]
    cli, backend, tmp_path: Path
):
    clf = backend.name("clf")
    for _ in range(3):
        backend.seeder.version(clf, val_accuracy=0.9)
    root = tmp_path / "repo"
    commit(root, [clf], 1, "first")
    assert cli(*backend.args(root, "apply", "--yes")).code == 0
    backend.client.set_registered_model_alias(clf, "champion", "3")  # by hand, in the UI
    assert cli(*backend.args(root, "apply", "--yes")).code == 0  # puts v1 back
    run = runs_of(backend.uri, clf)[-1]
    summary = json.loads(run.data.tags[audit.model_tag(clf)])
    assert summary["changes"] == [
        {"action": "set_alias", "target": "alias:champion", "from": 3, "to": 1,
         "reason": "drift", "landed": True}
    ]  # fmt: skip


@only(SQLITE)
def test_partial_apply_is_recorded_with_what_landed(  # type: ignore[no-untyped-def]
    cli, backend, tmp_path: Path, sqlite_template: Path
):
    db = tmp_path / "registry.db"
    shutil.copy(sqlite_template, db)
    uri = f"sqlite:///{db}"
    from tests.support.seed import Seeder

    seeder = Seeder(uri, (tmp_path / "art").as_uri())
    for model in ("fa", "fb"):
        seeder.version(model, val_accuracy=0.8)
        seeder.version(model, val_accuracy=0.9)
    root = tmp_path / "repo"
    commit(root, ["fa", "fb"], 1, "v1")
    assert cli("--tracking-uri", uri, "-C", str(root), "apply", "--yes").code == 0
    sha = commit(root, ["fa", "fb"], 2, "v2")
    log = tmp_path / "drop.log"
    # writes 1-2 are the two leases; write 3 (fa's champion) lands and its answer is lost
    argv = ["--tracking-uri", uri, "-C", str(root), "apply", "--yes"]
    status = run_with_fault(argv, 3, "drop-after", str(log))
    out = log.read_text()
    assert status == 1, out  # the apply's own exit code, not the log's
    assert "Recorded in the apply log" in out and "(partial)" in out

    run = runs_of(uri, "fa")[-1]
    assert run.data.tags[audit.TAG_OUTCOME] == "partial" and run.info.status == "FAILED"
    assert run.data.tags[audit.TAG_COMMIT] == sha
    assert runs_of(uri, "fb")[-1].data.tags[audit.TAG_COMMIT] == sha
    report = artifact(uri, run.info.run_id, audit.REPORT_ARTIFACT, tmp_path / "r")
    assert "the connection was dropped" in report["error"]
    by_model = {m["model"]: m for m in report["models"]}
    assert by_model["fa"]["status"] == "partial" and by_model["fb"]["status"] == "not attempted"
    landed = {
        (c["model"], c["target"]): c["landed"] for m in report["models"] for c in m["changes"]
    }
    assert landed[("fa", "alias:champion")] is True
    assert landed[("fa", "stage:Production")] is False
    assert landed[("fb", "alias:champion")] is False

    # The re-run converges and is recorded as its own, complete apply.
    rerun = cli(*argv)
    assert rerun.code == 0 and "(applied)" in rerun.err
    assert [r.data.tags[audit.TAG_OUTCOME] for r in runs_of(uri, "fa")][-2:] == [
        "partial",
        "applied",
    ]


@only(SQLITE)
def test_a_failed_log_write_keeps_the_apply_outcome(  # type: ignore[no-untyped-def]
    cli, backend, tmp_path: Path
):
    clf = backend.name("clf")
    for _ in range(2):
        backend.seeder.version(clf, val_accuracy=0.9)
    root = tmp_path / "repo"
    commit(root, [clf], 1, "first")
    assert cli(*backend.args(root, "apply", "--yes")).code == 0
    experiment = backend.client.get_experiment_by_name(audit.EXPERIMENT).experiment_id
    backend.client.delete_experiment(experiment)  # runs can no longer go there
    commit(root, [clf], 2, "second")
    result = cli(*backend.args(root, "apply", "--yes"))
    assert result.code == 0, result.err
    assert "warning: the apply was not recorded in the apply log" in result.err
    assert "is deleted; restore it" in result.err and "Traceback" not in result.err
    assert backend.aliases(clf) == {"champion": 2}  # the registry changes stand


# ---- the outcome, as plain data ------------------------------------------------------


def _plan(*changes: Change) -> Plan:
    return Plan([ModelPlan("m", "manifests/m.yaml", list(changes), None, "sha256:x")])


def test_outcome_of_an_apply() -> None:
    a = SetAlias("m", version=2, from_version=1, alias="champion")
    b = TransitionStage("m", version=2, stage="Production", from_stage="None")
    plan = _plan(a, b)
    model = plan.models[0]
    assert audit.outcome_of(plan, ApplyResult([ModelOutcome(model, landed=[a, b])])) == "applied"
    failed_first = ModelOutcome(model, failed=a, failed_landed=False, error="boom")
    assert audit.outcome_of(plan, ApplyResult([failed_first], error="m: boom")) == "failed"
    dropped = ModelOutcome(model, failed=a, failed_landed=True, error="dropped")
    assert audit.outcome_of(plan, ApplyResult([dropped], error="m: dropped")) == "partial"
    unknown = ModelOutcome(model, failed=a, failed_landed=None, error="gone")
    assert audit.outcome_of(plan, ApplyResult([unknown], error="m: gone")) == "partial"
    refused = ApplyResult([], refused=["m: locked by someone"])
    assert audit.outcome_of(plan, refused) is None  # nothing changed: nothing to record
    assert audit.model_status(model, None, refused.refused) == "refused"


def test_a_huge_model_summary_fits_a_tag() -> None:
    changes = [
        {"action": "transition_stage", "target": "stage:Archived", "previous": None, "new": n,
         "from_stage": "None", "reason": "retention", "landed": True}
        for n in range(1, 400)
    ] + [{"action": "set_alias", "target": "alias:champion", "previous": 1, "new": 400,
          "reason": "manifest", "landed": True}]  # fmt: skip
    text = audit.summary_tag({"status": "applied", "changes": changes})
    data = json.loads(text)
    assert len(text) <= audit.MAX_TAG_VALUE
    assert data["changes"][0]["target"] == "alias:champion"  # promotions kept first
    assert data["more"] == 400 - len(data["changes"])
