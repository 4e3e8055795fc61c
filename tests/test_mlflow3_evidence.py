"""MLflow 3 metric evidence, end to end: each idiom logged the way users log it, on every
backend, asserting the exact value a gate read and where it came from.

Idioms: several models from one run (a sweep), a model logged with no run, one key
logged per dataset, ``mlflow.models.evaluate`` in its own run, a run in the trash and
a run removed by ``mlflow gc``. ``status`` and ``compare`` must show the values the
gates read, from the same source; a saved plan pins them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.backends import HTTP_SQLITE, SQLITE, Backend, Servers, only
from tests.support.mlflow3 import Fluent, frame

GATE = "    - metric: val_accuracy\n      min: 0.85\n"


@pytest.fixture
def fluent(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Fluent:
    return Fluent(backend, monkeypatch)


def plan(cli, backend, workspace) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    result = cli(*backend.args(workspace.root, "plan", "--format", "json"))
    assert result.code in (0, 3), result.err
    return json.loads(result.out)  # type: ignore[no-any-return]


def gates(data: dict[str, Any], target: str = "champion") -> list[dict[str, Any]]:
    """The gate results of the promotion to ``target`` (the only model planned)."""
    (model,) = data["models"]
    change = next(c for c in model["changes"] if target in (c.get("alias"), c.get("stage")))
    return change["gates"]  # type: ignore[no-any-return]


def read(value: float, model_id: str | None, run_id: str | None, **more: Any) -> dict[str, Any]:
    """A gate's record of one value it read: the value and where it came from."""
    return {
        "value": value, "source": "logged_model" if model_id else "run", "model_id": model_id,
        "run_id": run_id, "dataset": None, "dataset_digest": None, "step": 0, **more,
    }  # fmt: skip


def test_each_model_of_a_sweep_is_judged_on_its_own_metrics(  # type: ignore[no-untyped-def]
    cli, backend, workspace, fluent, tmp_path
):
    import mlflow
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB

    clf = backend.name("sweep")
    scores = {"dummy": 0.62, "logistic": 0.78, "bayes": 0.91}
    estimators = [DummyClassifier(), LogisticRegression(), GaussianNB()]
    ids = []
    with mlflow.start_run() as run:
        for (name, score), estimator in zip(scores.items(), estimators, strict=True):
            ids.append(fluent.log_model(estimator, name))
            mlflow.log_metric("val_accuracy", score, model_id=ids[-1])
    assert [fluent.register(m, clf) for m in ids] == [1, 2, 3]
    # The run's own latest value is the last model's: what every version read before.
    assert backend.client.get_run(run.info.run_id).data.metrics["val_accuracy"] == 0.91
    workspace.policy("production", GATE)
    workspace.manifest(clf, "aliases: {champion: 1}\ngates: {champion: production}\n")

    (gate,) = gates(plan(cli, backend, workspace))
    assert gate["passed"] is False and gate["observed"] == 0.62
    assert gate["detail"] == (
        f"val_accuracy = 0.62, below the minimum 0.85 (logged model {ids[0]}, step 0)"
    )
    assert gate["evidence"]["read"] == read(0.62, ids[0], run.info.run_id)
    assert gate["evidence"]["model_id"] == ids[0]

    workspace.manifest(clf, "aliases: {champion: 3}\ngates: {champion: production}\n")
    (gate,) = gates(plan(cli, backend, workspace))
    assert gate["passed"] is True
    assert gate["evidence"]["read"] == read(0.91, ids[2], run.info.run_id)
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0

    # status shows the holder's value as the gate read it, from the same source
    status = json.loads(cli(*backend.args(workspace.root, "status", "--format", "json")).out)
    (holder,) = status["models"][0]["holders"]
    assert holder["metrics"] == {"val_accuracy": 0.91}
    assert holder["sources"] == {"val_accuracy": gate["evidence"]["read"]}
    assert holder["origin"] == f"logged model {ids[2]}"
    # compare: each version its own model's value and source
    out = cli(*backend.args(tmp_path, "compare", clf, "--format", "json")).out
    versions = json.loads(out)["versions"]
    assert [v["metrics"] for v in versions] == [{"val_accuracy": s} for s in scores.values()]
    assert [v["model_id"] for v in versions] == ids
    assert [v["sources"]["val_accuracy"]["model_id"] for v in versions] == ids
    assert versions[2]["sources"]["val_accuracy"] == gate["evidence"]["read"]


