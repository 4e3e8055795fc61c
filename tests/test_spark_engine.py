"""The Spark engine scores the quickstart's torch model exactly as the in-process engine does.

Both engines run in the sandboxed model child: Spark in local mode (``local[2]``, no UI,
bound to 127.0.0.1) is started by the child, so its JVM and Python workers are the
child's processes. Each Spark scoring starts a JVM (~20-60 s), so the module runs only
with ``REGISTRY_OPS_SLOW_TESTS=1``; it is skipped, saying why, when pyspark or Java is
missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

_MISSING = (
    "pyspark is not installed (pip install 'registry-ops[spark]')"
    if importlib.util.find_spec("pyspark") is None
    else "Java is not installed (JAVA_HOME unset, no java on PATH)"
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None
    else None
)
pytestmark = [
    pytest.mark.skipif(_MISSING is not None, reason=f"Spark engine: {_MISSING}"),
    pytest.mark.skipif(
        not os.environ.get("REGISTRY_OPS_SLOW_TESTS"),
        reason="each Spark scoring starts a JVM in the model child (~20-60 s); "
        "set REGISTRY_OPS_SLOW_TESTS=1 to run it",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("torch") is None, reason="the quickstart model needs torch"
    ),
]

METRICS = ["accuracy", "f1", "precision", "recall", "roc_auc"]
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def spirals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small quickstart model registered in a sqlite store, and a spirals holdout CSV."""
    import mlflow.pytorch
    from mlflow.tracking import MlflowClient

    from registry_ops.quickstart.__main__ import model_logging_kwargs
    from registry_ops.quickstart.spirals import make_spirals, train

    base = tmp_path_factory.mktemp("spark")
    X, y = make_spirals(1_500, noise=0.05, seed=7)
    # Mid-sized and briefly trained: accurate enough to be a real model, imperfect
    # enough that every metric has something to disagree about.
    result = train(16, 1, 300, 0, X[:1_000], y[:1_000], X[1_000:], y[1_000:])
    saved = base / "saved"
    # Logged as the quickstart logs its versions: signature, input example, pinned torch.
    mlflow.pytorch.save_model(result.model, str(saved), **model_logging_kwargs(result.model, X[:5]))
    uri = f"sqlite:///{base / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("spark", artifact_location=(base / "a").as_uri())
    run = client.create_run(experiment)
    client.log_artifacts(run.info.run_id, str(saved), "model")
    client.create_registered_model("spirals-classifier")
    client.create_model_version(
        "spirals-classifier", f"runs:/{run.info.run_id}/model", run.info.run_id
    )
    root = base / "repo"
    root.mkdir()
    holdout_X, holdout_y = make_spirals(5_000, noise=0.05, seed=11)
    # float64 on disk, as any CSV reads back: both engines must cast to the float32 signature
    frame = pd.DataFrame(holdout_X.astype(np.float64), columns=["x", "y"])
    frame["label"] = holdout_y
    frame.to_csv(root / "holdout.csv", index=False)
    return {"uri": uri, "root": root, "model_uri": "models:/spirals-classifier/1"}


def _score(spirals: dict[str, Any], frame: pd.DataFrame, spark: bool) -> Any:
    """Predictions of the registered model for ``frame``, scored by the sandboxed child."""
    import sys

    from registry_ops.registry.artifacts import fetch_model
    from registry_ops.registry.isolated import score_rows
    from registry_ops.registry.sandbox import Limits, workdir

    with workdir() as work:
        path = fetch_model(spirals["model_uri"], work.model, tracking_uri=spirals["uri"],
                           registry_uri=spirals["uri"])  # fmt: skip
        return score_rows(
            work, path, frame, interpreter=sys.executable, limits=Limits(600, 4096),
            who="spirals", batch_size=256, spark_master="local[2]" if spark else None,
        )  # fmt: skip


