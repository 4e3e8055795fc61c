"""``registry_ops.load_model``: real pyfunc models in a real sqlite MLflow store."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import registry_ops
from registry_ops import ModelLoadError
from registry_ops.core.state import ObservedModel, ObservedVersion
from registry_ops.errors import RegistryOpsError
from registry_ops.registry.failures import cause
from registry_ops.registry.loading import (
    AmbiguousTarget,
    Loaded,
    TargetNotResolved,
    load_model,
    resolve,
)

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = pd.DataFrame({"x": [1.0, 2.0, 3.0]})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A sqlite store with model ``const``: v1 predicts 1.0, v2 predicts 2.0, nothing held yet.

    Each version is a ``PythonModel`` saved with an input example, logged as
    its run's ``model`` artifact and registered from it.
    """
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    from mlflow.tracking import MlflowClient

    base = tmp_path_factory.mktemp("api")
    uri = f"sqlite:///{base / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("api", artifact_location=(base / "artifacts").as_uri())
    for value in (1.0, 2.0):
        _register(client, experiment, "const", value, base)
    return {"uri": uri, "client": client}


def _register(client: Any, experiment: str, model: str, value: float, base: Path) -> int:
    """Log a PythonModel predicting ``value`` (with an input example) and register it."""
    import mlflow.pyfunc

    class Constant(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        def __init__(self, value: float) -> None:
            self.value = value

        # Unannotated on purpose: MLflow would read type hints as an input schema.
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return [self.value] * len(model_input)

    path = base / f"saved-{model}-{value}"
    with warnings.catch_warnings():  # "add type hints": unannotated on purpose, see above
        warnings.simplefilter("ignore", UserWarning)
        # Explicit requirements: inferring them would load the model in a subprocess.
        mlflow.pyfunc.save_model(
            str(path), python_model=Constant(value), input_example=EXAMPLE, pip_requirements=[]
        )
    run = client.create_run(experiment)
    client.log_artifacts(run.info.run_id, str(path), "model")
    client.set_terminated(run.info.run_id)
    if not client.search_registered_models(filter_string=f"name = '{model}'"):
        client.create_registered_model(model)
    mv = client.create_model_version(model, f"runs:/{run.info.run_id}/model", run.info.run_id)
    return int(mv.version)


@pytest.fixture
def targets(store: dict[str, Any]) -> Any:
    """The store's client, with every alias and stage of ``const`` cleared after the test."""
    client = store["client"]
    yield client
    for alias in client.get_registered_model("const").aliases:
        client.delete_registered_model_alias("const", alias)
    for version in ("1", "2"):
        client.transition_model_version_stage("const", version, "None")


def test_champion_loads_and_predicts(store: dict[str, Any], targets: Any, caplog: Any) -> None:
    targets.set_registered_model_alias("const", "champion", "2")
    targets.set_registered_model_alias("const", "challenger", "1")
    with caplog.at_level(logging.INFO, logger="registry_ops"):
        loaded = load_model("const", tracking_uri=store["uri"])
    assert isinstance(loaded, Loaded)
    assert (loaded.name, loaded.target, loaded.version) == ("const", "champion", 2)
    assert loaded.uri == "models:/const/2"
    assert list(loaded.model.predict(EXAMPLE)) == [2.0, 2.0, 2.0]
    assert [r.getMessage() for r in caplog.records if r.name == "registry_ops"] == [
        "const: using 'champion' -> v2"
    ]


def test_falls_back_to_challenger_when_champion_is_missing(
    store: dict[str, Any], targets: Any, caplog: Any
) -> None:
    targets.set_registered_model_alias("const", "challenger", "1")
    with caplog.at_level(logging.INFO, logger="registry_ops"):
        loaded = load_model("const", tracking_uri=store["uri"])
    assert (loaded.target, loaded.version) == ("challenger", 1)
    assert list(loaded.model.predict(EXAMPLE)) == [1.0, 1.0, 1.0]
    (message,) = [r.getMessage() for r in caplog.records if r.name == "registry_ops"]
    assert message == "const: using 'challenger' -> v1; skipped 'champion' (no such alias)"


def test_falls_back_to_a_stage(store: dict[str, Any], targets: Any, caplog: Any) -> None:
    targets.transition_model_version_stage("const", "1", "Staging")
    with caplog.at_level(logging.INFO, logger="registry_ops"):
        loaded = load_model("const", tracking_uri=store["uri"])
    assert (loaded.target, loaded.version) == ("Staging", 1)
    assert list(loaded.model.predict(EXAMPLE)) == [1.0, 1.0, 1.0]
    assert "skipped 'champion' (no such alias); 'challenger' (no such alias)" in caplog.text
    # a stage as the first target, in any case: its newest holder
    targets.transition_model_version_stage("const", "2", "Staging")
    staged = load_model("const", "staging", fallback=(), tracking_uri=store["uri"])
    assert (staged.target, staged.version) == ("staging", 2)
    assert list(staged.model.predict(EXAMPLE)) == [2.0, 2.0, 2.0]


def test_nothing_resolves(store: dict[str, Any], targets: Any) -> None:
    targets.set_registered_model_alias("const", "canary", "1")  # not in the chain
    with pytest.raises(TargetNotResolved) as info:
        load_model("const", fallback=("challenger", "Staging", "Production"),
                   tracking_uri=store["uri"])  # fmt: skip
    error = info.value
    assert isinstance(error, RegistryOpsError) and error.exit_code == 1
    assert error.tried == [
        ("champion", "no such alias"),
        ("challenger", "no such alias"),
        ("Staging", "no version in stage Staging"),
        ("Production", "no version in stage Production"),
    ]
    assert str(error).startswith("no target of model 'const' resolved at sqlite:///")
    assert "'champion': no such alias; 'challenger': no such alias; 'Staging': no version" in (
        str(error)
    )
    with pytest.raises(TargetNotResolved, match="model 'nope' is not registered at sqlite:///"):
        load_model("nope", tracking_uri=store["uri"])


def test_a_single_string_fallback_is_one_target(store: dict[str, Any], targets: Any) -> None:
    targets.set_registered_model_alias("const", "fallback-1", "1")
    loaded = load_model("const", "champion", "fallback-1", tracking_uri=store["uri"])
    assert (loaded.target, loaded.version) == ("fallback-1", 1)
    with pytest.raises(ValueError, match="non-empty alias or stage name"):
        load_model("const", "", tracking_uri=store["uri"])


def test_process_state_is_left_as_it_was(store: dict[str, Any], targets: Any) -> None:
    targets.set_registered_model_alias("const", "champion", "1")
    keys = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT",
            "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")  # fmt: skip
    before = {k: os.environ.get(k) for k in keys}
    pool = logging.getLogger("urllib3.connectionpool")
    pool_before = (pool.propagate, list(pool.handlers))
    load_model("const", tracking_uri=store["uri"])
    assert {k: os.environ.get(k) for k in keys} == before
    assert (pool.propagate, list(pool.handlers)) == pool_before


