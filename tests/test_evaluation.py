"""Live evaluation on a holdout: datasets, metrics, latency, and real pyfunc models."""

from __future__ import annotations

import functools
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression

from registry_ops.errors import RegistryOpsError
from registry_ops.gates.evaluation import (
    DatasetError,
    EvaluationError,
    Holdout,
    ProgressEvent,
    evaluate,
    evaluate_models,
    evaluate_predictions,
    file_digest,
    infer_task,
    load_holdout,
    resolve_dataset,
)

ROWS = 1_000


def _blobs(seed: int = 0, rows: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, rows)
    x1 = rng.normal(label * 1.5, 1.0)
    x2 = rng.normal(-label, 1.0)
    return pd.DataFrame({"x1": x1, "x2": x2, "label": label})


@pytest.fixture
def root(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    frame = _blobs()
    frame.to_csv(repo / "data" / "holdout.csv", index=False)
    frame.to_parquet(repo / "data" / "holdout.parquet", index=False)
    return repo


@pytest.fixture
def holdout(root: Path) -> Holdout:
    return load_holdout("data/holdout.csv", root=root, targets="label")


@pytest.fixture
def clf() -> LogisticRegression:
    train = _blobs(seed=1, rows=2_000)
    return LogisticRegression().fit(train[["x1", "x2"]], train["label"])


# ---- datasets ----------------------------------------------------------------------


def test_csv_and_parquet_load_the_same_rows(root: Path) -> None:
    csv = load_holdout("data/holdout.csv", root=root, targets="label")
    parquet = load_holdout("data/holdout.parquet", root=root, targets="label")
    assert csv.rows == parquet.rows == ROWS
    assert csv.features == parquet.features == ("x1", "x2")
    pd.testing.assert_frame_equal(csv.frame, parquet.frame, check_exact=False)
    assert csv.digest != parquet.digest  # the bytes differ, so do the cache keys
    assert csv.digest == file_digest(root / "data" / "holdout.csv")


def test_explicit_features_choose_and_order_columns(root: Path) -> None:
    holdout = load_holdout("data/holdout.csv", root=root, targets="label", features=["x2"])
    assert list(holdout.X.columns) == ["x2"]
    with pytest.raises(DatasetError, match="lacks feature column.*nope"):
        load_holdout("data/holdout.csv", root=root, targets="label", features=["x2", "nope"])


def test_digest_changes_with_the_file(root: Path) -> None:
    path = root / "data" / "holdout.csv"
    before = file_digest(path)
    assert before.startswith("sha256:") and len(before) == len("sha256:") + 64
    assert file_digest(path) == before
    path.write_text(path.read_text() + "0.1,0.2,1\n")
    after = load_holdout("data/holdout.csv", root=root, targets="label")
    assert after.digest != before and after.rows == ROWS + 1


def test_paths_escaping_the_root_are_refused(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.csv"
    _blobs().to_csv(outside, index=False)
    for dataset in ("../secret.csv", "data/../../secret.csv", str(outside), outside.as_uri()):
        with pytest.raises(DatasetError, match="outside the repository root"):
            resolve_dataset(dataset, root)
    (root / "data" / "link.csv").symlink_to(outside)
    with pytest.raises(DatasetError, match="link.csv resolves to .*secret.csv, outside"):
        load_holdout("data/link.csv", root=root, targets="label")


def test_paths_inside_the_root_in_any_spelling(root: Path) -> None:
    inside = root / "data" / "holdout.csv"
    for dataset in ("data/holdout.csv", "./data/../data/holdout.csv", str(inside), inside.as_uri()):
        assert resolve_dataset(dataset, root) == inside.resolve()
    assert resolve_dataset("file:data/holdout.csv", root) == inside.resolve()
    (root / "data" / "alias.csv").symlink_to(inside)
    assert resolve_dataset("data/alias.csv", root) == inside.resolve()


def test_missing_files_directories_and_uris_without_a_downloader(root: Path) -> None:
    with pytest.raises(DatasetError, match="no such file"):
        resolve_dataset("data/nope.csv", root)
    with pytest.raises(DatasetError, match="is a directory"):
        resolve_dataset("data", root)
    with pytest.raises(DatasetError, match="artifact URI, and no MLflow connection"):
        resolve_dataset("runs:/abc/holdout.csv", root)


def test_artifact_uris_go_through_the_downloader(root: Path) -> None:
    asked: list[str] = []

    def download(uri: str) -> Path:
        asked.append(uri)
        return root / "data" / "holdout.parquet"

    holdout = load_holdout(
        "mlflow-artifacts:/1/abc/artifacts/holdout.parquet",
        root=root,
        targets="label",
        download=download,
    )
    assert asked == ["mlflow-artifacts:/1/abc/artifacts/holdout.parquet"] and holdout.rows == ROWS


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("ragged.csv", b"a,b,label\n1,2,0\n1,2,3,4,5\n", r"ragged.csv is not a readable CSV"),
        ("binary.csv", b"\xff\xfe\x00\x81garbage\x00", r"binary.csv is not a text CSV file"),
        ("empty.csv", b"", r"empty.csv is empty"),
        ("header.csv", b"x1,x2,label\n", r"header.csv has a header but no rows"),
        ("nolabel.csv", b"x1,x2\n1,2\n", r"nolabel.csv has no target column 'label'.*x1, x2"),
        ("onlylabel.csv", b"label\n1\n", r"onlylabel.csv has no feature columns"),
        ("gaps.csv", b"x1,label\n1,0\n2,\n3,\n", r"gaps.csv: 2 of 3 rows have no value"),
        ("data.json", b"{}", r"data.json: unsupported file type"),
    ],
)
def test_corrupt_datasets_are_named_and_explained(
    root: Path, name: str, content: bytes, message: str
) -> None:
    (root / "data" / name).write_bytes(content)
    with pytest.raises(DatasetError, match=message) as caught:
        load_holdout(f"data/{name}", root=root, targets="label")
    assert isinstance(caught.value, RegistryOpsError)


