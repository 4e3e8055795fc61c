"""``env_manager``: the model child runs in an environment made from the model's requirements.

What is installed, and what is refused, needs no network. Making an environment installs
mlflow and the model's requirements from the package index (pip: minutes; uv: seconds to
a minute), so those tests run only with ``REGISTRY_OPS_SLOW_TESTS=1``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from registry_ops.registry.modelenv import _find_uv, interpreter_for, requirements_of
from registry_ops.registry.sandbox import ModelRunError
from tests.conftest import Result, Workspace
from tests.support import models

CLI = Callable[..., Result]


def model_dir(tmp_path: Path, requirements: str, python_env: str | None = None) -> Path:
    path = tmp_path / "model"
    path.mkdir()
    (path / "MLmodel").write_text("flavors: {}\n")
    (path / "requirements.txt").write_text(requirements)
    if python_env is not None:
        (path / "python_env.yaml").write_text(python_env)
    return path


def test_the_logged_requirements_are_what_is_installed(tmp_path: Path) -> None:
    path = model_dir(
        tmp_path,
        "# comment\nscikit-learn==1.5.0  # pinned\npandas\n",
        "python: 3.11.7\nbuild_dependencies:\n- pip==24.0\n- wheel\ndependencies:\n"
        "- -r requirements.txt\n",
    )
    python, build, reqs = requirements_of(path)
    assert python == "3.11.7" and build == ["pip==24.0", "wheel"]
    # the child loads through mlflow.pyfunc: the planning version when the model names none
    assert reqs == ["scikit-learn==1.5.0", "pandas", f"mlflow=={metadata.version('mlflow')}"]


@pytest.mark.parametrize(
    "line",
    ["-r /etc/passwd", "--index-url https://evil.example/simple", "-e .",
     "git+https://example.com/pkg.git", "./local-wheel.whl", "/abs/path"],
)  # fmt: skip
def test_pip_options_urls_and_paths_are_refused(tmp_path: Path, line: str) -> None:
    """They would make the installer read files or reach hosts the model chooses."""
    with pytest.raises(ModelRunError, match="requirements.txt line 2 is .*named requirements only"):
        requirements_of(model_dir(tmp_path, f"pandas\n{line}\n"))


def test_without_requirements_or_with_an_unknown_manager(tmp_path: Path) -> None:
    path = tmp_path / "bare"
    path.mkdir()
    with pytest.raises(ModelRunError, match="without a requirements.txt"):
        interpreter_for(path, "virtualenv")
    with pytest.raises(ModelRunError, match="env_manager must be one of local, virtualenv, uv"):
        interpreter_for(path, "conda")


EVALUATE = """\
    - evaluate:
        dataset: data/holdout.csv
        targets: label
        metrics: {{accuracy: {{min: 0.9}}}}
        env_manager: {manager}
"""


@pytest.mark.skipif(
    not os.environ.get("REGISTRY_OPS_SLOW_TESTS"),
    reason="installs mlflow from the package index into a new environment (uv ~15-60 s, "
    "pip ~2-4 min); set REGISTRY_OPS_SLOW_TESTS=1 to run it",
)
@pytest.mark.parametrize("manager", ["uv", "virtualenv"])
def test_an_environment_is_made_once_and_shared_by_equal_requirements(
    manager: str,
    cli: CLI,
    seeder: Any,
    workspace: Workspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if manager == "uv" and _find_uv() is None:
        pytest.skip("uv is not installed (pip install uv)")
    monkeypatch.setenv("REGISTRY_OPS_ENV_CACHE", str(tmp_path / "envs"))
    from mlflow.tracking import MlflowClient

    client = MlflowClient(seeder.uri)
    for _ in range(2):  # two versions logged with the same requirements
        models.register(client, seeder.experiment, "clf", "good", workdir=tmp_path)
    models.write_holdout(workspace.root)
    workspace.policy("p", EVALUATE.format(manager=manager))
    workspace.manifest("clf", "aliases: {a: 1, b: 2}\ngates: {a: p, b: p}\n")
    result = cli("--tracking-uri", seeder.uri, "-C", str(workspace.root), "plan",
                 "--format", "json")  # fmt: skip
    assert result.code == 0, result.err
    changes = json.loads(result.out)["models"][0]["changes"]
    gates = {c["alias"]: c["gates"][0] for c in changes}
    assert [gates[a]["passed"] for a in "ab"] == [True, True], gates
    assert all(gates[a]["evidence"]["env_manager"] == manager for a in "ab")
    made = [a for a in "ab" if "env_created_seconds" in gates[a]["evidence"]]
    assert made == ["a"]  # b's requirements are a's: the environment was reused
    [env] = [p for p in (tmp_path / "envs").iterdir() if (p / ".ready").is_file()]
    assert env.name.startswith(f"{manager}-")
    recipe = json.loads((env / "recipe.json").read_text())
    assert f"mlflow=={metadata.version('mlflow')}" in recipe["requirements"]


def test_a_gate_naming_no_env_manager_follows_where_the_plan_runs(
    cli: CLI, seeder: Any, workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``REGISTRY_OPS_ENV_MANAGER`` picks the manager of gates that name none (a CI runner
    without the models' stack sets it); a gate's own ``env_manager`` wins; a value that names
    no manager fails those gates instead of running the model here."""
    from mlflow.tracking import MlflowClient

    models.register(MlflowClient(seeder.uri), seeder.experiment, "clf", "good", workdir=tmp_path)
    models.write_holdout(workspace.root)
    unnamed = EVALUATE.replace("        env_manager: {manager}\n", "")
    workspace.policy("p", "    - loadable: true\n" + unnamed.format())
    workspace.policy("q", EVALUATE.format(manager="local"))
    workspace.manifest("clf", "aliases: {a: 1, b: 1}\ngates: {a: p, b: q}\n")
    monkeypatch.setenv("REGISTRY_OPS_ENV_MANAGER", "conda")
    result = cli("--tracking-uri", seeder.uri, "-C", str(workspace.root), "plan",
                 "--format", "json")  # fmt: skip
    assert result.code == 0, result.err
    plan = json.loads(result.out)
    assert plan["status"] == "blocked"
    gates = {c["alias"]: c["gates"] for c in plan["models"][0]["changes"]}
    assert [g["passed"] for g in gates["a"]] == [False, False]
    for gate in gates["a"]:
        assert "REGISTRY_OPS_ENV_MANAGER must be one of local, virtualenv, uv" in gate["detail"]
    assert [g["passed"] for g in gates["b"]] == [True]  # names local itself
