"""Model checks that fit how MLflow 3 logs models: autologged scikit-learn models (a signature,
no input example), default classifiers whose pyfunc returns labels, tree models saved with
skops, string labels. Through the CLI, on a sqlite store; every model runs in the sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from tests.conftest import Result, Workspace
from tests.support import models

CLI = Callable[..., Result]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Registered models logged the ways teams log them, and the holdouts they are scored on."""
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    base = tmp_path_factory.mktemp("checks")
    uri = f"sqlite:///{base / 'mlflow.db'}"
    train = models.holdout(600, seed=1)
    X, y = train[["x1", "x2"]], train["label"]
    words = np.where(y == 1, "yes", "no")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    reqs = {"pip_requirements": ["scikit-learn"]}  # inferring them runs each model (~10 s)

    class Labels(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        # Unannotated on purpose: MLflow reads type hints on predict as an input schema.
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return (model_input["x1"].to_numpy() > 0).astype(int)

    try:
        mlflow.set_experiment(experiment_id=mlflow.create_experiment(
            "checks", artifact_location=(base / "artifacts").as_uri()))  # fmt: skip
        mlflow.sklearn.autolog(log_input_examples=False, log_datasets=False, silent=True)
        with mlflow.start_run():
            LogisticRegression().fit(X, y)
        mlflow.sklearn.autolog(disable=True)
        logged = mlflow.last_logged_model()
        assert logged is not None
        mlflow.register_model(f"models:/{logged.model_id}", "auto")
        with mlflow.start_run():
            plain = LogisticRegression().fit(X, y)
            mlflow.sklearn.log_model(plain, name="m", registered_model_name="bare", **reqs)
            forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
            mlflow.sklearn.log_model(
                forest, name="f", registered_model_name="forest",
                signature=infer_signature(X, forest.predict(X)),
                skops_trusted_types=["sklearn.tree._tree.Tree"], **reqs,
            )  # fmt: skip
            mlflow.pyfunc.log_model(
                name="l", python_model=Labels(), registered_model_name="labels-only",
                signature=infer_signature(X, y), pip_requirements=["pandas"],
            )  # fmt: skip
            strings = LogisticRegression().fit(X, words)
            mlflow.sklearn.log_model(strings, name="s", registered_model_name="strings", **reqs)
    finally:
        mlflow.set_tracking_uri(previous)
    root = base / "repo"
    workspace = Workspace(root)
    models.write_holdout(root)
    frame = models.holdout()
    frame.assign(label=np.where(frame["label"] == 1, "yes", "no")).to_csv(
        root / "data" / "strings.csv", index=False
    )
    return {"uri": uri, "workspace": workspace, "forest": forest, "plain": plain}


def plan(cli: CLI, store: dict[str, Any], manifests: dict[str, str]) -> dict[str, Any]:
    """Plan ``{model: manifest body}``; each change's gates by ``model/alias``."""
    workspace: Workspace = store["workspace"]
    for old in (workspace.root / "manifests").glob("*.yaml"):
        old.unlink()
    for model, body in manifests.items():
        workspace.manifest(model, body, name=model)
    result = cli("--tracking-uri", store["uri"], "-C", str(workspace.root), "plan",
                 "--format", "json")  # fmt: skip
    assert result.code == 0, result.err
    return {
        f"{m['model']}/{c['alias']}": {g["name"]: g for g in c["gates"]}
        for m in json.loads(result.out)["models"]
        for c in m["changes"]
        if c.get("alias")
    }


EVALUATE = """\
    - evaluate:
        dataset: data/holdout.csv
        targets: label
        metrics: {{{metrics}}}
"""


def test_loadable_builds_an_example_from_the_signature_or_borrows_the_holdout(
    cli: CLI, store: dict[str, Any]
) -> None:
    workspace: Workspace = store["workspace"]
    workspace.policy("load", "    - loadable: true\n")
    workspace.policy("both", "    - loadable: {timeout_seconds: 120}\n"
                     + EVALUATE.format(metrics="accuracy: {min: 0.8}"))  # fmt: skip
    bare = "aliases: {champion: 1, challenger: 1}\ngates: {champion: both, challenger: load}\n"
    auto = "aliases: {champion: 1}\ngates: {champion: load}\n"
    gates = plan(cli, store, {"auto": auto, "bare": bare})
    signed = gates["auto/champion"]["loads and predicts"]
    assert signed["passed"] is True, signed
    assert "predicts on an example built from its signature (3 rows)" in signed["detail"]
    borrowed = gates["bare/champion"]["loads and predicts"]
    assert borrowed["passed"] is True, borrowed
    assert "predicts on rows of the evaluate gate's holdout (3 rows)" in borrowed["detail"]
    alone = gates["bare/challenger"]["loads and predicts"]
    assert alone["passed"] is False
    assert "nothing to predict on: it was logged without an input example" in alone["detail"]
    assert "(it has no signature)" in alone["detail"]
    assert "no evaluate gate in its policy names a holdout" in alone["detail"]


def test_roc_auc_of_classifiers_whose_pyfunc_returns_labels(
    cli: CLI, store: dict[str, Any]
) -> None:
    """Probabilities come from the flavor's own predict_proba (skops-saved trees too); a
    python model with none fails roc_auc alone, saying why, and the plan goes on."""
    workspace: Workspace = store["workspace"]
    workspace.policy("auc", EVALUATE.format(metrics="accuracy: {min: 0.8}, roc_auc: {min: 0.8}"))
    body = "aliases: {champion: 1}\ngates: {champion: auc}\n"
    gates = plan(cli, store, {m: body for m in ("bare", "forest", "labels-only")})
    holdout = models.holdout()
    X, y = holdout[["x1", "x2"]], holdout["label"]
    for model, fitted in (("bare", store["plain"]), ("forest", store["forest"])):
        auc = gates[f"{model}/champion"]["roc_auc >= 0.8 on data/holdout.csv"]
        assert auc["passed"] is True, auc
        assert auc["observed"] == pytest.approx(skm.roc_auc_score(y, fitted.predict_proba(X)[:, 1]))
    labels = gates["labels-only/champion"]
    assert labels["accuracy >= 0.8 on data/holdout.csv"]["passed"] is True
    refused = labels["roc_auc >= 0.8 on data/holdout.csv"]
    assert refused["passed"] is False
    assert "roc_auc needs scores or probabilities" in refused["detail"]
    assert "(its flavor (mlflow.pyfunc.model) has no native predict_proba)" in refused["detail"]


def test_string_labels_need_a_pos_label_for_f1(cli: CLI, store: dict[str, Any]) -> None:
    workspace: Workspace = store["workspace"]
    gate = EVALUATE.format(metrics="accuracy: {min: 0.8}, f1: {min: 0.8}").replace(
        "holdout.csv", "strings.csv"
    )
    body = "aliases: {champion: 1}\ngates: {champion: words}\n"
    workspace.policy("words", gate)
    asked = plan(cli, store, {"strings": body})["strings/champion"]
    assert asked["accuracy >= 0.8 on data/strings.csv"]["passed"] is True
    f1 = asked["f1 >= 0.8 on data/strings.csv"]
    assert f1["passed"] is False
    assert "the labels are 'no' and 'yes'" in f1["detail"] and "set pos_label" in f1["detail"]

    workspace.policy("words", gate + "        pos_label: 'yes'\n")
    told = plan(cli, store, {"strings": body})["strings/champion"]["f1 >= 0.8 on data/strings.csv"]
    frame = pd.read_csv(Path(workspace.root) / "data" / "strings.csv")
    predicted = np.where(store["plain"].predict(frame[["x1", "x2"]]) == 1, "yes", "no")
    assert told["passed"] is True
    assert told["observed"] == pytest.approx(
        skm.f1_score(frame["label"], predicted, pos_label="yes")
    )