def test_a_model_logged_without_a_run_is_judged_on_its_metrics(  # type: ignore[no-untyped-def]
    cli, backend, workspace, fluent
):
    import mlflow
    from sklearn.linear_model import LogisticRegression

    clf = backend.name("runless")
    model_id = fluent.log_model(LogisticRegression(), "solo")  # no active run
    with mlflow.start_run() as measured:  # measured later, in a run of its own
        mlflow.log_metric("val_accuracy", 0.88, model_id=model_id)
    assert fluent.register(model_id, clf) == 1
    assert not backend.client.get_model_version(clf, "1").run_id  # no source run
    workspace.policy("production", GATE)
    workspace.manifest(clf, "aliases: {champion: 1}\ngates: {champion: production}\n")
    (gate,) = gates(plan(cli, backend, workspace))
    assert gate["passed"] is True
    assert gate["detail"] == f"val_accuracy = 0.88 (logged model {model_id}, step 0)"
    assert gate["evidence"]["read"] == read(0.88, model_id, measured.info.run_id)


def test_metrics_per_dataset_are_never_picked_silently(  # type: ignore[no-untyped-def]
    cli, backend, workspace, fluent, tmp_path
):
    import mlflow
    from sklearn.linear_model import LogisticRegression

    clf = backend.name("datasets")
    training, validation = fluent.dataset("training", 40), fluent.dataset("validation", 12)
    ids = []
    for train, valid in ((0.99, 0.9), (1.0, 0.917)):
        with mlflow.start_run():
            ids.append(fluent.log_model(LogisticRegression(), "model"))
            mlflow.log_metric("accuracy", train, model_id=ids[-1], dataset=training)
            mlflow.log_metric("accuracy", valid, model_id=ids[-1], dataset=validation)
        fluent.register(ids[-1], clf)
    backend.client.set_registered_model_alias(clf, "champion", "1")
    workspace.policy(
        "production",
        """\
        - metric: accuracy
          min: 0.95
        - metric: accuracy
          min: 0.95
          dataset: validation
        - metric: accuracy
          min: 0.95
          dataset: "DIGEST"
        - metric: accuracy
          min: 0.5
          dataset: test
        - metric: accuracy
          dataset: validation
          baseline: current
          min_absolute_change: 0.01
        """.replace("DIGEST", training.digest),
    )
    workspace.manifest(clf, "aliases: {champion: 2}\ngates: {champion: production}\n")
    unnamed, named, by_digest, absent, relative = gates(plan(cli, backend, workspace))
    listing = (
        f"training (digest {training.digest}): 1, validation (digest {validation.digest}): 0.917"
    )
    assert not unnamed["passed"] and unnamed["detail"] == (
        f"metric 'accuracy' of logged model {ids[1]} has values for 2 datasets ({listing}): "
        "name one with `dataset:`"
    )
    assert not named["passed"] and named["observed"] == 0.917
    assert named["name"] == "accuracy[validation] >= 0.95"
    on = {"dataset": "validation", "dataset_digest": validation.digest}
    assert named["evidence"]["read"] == read(0.917, ids[1], named["evidence"]["run_id"], **on)
    assert by_digest["passed"] and by_digest["observed"] == 1.0
    assert by_digest["evidence"]["read"]["dataset"] == "training"
    assert not absent["passed"] and absent["detail"] == (
        f"metric 'accuracy' of logged model {ids[1]} has no value for dataset 'test' "
        f"(it has: {listing})"
    )
    assert relative["passed"] and (relative["observed"], relative["holder"]) == (0.917, 0.9)
    assert relative["evidence"]["holder_read"]["model_id"] == ids[0]
    assert relative["evidence"]["holder_read"]["dataset"] == "validation"
    assert f"v1: logged model {ids[0]}, dataset validation" in relative["detail"]

    # status and compare show one value per dataset, labelled, with the gates' numbers
    status = json.loads(cli(*backend.args(workspace.root, "status", "--format", "json")).out)
    (holder,) = status["models"][0]["holders"]  # v1 holds champion
    assert holder["metrics"] == {"accuracy[training]": 0.99, "accuracy[validation]": 0.9}
    compared = json.loads(cli(*backend.args(tmp_path, "compare", clf, "--format", "json")).out)
    assert compared["metrics"] == ["accuracy[training]", "accuracy[validation]"]
    v2 = compared["versions"][1]
    assert v2["metrics"] == {"accuracy[training]": 1.0, "accuracy[validation]": 0.917}
    assert v2["sources"]["accuracy[validation]"] == named["evidence"]["read"]


