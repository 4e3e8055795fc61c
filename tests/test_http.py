"""HTTP-only checks: failures of the transport, credentials in URIs.

Plan, apply, drift, stale plans and adoption over HTTP (servers on sqlite and
on PostgreSQL) are in test_reconcile.py, which runs on every backend.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.backends import only
from tests.support.mlflow_server import free_port

pytestmark = pytest.mark.http


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


@only("http-sqlite")
def test_plan_json_redacts_credentials_in_uri(cli, workspace, backend):  # type: ignore[no-untyped-def]
    name = backend.name("redact")
    backend.seeder.version(name, val_accuracy=0.9)
    workspace.manifest(name, "aliases: {champion: 1}\n")
    # The test server has no auth: the credentials are ignored but must never be echoed.
    uri = backend.uri.replace("http://", "http://bob:hunter2@")
    for fmt in ("json", "text", "markdown"):
        result = cli("--tracking-uri", uri, "-C", str(workspace.root), "plan", "--format", fmt)
        assert result.code == 0, result.err
        assert "hunter2" not in result.out + result.err, fmt
    # The plan names the registry it was made for, without the credentials.
    result = cli("--tracking-uri", uri, "-C", str(workspace.root), "plan", "--format", "json")
    assert json.loads(result.out)["tracking_uri"] == backend.uri
