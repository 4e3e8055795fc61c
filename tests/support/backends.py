"""The MLflow backends registry tests run on, and the ``backend`` fixture's handle.

The ``backend`` fixture (defined in tests/conftest.py) runs a test once per backend:

==================  ======================================================  =====================
id                  tracking URI                                            marks
==================  ======================================================  =====================
``sqlite``          ``sqlite:///`` a fresh file per test (a migrated copy)  (none)
``http-sqlite``     a session-wide ``mlflow server`` on a sqlite file       ``http``
``http-postgres``   a session-wide ``mlflow server`` on PostgreSQL 15       ``http``, ``postgres``
==================  ======================================================  =====================

Usage::

    def test_something(cli, backend, workspace):
        clf = backend.name("clf")                    # unique per test: servers are shared
        backend.seeder.version(clf, val_accuracy=0.9)
        workspace.manifest(clf, "aliases: {champion: 1}\\n")
        assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
        assert backend.aliases(clf) == {"champion": 1}   # ints on every backend
        assert backend.stage(clf, 1) == "None"
        backend.client.set_registered_model_alias(clf, "champion", "1")  # a real MlflowClient

Rules for tests that use it:

- Name every registered model with ``backend.name(base)``: the two servers live for
  the whole session, so literal names collide with other tests (and with the
  same test on another run of the server). The same ``base`` gives the same name
  within a test; the name keeps ``base`` as its prefix.
- Do not assume the registry holds only your models: on ``backend.shared``
  backends it holds every earlier test's. Whole-registry reads (``status``,
  ``export`` without names) must be checked for your models only.
- MLflow returns alias versions as ``int`` on a sqlite store and ``str`` over HTTP,
  and model versions likewise: compare through ``backend.aliases`` / ``int(...)``.
- To run on some backends only, decorate with ``only("sqlite")`` (or any ids):
  it re-parametrizes the fixture and keeps each id's marks.
- Subprocesses (e.g. two concurrent ``registry-ops apply``) reach the servers the
  same way: pass ``backend.uri``; the environment of the test process (telemetry
  off, fast-failing HTTP retries) is inherited. Concurrent writers are where the
  backends differ: a sqlite-backed server can answer a raw ``IntegrityError`` where
  PostgreSQL does not (UNIQUE constraint on aliases), so run races on all three.

Other fixtures (tests/conftest.py): ``mlflow_server_uri`` and ``postgres_server_uri``
are the two servers' URIs, ``postgres_cluster`` the PostgreSQL cluster behind the
latter (``.host``, ``.port``, ``.uri(db)``), ``servers`` the ``Servers`` below. The
servers start in the background when the session begins, only if a selected test
needs them, and stop when it ends; nothing else may stop them.

``-m "not http"`` runs the sqlite store only; ``-m "not postgres"`` skips PostgreSQL.
The PostgreSQL backend is skipped, with the reason, only when PostgreSQL's server
programs are not installed (see tests/support/postgres.py), and never when
``REGISTRY_OPS_REQUIRE_POSTGRES=1`` (set by .ci/run): then their absence fails.
A cluster or server that is installed but does not start fails the tests loudly.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from tests.support.postgres import PostgresCluster
    from tests.support.seed import Seeder

SQLITE = "sqlite"
HTTP_SQLITE = "http-sqlite"
HTTP_POSTGRES = "http-postgres"

#: The fixture's parameters, in the order tests run them, with their marks.
PARAMS: dict[str, Any] = {
    SQLITE: pytest.param(SQLITE, id=SQLITE),
    HTTP_SQLITE: pytest.param(HTTP_SQLITE, id=HTTP_SQLITE, marks=pytest.mark.http),
    HTTP_POSTGRES: pytest.param(
        HTTP_POSTGRES, id=HTTP_POSTGRES, marks=[pytest.mark.http, pytest.mark.postgres]
    ),
}
ALL = tuple(PARAMS)


def only(*ids: str) -> pytest.MarkDecorator:
    """Run the decorated test on these backends only: ``@only("sqlite")``."""
    unknown = set(ids) - set(PARAMS)
    if unknown:
        raise ValueError(f"unknown backend(s) {sorted(unknown)}; known: {list(PARAMS)}")
    return pytest.mark.parametrize("backend", [PARAMS[i] for i in ids], indirect=True)


@dataclass
class Backend:
    """One MLflow registry a test talks to, and helpers that work on every kind."""

    id: str
    uri: str
    artifact_root: str
    #: True when the registry is shared by the whole session (the servers).
    shared: bool
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def http(self) -> bool:
        return self.uri.startswith("http")

    def name(self, base: str = "model") -> str:
        """A registered-model name unique to this test (the same for the same ``base``)."""
        return f"{base}-{self.token}"

    def args(self, root: Path | str, *rest: str) -> list[str]:
        """CLI arguments pointing at this backend: ``cli(*backend.args(root, "plan"))``."""
        return ["--tracking-uri", self.uri, "-C", str(root), *rest]

    @cached_property
    def client(self) -> MlflowClient:
        from mlflow.tracking import MlflowClient

        return MlflowClient(self.uri)

    @cached_property
    def seeder(self) -> Seeder:
        from tests.support.seed import Seeder

        return Seeder(self.uri, self.artifact_root)

    def aliases(self, model: str) -> dict[str, int]:
        """The model's aliases with int versions, whatever type the store returns."""
        return {a: int(v) for a, v in self.client.get_registered_model(model).aliases.items()}

    def stage(self, model: str, version: int | str) -> str:
        return str(self.client.get_model_version(model, str(version)).current_stage)

    def stages(self, model: str, versions: Sequence[int]) -> dict[int, str]:
        return {v: self.stage(model, v) for v in versions}


