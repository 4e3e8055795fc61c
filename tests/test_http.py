"""Against a real ``mlflow server`` on 127.0.0.1: the HTTP path, failures, redaction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from mlflow.tracking import MlflowClient

from tests.support.mlflow_server import free_port
from tests.support.seed import Seeder

pytestmark = pytest.mark.http


@pytest.fixture
def model_name() -> str:
    """A fresh model per test: the server is shared by the session."""
    return f"http-model-{uuid.uuid4().hex[:8]}"


def test_plan_apply_converge_over_http(cli, workspace, mlflow_server_uri, model_name, tmp_path):  # type: ignore[no-untyped-def]
    seeder = Seeder(mlflow_server_uri, (tmp_path / "artifacts").as_uri())
    for accuracy in (0.6, 0.95, 0.97):
        seeder.version(model_name, val_accuracy=accuracy)
    workspace.policy("production", "  - metric: val_accuracy\n    min: 0.9\n")
    workspace.manifest(
        model_name,
        """\
        aliases: {champion: 3, challenger: 2}
        stages: {Production: 3, Staging: 2}
        gates: {champion: production, Production: production}
        retention: {archive_unlisted: true}
        """,
    )
    base = ["--tracking-uri", mlflow_server_uri, "-C", str(workspace.root)]
    plan = cli(*base, "plan", "--format", "json", "--detailed-exitcode")
    assert plan.code == 2, plan.err
    data = json.loads(plan.out)
    champion = next(c for c in data["models"][0]["changes"] if c.get("alias") == "champion")
    assert champion["gates"][0]["observed"] == pytest.approx(0.97)

    assert cli(*base, "apply", "--yes").code == 0
    client = MlflowClient(mlflow_server_uri)
    model = client.get_registered_model(model_name)
    assert {k: int(v) for k, v in model.aliases.items()} == {"champion": 3, "challenger": 2}
    assert client.get_model_version(model_name, "1").current_stage == "Archived"
    assert client.get_model_version(model_name, "3").current_stage == "Production"
    assert cli(*base, "plan", "--detailed-exitcode").code == 0

    # Drift over HTTP, repaired by apply.
    client.set_registered_model_alias(model_name, "champion", "2")
    assert cli(*base, "plan", "--detailed-exitcode").code == 2
    assert cli(*base, "apply", "--yes").code == 0
    assert int(client.get_registered_model(model_name).aliases["champion"]) == 3


def test_stale_saved_plan_over_http(cli, workspace, mlflow_server_uri, model_name, tmp_path):  # type: ignore[no-untyped-def]
    seeder = Seeder(mlflow_server_uri, (tmp_path / "artifacts").as_uri())
    seeder.version(model_name, val_accuracy=0.9)
    seeder.version(model_name, val_accuracy=0.9)
    workspace.manifest(model_name, "aliases: {champion: 2}\n")
    base = ["--tracking-uri", mlflow_server_uri, "-C", str(workspace.root)]
    saved = tmp_path / "plan.json"
    assert cli(*base, "plan", "--out", str(saved)).code == 0
    MlflowClient(mlflow_server_uri).set_registered_model_alias(model_name, "champion", "1")
    assert cli(*base, "apply", "--yes", str(saved)).code == 4


def test_unreachable_server_fails_fast_without_leaking_the_password(workspace):  # type: ignore[no-untyped-def]
    workspace.manifest("m", "aliases: {champion: 1}\n")
    port = free_port()  # nothing listens there
    uri = f"http://alice:s3cret-pw@127.0.0.1:{port}"
    env = dict(
        os.environ,
        MLFLOW_DISABLE_TELEMETRY="true",
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="1",
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR="1",
        MLFLOW_HTTP_REQUEST_TIMEOUT="2",
    )
    for command in (["plan"], ["plan", "--format", "json"], ["apply", "--yes"], ["status"]):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "registry_ops",
                "--tracking-uri",
                uri,
                "-C",
                str(workspace.root),
                *command,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 1, (command, proc.stderr)
        assert "s3cret-pw" not in proc.stdout + proc.stderr
        assert "alice:***@" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_plan_json_redacts_credentials_in_uri(
    cli, workspace, mlflow_server_uri, model_name, tmp_path
):  # type: ignore[no-untyped-def]
    seeder = Seeder(mlflow_server_uri, (tmp_path / "artifacts").as_uri())
    seeder.version(model_name, val_accuracy=0.9)
    workspace.manifest(model_name, "aliases: {champion: 1}\n")
    # The test server has no auth: the credentials are ignored but must never be echoed.
    uri = mlflow_server_uri.replace("http://", "http://bob:hunter2@")
    result = cli("--tracking-uri", uri, "-C", str(workspace.root), "plan", "--format", "json")
    assert result.code == 0, result.err
    assert "hunter2" not in result.out + result.err
    assert json.loads(result.out)["tracking_uri"].startswith("http://bob:***@")


def test_whole_registry_read_over_http(cli, mlflow_server_uri, model_name, tmp_path):  # type: ignore[no-untyped-def]
    """status and export without names read every model (the parallel paged searches)."""
    seeder = Seeder(mlflow_server_uri, (tmp_path / "artifacts").as_uri())
    seeder.version(model_name, val_accuracy=0.75)
    MlflowClient(mlflow_server_uri).set_registered_model_alias(model_name, "champion", "1")
    base = ["--tracking-uri", mlflow_server_uri, "-C", str(tmp_path / "adopt")]
    status = cli(*base, "status", "--format", "json")
    assert status.code == 0, status.err
    rows = {row["model"]: row for row in json.loads(status.out)["models"]}
    assert rows[model_name]["holders"] == [
        {"target": "alias champion", "version": 1, "metrics": {"val_accuracy": 0.75}}
    ]
    assert cli(*base, "export").code == 0
    assert cli(*base, "plan", "--detailed-exitcode").code == 0