def test_spark_metrics_equal_the_in_process_engine(spirals: dict[str, Any]) -> None:
    from registry_ops.gates.evaluation import evaluate_predictions, load_holdout

    holdout = load_holdout("holdout.csv", root=spirals["root"], targets="label")
    local, remote = (_score(spirals, holdout.X, spark) for spark in (False, True))
    assert local.timings and not remote.timings  # Spark reports no per-batch latency
    assert remote.predictions.shape == local.predictions.shape == (5_000, 2)
    np.testing.assert_allclose(remote.predictions, local.predictions, rtol=1e-5, atol=1e-6)
    scores = [
        evaluate_predictions(
            s.predictions,
            holdout,
            metrics=METRICS,
            engine=e,
            seconds=s.seconds,
            timings=s.timings or None,
        )  # fmt: skip
        for s, e in ((local, "in-process"), (remote, "spark"))
    ]
    assert 0.6 < scores[0].metrics["accuracy"] < 1.0
    for name in METRICS:
        # float32 logits; batch shapes differ between engines, so allow last-bit noise
        assert scores[1].metrics[name] == pytest.approx(scores[0].metrics[name], rel=1e-9), name
    assert "latency_p95_ms" in scores[0].metrics and "latency_p95_ms" not in scores[1].metrics


def test_an_unloadable_model_fails_on_spark_with_a_reason(tmp_path: Path) -> None:
    import sys

    from registry_ops.registry.isolated import score_rows
    from registry_ops.registry.sandbox import Limits, ModelRunError, workdir

    frame = pd.DataFrame({"x": [0.0], "y": [1.0]})
    with workdir() as work, pytest.raises(ModelRunError, match="broken failed to load"):
        score_rows(work, work.model, frame, interpreter=sys.executable, limits=Limits(600, 4096),
                   who="broken", batch_size=256, spark_master="local[2]")  # fmt: skip


# Every classifier metric, with bounds any real model passes: the test compares values.
ALL_METRICS = (
    "{accuracy: {min: 0.5}, f1: {min: 0}, precision: {min: 0}, recall: {min: 0}, roc_auc: {min: 0}}"  # noqa: E501
)


def test_cli_plan_with_the_spark_engine_equals_in_process(
    spirals: dict[str, Any], cli: Any, tmp_path: Path
) -> None:
    """``plan --format json`` with ``engine: spark`` next to the same gate in-process."""
    repo = tmp_path / "repo"
    (repo / "manifests").mkdir(parents=True)
    (repo / "policies").mkdir()
    (repo / "data").mkdir()
    # The holdout the shipped policies use, as committed.
    shutil.copyfile(REPO / "data" / "spirals-holdout.csv", repo / "data" / "spirals-holdout.csv")
    gate = (
        "  - evaluate:\n      dataset: data/spirals-holdout.csv\n      targets: label\n"
        f"      metrics: {ALL_METRICS}\n"
    )
    (repo / "policies" / "both.yaml").write_text(
        "apiVersion: registry-ops/v1\nkind: GatePolicy\nname: both\ngates:\n"
        + gate
        + gate
        + "      engine: spark\n"
    )
    (repo / "manifests" / "spirals.yaml").write_text(
        "apiVersion: registry-ops/v1\nkind: ModelManifest\nmodel: spirals-classifier\n"
        "aliases: {champion: 1}\ngates: {champion: both}\n"
    )

    def plan() -> dict[str, Any]:
        result = cli("--tracking-uri", spirals["uri"], "-C", str(repo), "plan", "--format", "json")
        assert result.code == 0, result.err
        [model] = json.loads(result.out)["models"]
        [change] = [c for c in model["changes"] if c.get("alias") == "champion"]
        assert change["blocked"] is False, change["gates"]
        return change

    def by_engine(change: dict[str, Any]) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for result in change["gates"]:
            if result["name"].startswith("latency"):
                continue
            metric = result["name"].split(" ", 1)[0]
            out.setdefault(result["evidence"]["engine"], {})[metric] = result["observed"]
        return out

    first = plan()
    scores = by_engine(first)
    assert set(scores) == {"spark", "in-process"}
    assert set(scores["spark"]) == set(scores["in-process"]) == set(METRICS)
    assert 0.6 < scores["in-process"]["accuracy"] < 1.0
    for name in METRICS:
        assert scores["spark"][name] == pytest.approx(scores["in-process"][name], rel=1e-9), name
    assert all(g["evidence"]["rows"] == 500 and not g["evidence"]["cached"] for g in first["gates"])

    assert all(
        g["evidence"]["sandbox"].startswith(("landlock", "environment")) for g in first["gates"]
    )
    # Both results are now cached on the version (tags keyed by engine): no second Spark job.
    again = plan()
    assert by_engine(again) == scores
    assert all(g["evidence"]["cached"] for g in again["gates"])
