"""The MLflow backends registry tests run on, and the ``backend`` fixture's handle.

The ``backend`` fixture (defined in tests/conftest.py) runs a test once per backend:

==================  =====================================================  =====================
id                  tracking URI                                           marks
==================  =====================================================  =====================
``sqlite``          ``sqlite:///<tmp>/mlflow.db``, a fresh store per test  (none)
``http-sqlite``     a session-wide ``mlflow server`` on a sqlite file      ``http``
``http-postgres``   a session-wide ``mlflow server`` on PostgreSQL 15      ``http``, ``postgres``
==================  =====================================================  =====================

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
  off, fast-failing HTTP retries) is inherited.

``-m "not http"`` runs the sqlite store only; ``-m "not postgres"`` skips PostgreSQL.
The PostgreSQL backend is skipped, with the reason, only when PostgreSQL's server
programs are not installed (see tests/support/postgres.py), and never when
``REGISTRY_OPS_REQUIRE_POSTGRES=1`` (set by .ci/run): then their absence fails.
A cluster or server that is installed but does not start fails the tests loudly.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

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