def test_credentials_are_redacted(tmp_path: Path) -> None:
    with pytest.raises(RegistryOpsError) as info:
        load_model("const", tracking_uri="http://admin:hunter2@127.0.0.1:9")
    assert "hunter2" not in str(info.value) and "admin:***@127.0.0.1:9" in str(info.value)
    error = TargetNotResolved("m", [("champion", "no such alias")], "http://u:pw@host")
    assert "pw" not in str(error).replace("u:***", "")
    missing = f"sqlite:///{tmp_path / 'absent.db'}"
    with pytest.raises(RegistryOpsError, match="no MLflow database at"):
        load_model("const", tracking_uri=missing)


def test_resolve_skips_versions_that_are_not_ready() -> None:
    model = ObservedModel(
        name="m",
        aliases={"champion": 3, "challenger": 9},
        versions={
            1: ObservedVersion(1, stage="Staging"),
            2: ObservedVersion(2, stage="Staging"),
            3: ObservedVersion(3, status="FAILED_REGISTRATION"),
        },
    )
    found, skipped = resolve(model, ["champion", "challenger", "Staging"])
    assert found == ("Staging", 2)
    assert skipped == [
        ("champion", "v3 is not ready (FAILED_REGISTRATION)"),
        ("challenger", "points at v9, which does not exist"),
    ]
    assert resolve(None, ["champion"]) == (None, [])


