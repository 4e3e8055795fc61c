"""The quickstart's shipped example: its holdout set, its policies, and (opt-in) a whole run.

The end-to-end test trains and registers the quickstart's four versions and
plans and applies the repository's own ``manifests/`` and ``policies/``
against them: ~30-60 s, so it runs only with ``REGISTRY_OPS_SLOW_TESTS=1``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
HOLDOUT = REPO / "data" / "spirals-holdout.csv"

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="the quickstart's models need torch"
)


@needs_torch
def test_committed_holdout_is_what_the_quickstart_code_generates() -> None:
    """Byte for byte: the registry caches scores under the file's hash, so it must not drift."""
    from registry_ops.quickstart.holdout import DEFAULT_PATH, HOLDOUT_ROWS, holdout_csv

    assert REPO / DEFAULT_PATH == HOLDOUT
    assert HOLDOUT.read_bytes() == holdout_csv().encode("utf-8"), (
        "data/spirals-holdout.csv differs from what `python -m registry_ops.quickstart.holdout` "
        "writes; regenerate it (and expect every cached evaluation to be recomputed)"
    )
    lines = HOLDOUT.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "x1,x2,label" and len(lines) == HOLDOUT_ROWS + 1
    labels = [line.rsplit(",", 1)[1] for line in lines[1:]]
    assert labels.count("0") == labels.count("1") == HOLDOUT_ROWS // 2


@needs_torch
def test_holdout_is_not_the_training_data() -> None:
    from registry_ops.quickstart import __main__ as quickstart
    from registry_ops.quickstart.holdout import HOLDOUT_SEED, holdout_frame

    assert HOLDOUT_SEED != quickstart.DATA_SEED
    frame = holdout_frame()
    train = holdout_frame(quickstart.N_TRAIN + quickstart.N_VAL, seed=quickstart.DATA_SEED)
    seen = set(zip(train["x1"], train["x2"], strict=True))
    assert not any((x1, x2) in seen for x1, x2 in zip(frame["x1"], frame["x2"], strict=True))


def test_shipped_policies_evaluate_on_the_committed_holdout() -> None:
    """Every promotion the quickstart manifests gate is scored live, and its model checked."""
    for name in ("production", "staging"):
        policy = yaml.safe_load((REPO / "policies" / f"{name}.yaml").read_text())
        kinds = {next(iter(gate)) for gate in policy["gates"]}
        assert {"evaluate", "signature"} <= kinds, name
        [live] = [gate["evaluate"] for gate in policy["gates"] if "evaluate" in gate]
        assert live["dataset"] == "data/spirals-holdout.csv" and live["targets"] == "label"
        assert "accuracy" in live["metrics"] and live["latency_p95_ms"] > 0
    production = yaml.safe_load((REPO / "policies" / "production.yaml").read_text())
    assert {"metric": "val_accuracy", "baseline": "current", "min_absolute_change": 0} in (
        production["gates"]
    )
    assert {"loadable": True} in production["gates"]


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )


@needs_torch
@pytest.mark.skipif(
    not os.environ.get("REGISTRY_OPS_SLOW_TESTS"),
    reason="trains and registers the quickstart's models (~30-60 s); "
    "set REGISTRY_OPS_SLOW_TESTS=1 to run it",
)
def test_quickstart_end_to_end(tmp_path: Path, cli: Callable[..., Any]) -> None:
    """The shipped manifests and policies against freshly trained quickstart versions.

    Live evaluation passes the classifier's promotions and blocks the
    under-trained model; after apply, the plan holds only that blocked model,
    and its evaluation comes from the registry's cache.
    """
    repo = tmp_path / "repo"
    for part in ("manifests", "policies", "data"):
        shutil.copytree(REPO / part, repo / part)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, MLFLOW_DISABLE_TELEMETRY="true")
    seeded = _run(
        "-m", "registry_ops.quickstart", "--artifacts", str(tmp_path / "a"), env=env, cwd=repo
    )
    assert seeded.returncode == 0, seeded.stderr
    assert "seeded 4 model versions" in seeded.stdout

    def plan() -> dict[str, Any]:
        result = cli("--tracking-uri", uri, "-C", str(repo), "plan", "--format", "json")
        assert result.code == 0, result.err
        return {m["model"]: m for m in json.loads(result.out)["models"]}

    def live(change: dict[str, Any]) -> list[dict[str, Any]]:
        return [g for g in change["gates"] if "spirals-holdout.csv" in g["name"]]

    before = plan()
    classifier = [c for c in before["spirals-classifier"]["changes"] if c.get("gates")]
    assert len(classifier) == 4  # champion, Production, challenger, Staging
    for change in classifier:
        assert change["blocked"] is False, change
        assert len(live(change)) == 2 and all(g["passed"] for g in live(change))
    [experimental] = [c for c in before["spirals-experimental"]["changes"] if c.get("gates")]
    assert experimental["blocked"] is True
    failed = [g for g in live(experimental) if not g["passed"]]
    assert [g["name"] for g in failed] == ["accuracy >= 0.8 on data/spirals-holdout.csv"]
    assert failed[0]["observed"] < 0.8 and failed[0]["evidence"]["rows"] == 500

    applied = cli("--tracking-uri", uri, "-C", str(repo), "apply", "--yes")
    assert applied.code == 3, applied.err  # the blocked model stays as it was

    after = plan()
    assert [name for name, model in after.items() if model["changes"]] == ["spirals-experimental"]
    [again] = [c for c in after["spirals-experimental"]["changes"] if c.get("gates")]
    assert again["blocked"] is True
    assert all(g["evidence"]["cached"] for g in live(again))
