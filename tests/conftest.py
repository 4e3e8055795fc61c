"""Fixtures: real MLflow stores (sqlite, and a local server), temp repositories, the CLI."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
# Fail fast if a test ever points at a dead server.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    """What one CLI run produced."""

    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "NO_COLOR", "GITHUB_ACTOR"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def tracking_uri(tmp_path: Path) -> str:
    """An embedded sqlite MLflow store, new for each test."""
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture
def seeder(tracking_uri: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    from tests.support.seed import Seeder

    return Seeder(tracking_uri, (tmp_path / "artifacts").as_uri())


class Workspace:
    """A directory with manifests/ and policies/, as a team's repository has."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "manifests").mkdir(parents=True)
        (root / "policies").mkdir()

    def write(self, relpath: str, text: str) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    def manifest(self, model: str, body: str = "", name: str | None = None) -> Path:
        head = f"apiVersion: registry-ops/v1\nkind: ModelManifest\nmodel: {model}\n"
        return self.write(f"manifests/{name or 'm'}.yaml", head + textwrap.dedent(body))

    def policy(self, name: str, gates: str) -> Path:
        head = f"apiVersion: registry-ops/v1\nkind: GatePolicy\nname: {name}\ngates:\n"
        return self.write(f"policies/{name}.yaml", head + textwrap.dedent(gates))


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "repo")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run the real entry point in-process: ``cli("plan", "--format", "json")``."""
    from registry_ops.cli import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
        captured = capsys.readouterr()
        code = exit_info.value.code
        return Result(code if isinstance(code, int) else 1, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def mlflow_server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``mlflow server`` on 127.0.0.1, shared by the HTTP tests."""
    from tests.support.mlflow_server import mlflow_server

    with mlflow_server(tmp_path_factory.mktemp("server")) as uri:
        yield uri