def test_fallback_on_every_backend(backend: Any, tmp_path: Path) -> None:
    model = backend.name("const")
    for value in (1.0, 2.0):
        _register(backend.client, backend.seeder.experiment, model, value, tmp_path)
    backend.client.transition_model_version_stage(model, "1", "Production")
    backend.client.set_registered_model_alias(model, "challenger", "2")
    loaded = load_model(model, fallback=["Staging", "challenger", "Production"],
                        tracking_uri=backend.uri)  # fmt: skip
    assert (loaded.target, loaded.version) == ("challenger", 2)
    assert list(loaded.model.predict(EXAMPLE)) == [2.0, 2.0, 2.0]
    backend.client.delete_registered_model_alias(model, "challenger")
    production = load_model(model, "champion", ["challenger", "Production"],
                            tracking_uri=backend.uri)  # fmt: skip
    assert (production.target, production.version) == ("Production", 1)
    assert list(production.model.predict(EXAMPLE)) == [1.0, 1.0, 1.0]


def test_import_registry_ops_stays_free_of_mlflow() -> None:
    code = (
        "import sys, registry_ops\n"
        "assert 'mlflow' not in sys.modules\n"
        "assert callable(registry_ops.load_model)\n"
        "assert registry_ops.Loaded.__name__ == 'Loaded'\n"
        "from registry_ops import AmbiguousTarget, ModelLoadError, TargetNotResolved\n"
        "assert issubclass(ModelLoadError, registry_ops.RegistryOpsError)\n"
        "assert issubclass(AmbiguousTarget, TargetNotResolved)\n"
        "assert 'mlflow' not in sys.modules, 'the API must import mlflow only when it loads'\n"
        "try:\n    registry_ops.nothing\nexcept AttributeError:\n    pass\n"
        "else:\n    raise SystemExit('no AttributeError')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert registry_ops.load_model is load_model


def test_an_alias_named_like_a_stage_is_ambiguous(store: dict[str, Any]) -> None:
    """The measured case: Production held by v64, the alias @production on v65."""
    client, model = store["client"], "many-clf"
    experiment = client.get_experiment_by_name("api").experiment_id
    base = Path(store["uri"].removeprefix("sqlite:///")).parent
    first = client.get_model_version(model, _register(client, experiment, model, 0.0, base))
    for _ in range(2, 64):  # v2..v63: more of the same files, registered again
        client.create_model_version(model, first.source, first.run_id)
    assert _register(client, experiment, model, 64.0, base) == 64
    assert _register(client, experiment, model, 65.0, base) == 65
    client.transition_model_version_stage(model, "64", "Production")
    client.set_registered_model_alias(model, "production", "65")

    for spelled in ("production", "Production", "PRODUCTION"):
        with pytest.raises(AmbiguousTarget) as info:
            load_model(model, spelled, fallback=(), tracking_uri=store["uri"])
        error = info.value
        assert isinstance(error, TargetNotResolved) and error.exit_code == 1
        assert "names the alias @production (v65)" in str(error)
        assert "the stage Production (v64)" in str(error)
        assert "'@production' for the alias or 'stage:Production' for the stage" in str(error)
    # reached as a fallback it is just as ambiguous: nothing is chosen silently
    with pytest.raises(AmbiguousTarget):
        load_model(model, "champion", ["production"], tracking_uri=store["uri"])

    alias = load_model(model, "@production", fallback=(), tracking_uri=store["uri"])
    assert (alias.target, alias.version, alias.uri) == ("@production", 65, f"models:/{model}/65")
    assert list(alias.model.predict(EXAMPLE)) == [65.0] * 3
    stage = load_model(model, "stage:production", fallback=(), tracking_uri=store["uri"])
    assert (stage.target, stage.version) == ("stage:production", 64)
    assert list(stage.model.predict(EXAMPLE)) == [64.0] * 3
    spelled = load_model(model, "alias:production", fallback=(), tracking_uri=store["uri"])
    assert spelled.version == 65


def test_targets_resolve_as_mlflow_resolves_them() -> None:
    model = ObservedModel(
        name="m",
        aliases={"archived": 1, "Staging": 2, "champion": 3},
        versions={
            1: ObservedVersion(1, stage="Archived"),
            2: ObservedVersion(2, stage="Archived"),
            3: ObservedVersion(3, stage="Staging"),
            4: ObservedVersion(4),
        },
    )
    # MLflow's four stages, in any case: None and Archived are stages too
    assert resolve(model, ["stage:ARCHIVED"])[0] == ("stage:ARCHIVED", 2)
    assert resolve(model, ["none"])[0] == ("none", 4)
    assert resolve(model, ["@archived"])[0] == ("@archived", 1)
    assert resolve(model, ["champion"])[0] == ("champion", 3)
    # an alias spelled like a stage in another case is still the same word to a reader
    with pytest.raises(AmbiguousTarget, match="alias @Staging \\(v2\\).*stage Staging \\(v3\\)"):
        resolve(model, ["staging"])
    with pytest.raises(AmbiguousTarget, match="stage Archived \\(v2\\)"):
        resolve(model, ["Archived"])
    with pytest.raises(ValueError, match="names no stage"):
        load_model("m", "stage:Canary")
    with pytest.raises(ValueError, match="non-empty alias or stage name"):
        load_model("m", "@")


def test_an_alias_named_like_a_stage_on_every_backend(backend: Any, tmp_path: Path) -> None:
    model = backend.name("staged")
    for value in (1.0, 2.0):
        _register(backend.client, backend.seeder.experiment, model, value, tmp_path)
    backend.client.transition_model_version_stage(model, "1", "Production")
    backend.client.set_registered_model_alias(model, "production", "2")
    with pytest.raises(AmbiguousTarget, match="@production \\(v2\\).*Production \\(v1\\)"):
        load_model(model, "production", fallback=(), tracking_uri=backend.uri)
    alias = load_model(model, "@production", fallback=(), tracking_uri=backend.uri)
    assert (alias.version, list(alias.model.predict(EXAMPLE))) == (2, [2.0] * 3)
    stage = load_model(model, "stage:Production", fallback=(), tracking_uri=backend.uri)
    assert (stage.version, list(stage.model.predict(EXAMPLE))) == (1, [1.0] * 3)


def test_a_version_whose_files_are_gone_says_why(backend: Any, tmp_path: Path) -> None:
    """ModelLoadError keeps MLflow's reason, which comes after the first line of its message."""
    model = backend.name("gone")
    _register(backend.client, backend.seeder.experiment, model, 1.0, tmp_path)
    run = backend.client.get_run(backend.client.get_model_version(model, "1").run_id)
    files = f"{run.info.artifact_uri}/model"  # registered from where the files are, not runs:/
    backend.client.create_model_version(model, files, run.info.run_id)
    backend.client.set_registered_model_alias(model, "champion", "2")
    mlmodel = Path(files.removeprefix("file://")) / "MLmodel"
    mlmodel.unlink()
    os.mkfifo(mlmodel)  # listed, but it cannot be copied: MLflow says so per file
    with pytest.raises(ModelLoadError) as info:
        load_model(model, tracking_uri=backend.uri)
    message = str(info.value)
    assert isinstance(info.value, RegistryOpsError) and info.value.exit_code == 1
    assert message.startswith(f"cannot load models:/{model}/2: MlflowException: ")
    assert "failures occurred while downloading one or more artifacts from " in message, message
    assert message.endswith(f"MLmodel: `{mlmodel}` is a named pipe"), message
    assert "\n" not in message


def test_a_cause_keeps_the_reason_on_one_line_redacted() -> None:
    error = Exception(
        "The following failures occurred while downloading one or more artifacts from "
        "http://admin:hunter2@mlflow.example/api:\n"
        "##### File model/MLmodel #####\n"
        "API request to http://admin:hunter2@mlflow.example/x failed: 403 Forbidden\n"
        'Traceback:\n  File "a.py", line 1, in <module>\n    secret_frame()\n'
        "##### File model/model.pkl #####\nNo such artifact: 'model.pkl'"
    )
    text = cause(error)
    assert "hunter2" not in text and "\n" not in text and "secret_frame" not in text
    assert text.endswith(
        "api: model/MLmodel: API request to http://admin:***@mlflow.example/x failed: "
        "403 Forbidden model/model.pkl: No such artifact: 'model.pkl'"
    )
    assert len(cause(Exception("x" * 5000))) == 1000