def test_an_evaluation_run_scores_onto_the_logged_model(  # type: ignore[no-untyped-def]
    cli, backend, workspace, fluent
):
    import mlflow
    from sklearn.dummy import DummyClassifier

    clf = backend.name("evaluated")
    with mlflow.start_run() as training:
        model_id = fluent.log_model(DummyClassifier(strategy="most_frequent"), "model")
    with mlflow.start_run() as evaluation:  # 36 of 40 labels are 0: accuracy 0.9
        mlflow.models.evaluate(
            f"models:/{model_id}", frame(), targets="label", model_type="classifier"
        )
    fluent.register(model_id, clf)
    # The version's source run is the training run, which has no accuracy_score.
    assert backend.client.get_model_version(clf, "1").run_id == training.info.run_id
    assert "accuracy_score" not in backend.client.get_run(training.info.run_id).data.metrics
    workspace.policy("production", "    - metric: accuracy_score\n      min: 0.85\n")
    workspace.manifest(clf, "aliases: {champion: 1}\ngates: {champion: production}\n")
    (gate,) = gates(plan(cli, backend, workspace))
    assert gate["passed"] is True and gate["observed"] == 0.9
    got = gate["evidence"]["read"]
    # MLflow names the evaluation's dataset "dataset" and records the evaluation run.
    assert (got["model_id"], got["run_id"], got["dataset"]) == (
        model_id, evaluation.info.run_id, "dataset"
    )  # fmt: skip
    assert gate["detail"].startswith(f"accuracy_score = 0.9 (logged model {model_id}, dataset")


@only(SQLITE, HTTP_SQLITE)
def test_a_run_in_the_trash_is_noted_and_a_collected_one_is_named(  # type: ignore[no-untyped-def]
    cli, backend, workspace, fluent, servers: Servers
):
    import mlflow
    from sklearn.linear_model import LogisticRegression

    classic, modern = backend.name("classic"), backend.name("modern")
    backend.seeder.version(classic, val_accuracy=0.9)  # a run's metric, MLflow 2 style
    old_run = backend.client.get_model_version(classic, "1").run_id
    with mlflow.start_run() as run:
        model_id = fluent.log_model(LogisticRegression(), "model")
        mlflow.log_metric("val_accuracy", 0.9, model_id=model_id)
    fluent.register(model_id, modern)
    workspace.policy("production", GATE)
    body = "aliases: {champion: 1}\ngates: {champion: production}\n"
    workspace.manifest(classic, body, name="classic")
    workspace.manifest(modern, body, name="modern")

    def gate_of(model: str) -> dict[str, Any]:
        result = cli(*backend.args(workspace.root, "plan", model, "--format", "json"))
        (got,) = gates(json.loads(result.out))
        return got

    for run_id in (old_run, run.info.run_id):
        backend.client.delete_run(run_id)
    trash = "is deleted (in MLflow's trash: `mlflow gc` would remove it)"
    for model, run_id, source in ((classic, old_run, None), (modern, run.info.run_id, model_id)):
        gate = gate_of(model)
        assert gate["passed"] is True, gate["detail"]
        assert gate["evidence"]["read"] == read(0.9, source, run_id, note=f"run {run_id} {trash}")
        assert gate["detail"].endswith(f"step 0; run {run_id} {trash})")

    store = backend.uri if backend.id == SQLITE else f"sqlite:///{servers.fast_dir / 'server.db'}"
    for run_id in (old_run, run.info.run_id):
        fluent.gc(run_id, store)
    gone = "no longer exists (deleted permanently, e.g. by `mlflow gc`)"
    gate = gate_of(classic)
    assert gate["passed"] is False and gate["detail"] == (
        f"run {old_run} (the source run of version 1) {gone}, so metric 'val_accuracy' is unknown"
    )
    gate = gate_of(modern)  # the logged model remains; its metrics went with the run
    assert gate["passed"] is False and gate["detail"] == (
        f"metric 'val_accuracy' is missing from logged model {model_id} (it has no metrics); "
        f"its source run {run.info.run_id} {gone}, and the metrics logged in it went with it"
    )


def test_a_saved_plan_pins_logged_model_metrics(  # type: ignore[no-untyped-def]
    cli, backend, workspace, fluent, tmp_path: Path
):
    import mlflow
    from sklearn.linear_model import LogisticRegression

    clf = backend.name("pinned")
    with mlflow.start_run():
        model_id = fluent.log_model(LogisticRegression(), "model")
        mlflow.log_metric("val_accuracy", 0.91, model_id=model_id)
    fluent.register(model_id, clf)
    workspace.policy("production", GATE)
    workspace.manifest(clf, "aliases: {champion: 1}\ngates: {champion: production}\n")
    path = tmp_path / "plan.json"
    assert cli(*backend.args(workspace.root, "plan", "--out", str(path))).code == 0
    pins = json.loads(path.read_text())["models"][0]["evidence"]["metric_reads"]
    assert pins["1"]["val_accuracy"]["model_id"] == model_id
    assert pins["1"]["val_accuracy"]["value"] == 0.91
    with mlflow.start_run():  # a later evaluation lowers the logged model's value
        mlflow.log_metric("val_accuracy", 0.5, model_id=model_id, step=1)
    stale = cli(*backend.args(workspace.root, "apply", "--yes", str(path)))
    assert stale.code == 4, stale.err
    assert "v1: metric val_accuracy is now 0.5, was 0.91" in stale.err
    assert backend.aliases(clf) == {}