def test_truncated_parquet(root: Path) -> None:
    data = (root / "data" / "holdout.parquet").read_bytes()
    (root / "data" / "cut.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"data/cut.parquet is not a readable Parquet file"):
        load_holdout("data/cut.parquet", root=root, targets="label")
    # a Parquet file is recognised by its magic bytes whatever its name
    (root / "data" / "renamed.bin").write_bytes(data)
    assert load_holdout("data/renamed.bin", root=root, targets="label").rows == ROWS


# ---- metrics -------------------------------------------------------------------------


def test_classifier_metrics_match_scikit_learn(holdout: Holdout, clf: LogisticRegression) -> None:
    result = evaluate(clf.predict_proba, holdout, metrics=["accuracy", "f1", "roc_auc"])
    labels = clf.predict(holdout.X)
    assert result.metrics["accuracy"] == pytest.approx(skm.accuracy_score(holdout.y, labels))
    assert result.metrics["f1"] == pytest.approx(skm.f1_score(holdout.y, labels))
    auc = skm.roc_auc_score(holdout.y, clf.predict_proba(holdout.X)[:, 1])
    assert result.metrics["roc_auc"] == pytest.approx(auc)
    assert 0.8 < result.metrics["accuracy"] < 1
    assert set(result.metrics) == {"accuracy", "f1", "roc_auc", "latency_p95_ms"}
    assert result.rows == ROWS and result.batches == 4 and result.engine == "in-process"
    assert result.digest == holdout.digest and result.task == "classifier"
    assert result.to_dict()["metrics"] == result.metrics


def test_labels_probabilities_scores_and_logits_agree(
    holdout: Holdout, clf: LogisticRegression
) -> None:
    every = ["accuracy", "f1", "precision", "recall"]
    by_labels = evaluate(clf.predict, holdout, metrics=every).metrics
    by_proba = evaluate(clf.predict_proba, holdout, metrics=[*every, "roc_auc"]).metrics
    by_p1 = evaluate(lambda X: clf.predict_proba(X)[:, 1], holdout, metrics=[*every, "roc_auc"])
    by_margin = evaluate(clf.decision_function, holdout, metrics=[*every, "roc_auc"])
    logits = np.log(np.clip(clf.predict_proba(holdout.X), 1e-300, 1))
    by_logits = evaluate_predictions(
        logits * 3 + 7, holdout, metrics=[*every, "roc_auc"], engine="x", seconds=1
    )
    as_floats = evaluate(lambda X: clf.predict(X).astype(float), holdout, metrics=every).metrics
    for other in (by_p1.metrics, by_margin.metrics, by_logits.metrics, as_floats):
        for name in every:
            assert other[name] == pytest.approx(by_labels[name]), name
    for other in (by_p1.metrics, by_margin.metrics, by_logits.metrics):
        assert other["roc_auc"] == pytest.approx(by_proba["roc_auc"])


def test_a_metric_that_cannot_be_computed_fails_alone(
    holdout: Holdout, clf: LogisticRegression
) -> None:
    result = evaluate(clf.predict, holdout, metrics=["accuracy", "roc_auc"])
    assert "roc_auc" not in result.metrics and result.metrics["accuracy"] > 0.8
    assert "roc_auc needs scores or probabilities" in result.problems["roc_auc"]
    # probabilities from the flavor's own predict_proba (what the scoring child sends)
    given = evaluate_predictions(
        clf.predict(holdout.X), holdout, metrics=["accuracy", "roc_auc"], engine="x",
        seconds=1, proba=clf.predict_proba(holdout.X), classes=clf.classes_,
    )  # fmt: skip
    auc = skm.roc_auc_score(holdout.y, clf.predict_proba(holdout.X)[:, 1])
    assert given.metrics["roc_auc"] == pytest.approx(auc) and not given.problems


def test_pos_label_decides_the_positive_class_of_string_labels(tmp_path: Path) -> None:
    """f1/precision/recall of "no"/"yes" labels need pos_label; 0/1 and bools do not."""
    truth = np.array(["no", "yes", "yes", "no", "yes", "no", "no", "no"])
    guess = np.array(["no", "yes", "no", "no", "yes", "yes", "no", "no"])
    frame = pd.DataFrame({"x": np.arange(len(truth)), "y": truth})
    frame.to_csv(tmp_path / "s.csv", index=False)
    holdout = load_holdout("s.csv", root=tmp_path, targets="y")
    names = ["accuracy", "f1", "precision", "recall"]
    asked = evaluate_predictions(guess, holdout, metrics=names, engine="x", seconds=1)
    assert asked.metrics == {"accuracy": pytest.approx(0.75)}
    for name in ("f1", "precision", "recall"):
        assert "'no' and 'yes'" in asked.problems[name]
        assert "set pos_label" in asked.problems[name]
    for positive in ("yes", "no"):
        told = evaluate_predictions(
            guess, holdout, metrics=names, engine="x", seconds=1, pos_label=positive
        )
        assert told.metrics["f1"] == pytest.approx(
            skm.f1_score(truth, guess, pos_label=positive)
        ), positive
        assert told.metrics["precision"] == pytest.approx(
            skm.precision_score(truth, guess, pos_label=positive)
        )
    wrong = evaluate_predictions(guess, holdout, metrics=["f1"], engine="x", seconds=1,
                                 pos_label="maybe")  # fmt: skip
    assert "pos_label 'maybe' is not one of the labels ('no', 'yes')" in wrong.problems["f1"]
    # booleans and 0/1 have an obvious positive class
    for labels in (truth == "yes", (truth == "yes").astype(int)):
        frame = pd.DataFrame({"x": np.arange(len(truth)), "y": labels})
        frame.to_csv(tmp_path / "b.csv", index=False)
        plain = load_holdout("b.csv", root=tmp_path, targets="y")
        result = evaluate_predictions(
            (guess == "yes").astype(labels.dtype), plain, metrics=["f1"], engine="x", seconds=1
        )
        assert result.metrics["f1"] == pytest.approx(skm.f1_score(labels, guess == "yes"))


def test_string_labels_and_multiclass(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    y = rng.choice(["cat", "dog", "emu"], 300)
    frame = pd.DataFrame({"x": rng.normal(size=300), "y": y})
    frame.to_csv(tmp_path / "h.csv", index=False)
    holdout = load_holdout("h.csv", root=tmp_path, targets="y")
    perfect = evaluate(lambda X: y[X.index], holdout, metrics=["accuracy", "f1"]).metrics
    assert perfect["accuracy"] == 1.0 and perfect["f1"] == 1.0
    onehot = pd.get_dummies(pd.Series(y)).to_numpy(dtype=float)  # columns in sorted order
    result = evaluate(lambda X: onehot[X.index], holdout, metrics=["accuracy", "roc_auc"])
    assert result.metrics["accuracy"] == 1.0 and result.metrics["roc_auc"] == 1.0
    with pytest.raises(EvaluationError, match="one score per row for 3 classes"):
        evaluate(lambda X: np.full(len(X), 0.3), holdout, metrics=["accuracy"])


def test_regressor_metrics(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=500)
    frame = pd.DataFrame({"x": x, "target": 2 * x + rng.normal(0, 0.1, 500)})
    frame.to_parquet(tmp_path / "r.parquet")
    holdout = load_holdout("r.parquet", root=tmp_path, targets="target")
    model = LinearRegression().fit(holdout.X, holdout.y)
    result = evaluate(model.predict, holdout, metrics=["rmse", "mae", "r2"])
    pred = model.predict(holdout.X)
    assert result.task == "regressor"
    assert result.metrics["rmse"] == pytest.approx(
        math.sqrt(skm.mean_squared_error(holdout.y, pred))
    )
    assert result.metrics["mae"] == pytest.approx(skm.mean_absolute_error(holdout.y, pred))
    assert result.metrics["r2"] == pytest.approx(skm.r2_score(holdout.y, pred))
    # a DataFrame with one column is one prediction per row
    as_frame = evaluate(lambda X: pd.DataFrame({"p": model.predict(X)}), holdout, task="regressor")
    assert as_frame.metrics["rmse"] == pytest.approx(result.metrics["rmse"])
    with pytest.raises(EvaluationError, match="NaN or infinite"):
        evaluate(lambda X: np.full(len(X), np.nan), holdout, metrics=["rmse"])


def test_task_inference() -> None:
    assert infer_task(["accuracy", "roc_auc"]) == "classifier"
    assert infer_task(["rmse", "latency_p95_ms"]) == "regressor"
    assert infer_task(["latency_p95_ms"]) is None
    assert infer_task([], "regressor") == "regressor"
    with pytest.raises(EvaluationError, match="mix classifier and regressor"):
        infer_task(["accuracy", "rmse"])
    with pytest.raises(EvaluationError, match="unknown metric.*acuracy"):
        infer_task(["acuracy"])
    with pytest.raises(EvaluationError, match="rmse do not apply to a classifier"):
        infer_task(["rmse"], "classifier")
    with pytest.raises(EvaluationError, match="task must be"):
        infer_task([], "ranker")


def test_every_metric_of_the_task_by_default(holdout: Holdout, clf: LogisticRegression) -> None:
    result = evaluate(clf.predict_proba, holdout, task="classifier")
    assert list(result.metrics) == [
        "accuracy", "f1", "precision", "recall", "roc_auc", "latency_p95_ms"
    ]  # fmt: skip
    with pytest.raises(EvaluationError, match="say which metrics"):
        evaluate(clf.predict, holdout)


# ---- batches, latency, progress, several models --------------------------------------


def test_latency_is_the_p95_of_batch_times(holdout: Holdout) -> None:
    calls: list[int] = []

    def slow(X: pd.DataFrame) -> np.ndarray:
        calls.append(len(X))
        time.sleep(0.02 if len(calls) == 5 else 0.001)  # the last timed batch is slow
        return np.zeros(len(X), dtype=int)

    result = evaluate(slow, holdout, metrics=["latency_p95_ms"], batch_size=256)
    assert calls == [256, 256, 256, 256, 232]  # warm-up call first, untimed
    assert result.batches == 4 and result.metrics.keys() == {"latency_p95_ms"}
    # sleep() never returns early, so the slow batch takes at least 20 ms and the
    # p95 of four batch times (linear interpolation, 85% of the way from the third
    # to the slowest) at least 17 ms; no batch takes longer than the whole run. Both
    # bounds hold however loaded the machine is.
    assert 17 <= result.metrics["latency_p95_ms"] <= result.seconds * 1000
    assert result.seconds > 0.02 and result.rows_per_second < ROWS / 0.02
    no_warmup = evaluate(
        lambda X: np.zeros(len(X)), holdout, metrics=["accuracy"], batch_size=100, warmup=False
    )
    assert no_warmup.batches == 10


def test_progress_and_the_same_rows_for_every_model(
    holdout: Holdout, clf: LogisticRegression
) -> None:
    events: list[ProgressEvent] = []
    seen: dict[str, list[int]] = {"candidate": [], "holder": []}

    def spy(label: str, fn: Any) -> Any:
        def predict(X: pd.DataFrame) -> Any:
            seen[label].extend(X.index)
            return fn(X)

        return predict

    results = evaluate_models(
        {
            "candidate": spy("candidate", clf.predict_proba),
            "holder": spy("holder", lambda X: (X["x1"] > 0.75).astype(int).to_numpy()),
        },
        holdout,
        metrics=["accuracy", "f1"],
        batch_size=400,
        progress=events.append,
        warmup=False,
    )
    assert seen["candidate"] == seen["holder"] == list(range(ROWS))
    assert results["candidate"].digest == results["holder"].digest == holdout.digest
    assert results["candidate"].metrics["accuracy"] != results["holder"].metrics["accuracy"]
    assert [(e.model, e.batch, e.batches, e.rows_done) for e in events] == [
        ("candidate", 1, 3, 400), ("candidate", 2, 3, 800), ("candidate", 3, 3, 1000),
        ("holder", 1, 3, 400), ("holder", 2, 3, 800), ("holder", 3, 3, 1000),
    ]  # fmt: skip


def test_predict_failures_and_bad_output_fail_with_the_model_named(holdout: Holdout) -> None:
    def broken(X: pd.DataFrame) -> Any:
        raise RuntimeError("weights not found\nlong traceback text")

    with pytest.raises(
        EvaluationError, match=r"^v4 failed to predict batch 1: RuntimeError: weights not found$"
    ):
        evaluate(broken, holdout, metrics=["accuracy"], model="v4")
    with pytest.raises(
        EvaluationError, match=r"v4 \(batch 1\) returned 3 predictions for 256 rows"
    ):
        evaluate(lambda X: [0, 1, 0], holdout, metrics=["accuracy"], model="v4")
    with pytest.raises(EvaluationError, match="returned a mapping"):
        evaluate(lambda X: {"a": 1}, holdout, metrics=["accuracy"])
    with pytest.raises(EvaluationError, match="NaN"):
        evaluate(lambda X: np.full(len(X), np.nan), holdout, metrics=["accuracy"])
    with pytest.raises(EvaluationError, match="batch_size"):
        evaluate(lambda X: X, holdout, metrics=["accuracy"], batch_size=0)


# ---- real pyfunc models in a sqlite MLflow store ---------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A sqlite store with registered sklearn models (one with predict_proba) and a dataset."""
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient

    base = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{base / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment(
        "evaluation", artifact_location=(base / "artifacts").as_uri()
    )
    train = _blobs(seed=1, rows=2_000)
    X, y = train[["x1", "x2"]], train["label"]
    model = LogisticRegression().fit(X, y)

    class Broken(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        # Unannotated on purpose: MLflow reads type hints here as an input schema.
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            raise ValueError("this version cannot predict")

    # Explicit requirements: inferring them loads each model in a subprocess (~10 s apiece).
    reqs = {"pip_requirements": ["scikit-learn"]}
    saved = {
        "proba": lambda p: mlflow.sklearn.save_model(
            model, p, pyfunc_predict_fn="predict_proba", input_example=X.iloc[:3],
            signature=infer_signature(X, model.predict_proba(X)), **reqs,
        ),
        "labels": lambda p: mlflow.sklearn.save_model(model, p, **reqs),  # no example, no signature
        "broken": lambda p: mlflow.pyfunc.save_model(
            p, python_model=Broken(), input_example=X.iloc[:3],
            signature=infer_signature(X, y), **reqs,
        ),
    }  # fmt: skip
    holdout_run = client.create_run(experiment)
    _blobs().to_csv(base / "holdout.csv", index=False)
    client.log_artifact(holdout_run.info.run_id, str(base / "holdout.csv"))
    for name, save in saved.items():
        path = base / "saved" / name
        save(str(path))
        run = client.create_run(experiment)
        client.log_artifacts(run.info.run_id, str(path), "model")
        client.create_registered_model(name)
        client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    return {"uri": uri, "model": model, "base": base, "holdout_run": holdout_run.info.run_id}


def test_pyfunc_model_from_the_registry_scores_like_the_sklearn_model(
    store: dict[str, Any], holdout: Holdout
) -> None:
    from registry_ops.registry.pyfunc import load_pyfunc, predictor

    loaded = load_pyfunc("models:/proba/1", tracking_uri=store["uri"])
    result = evaluate(predictor(loaded), holdout, metrics=["accuracy", "f1", "roc_auc"])
    direct = evaluate(store["model"].predict_proba, holdout, metrics=["accuracy", "f1", "roc_auc"])
    for name in ("accuracy", "f1", "roc_auc"):
        assert result.metrics[name] == pytest.approx(direct.metrics[name])
    labels = load_pyfunc("models:/labels/1", tracking_uri=store["uri"])
    assert evaluate(predictor(labels), holdout, metrics=["accuracy"]).metrics[
        "accuracy"
    ] == pytest.approx(direct.metrics["accuracy"])
    # a local model directory needs no tracking URI
    local = load_pyfunc(str(store["base"] / "saved" / "proba"))
    assert evaluate(predictor(local), holdout, metrics=["roc_auc"]).metrics["roc_auc"] == (
        pytest.approx(direct.metrics["roc_auc"])
    )


def test_signature_of(store: dict[str, Any]) -> None:
    from registry_ops.registry.pyfunc import signature_of

    signature = signature_of("models:/proba/1", tracking_uri=store["uri"])
    assert signature is not None
    assert [c["name"] for c in signature["inputs"]] == ["x1", "x2"]
    assert signature["outputs"][0]["type"] == "tensor"
    assert signature_of("models:/labels/1", tracking_uri=store["uri"]) is None
    local = signature_of(str(store["base"] / "saved" / "proba"))
    assert local == signature


def test_dataset_from_a_run_artifact(store: dict[str, Any], tmp_path: Path, root: Path) -> None:
    from registry_ops.registry.artifacts import download_artifact

    download = functools.partial(download_artifact, dst_dir=tmp_path, tracking_uri=store["uri"])
    holdout = load_holdout(
        f"runs:/{store['holdout_run']}/holdout.csv", root=root, targets="label", download=download
    )
    assert holdout.rows == ROWS and holdout.digest == file_digest(root / "data" / "holdout.csv")
    with pytest.raises(DatasetError, match="could not be downloaded: cannot download runs:/"):
        load_holdout(
            f"runs:/{store['holdout_run']}/nope.csv", root=root, targets="label", download=download
        )