class Servers:
    """The session's ``mlflow server``s, booted in background threads, stopped together.

    Booting one takes seconds (mostly imports); the fixtures boot every server the
    session's tests need as the session starts, so they come up side by side while
    the first tests run. A server that fails to start raises in every test that
    asks for it.
    """

    def __init__(self, workdir: Path, fast_dir: Path) -> None:
        self.workdir = workdir
        self.fast_dir = fast_dir
        self.postgres: PostgresCluster | None = None
        self._pool = ThreadPoolExecutor(max_workers=len(PARAMS), thread_name_prefix="server")
        self._boots: dict[str, Future[tuple[ExitStack, str]]] = {}

    def boot(self, *ids: str) -> None:
        """Start these servers (``http-sqlite``, ``http-postgres``) unless already started."""
        for backend_id in ids:
            if backend_id not in self._boots:
                self._boots[backend_id] = self._pool.submit(self._start, backend_id)

    def uri(self, backend_id: str) -> str:
        """The server's http:// URI, once it is healthy (booting it if need be)."""
        self.boot(backend_id)
        return self._boots[backend_id].result()[1]

    def _start(self, backend_id: str) -> tuple[ExitStack, str]:
        from tests.support.mlflow_server import mlflow_server
        from tests.support.postgres import PostgresError, find_bindir, postgres_cluster

        with ExitStack() as stack:
            if backend_id == HTTP_SQLITE:
                store = f"sqlite:///{self.fast_dir / 'server.db'}"
                uri = stack.enter_context(mlflow_server(self.workdir / "sqlite-server", store))
            elif backend_id == HTTP_POSTGRES:
                bindir = find_bindir()
                if bindir is None:
                    raise PostgresError("PostgreSQL's server programs are not installed")
                self.postgres = stack.enter_context(postgres_cluster(bindir))
                store = self.postgres.createdb("mlflow")
                uri = stack.enter_context(mlflow_server(self.workdir / "pg-server", store))
            else:
                raise ValueError(f"no server for backend {backend_id!r}")
            return stack.pop_all(), uri

    def close(self) -> None:
        """Stop every server (in parallel), waiting for any still booting."""
        stacks = []
        for boot in self._boots.values():
            try:
                stacks.append(boot.result()[0])
            except Exception:
                continue  # it failed to start (and said so to its tests): nothing to stop
        stops = [self._pool.submit(stack.close) for stack in stacks]
        errors = [stop.exception() for stop in stops]
        self._pool.shutdown()
        for error in errors:
            if error is not None:
                raise error


def wanted_servers(items: Sequence[pytest.Item]) -> set[str]:
    """The server backends that these collected tests will ask for."""
    wanted: set[str] = set()
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") in (HTTP_SQLITE, HTTP_POSTGRES):
            wanted.add(callspec.params["backend"])
        names = getattr(item, "fixturenames", ())
        if "mlflow_server_uri" in names:
            wanted.add(HTTP_SQLITE)
        if "postgres_server_uri" in names or "postgres_cluster" in names:
            wanted.add(HTTP_POSTGRES)
    return wanted
