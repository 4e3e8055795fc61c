"""Every MLflow call registry-ops makes, and the only module that imports mlflow.

Reads are batched: the whole state of N models costs a handful of paged
searches, never a call per version. Run metrics are fetched only for the runs
a plan needs, in chunks of ``attributes.run_id IN (...)``. Every failure is
re-raised as :class:`RegistryError` with credentials redacted.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from registry_ops.errors import RegistryError, RegistryOpsError
from registry_ops.redact import redact
from registry_ops.state import Observed, ObservedModel, ObservedVersion

# MLflow's own defaults retry an unreachable server for ~4 minutes; a
# reconciler in CI should fail within seconds. Users override via the env.
_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    # A registry tool makes no calls beyond the registry it was pointed at.
    "MLFLOW_DISABLE_TELEMETRY": "true",
}
MODELS_PAGE = 1_000  # server maximum for search_registered_models
VERSIONS_PAGE = 200_000  # server maximum for search_model_versions
RUN_ID_CHUNK = 500  # one IN (...) filter breaks near 5,000 ids
PER_NAME_LIMIT = 10  # up to this many models, filter by name instead of paging everything

T = TypeVar("T")


def _configure() -> None:
    for key, value in _HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    warnings.filterwarnings(
        "ignore", message=r".*Model registry stages will be removed", category=FutureWarning
    )
    import mlflow  # noqa: F401 - configures its loggers on import; quieten them after

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _require_sqlite_file(uri: str) -> None:
    """Refuse a sqlite URI whose file does not exist.

    MLflow would silently create an empty database there, so a mistyped path
    would read as "no such model" and leave a stray file behind.
    """
    if not uri.startswith("sqlite://"):
        return
    rest = uri[len("sqlite://") :].split("?", 1)[0]
    path = rest[1:] if rest.startswith("/") else rest
    if path and path != ":memory:" and not Path(path).is_file():
        raise RegistryError(f"no MLflow database at {path} (from {redact(uri)})")


@contextmanager
def _calling(what: str) -> Iterator[None]:
    """Translate any MLflow or transport failure into a redacted RegistryError."""
    try:
        yield
    except RegistryOpsError:
        raise
    except Exception as exc:  # MlflowException, requests errors, sqlalchemy errors...
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        raise RegistryError(redact(f"MLflow {what} failed: {message}")) from None


def _quote(value: str) -> str:
    return "'" + value + "'"


class Registry:
    """A connection to one MLflow tracking server and model registry."""

    def __init__(self, tracking_uri: str, registry_uri: str | None = None) -> None:
        for uri in (tracking_uri, registry_uri):
            _require_sqlite_file(uri or "")
        _configure()
        with _calling("client setup"):
            from mlflow.tracking import MlflowClient

            self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
        self._experiment_ids: list[str] | None = None
        self._http = all(
            (uri or tracking_uri).startswith(("http://", "https://"))
            for uri in (tracking_uri, registry_uri)
        )

    # ---- reads ---------------------------------------------------------------

    def _pages(self, search: Callable[..., Any], **kwargs: Any) -> Iterator[Any]:
        token: str | None = None
        while True:
            page = search(page_token=token, **kwargs)
            yield from page
            token = page.token
            if not token:  # None on sqlite, '' over HTTP
                return

    def read_state(self, names: Sequence[str] | None = None) -> Observed:
        """Aliases, tags, description and every version of ``names`` (all models if None)."""
        wanted = None if names is None else set(names)
        # MLflow's filter grammar has no escape for quotes inside a name: such
        # names are found by reading the whole registry instead.
        per_name = (
            wanted is not None
            and len(wanted) <= PER_NAME_LIMIT
            and not any(q in n for n in wanted for q in "'\"\\")
        )
        if wanted is not None and not wanted:
            return Observed({})
        with _calling("registry read"):
            if per_name:
                assert wanted is not None
                registered, versions = [], []
                for name in sorted(wanted):
                    flt = f"name = {_quote(name)}"
                    registered += list(
                        self._pages(self.client.search_registered_models, filter_string=flt)
                    )
                    versions += list(
                        self._pages(
                            self.client.search_model_versions,
                            filter_string=flt,
                            max_results=VERSIONS_PAGE,
                        )
                    )
            else:
                registered, versions = self._read_all()
        models: dict[str, ObservedModel] = {}
        for rm in registered:
            if wanted is not None and rm.name not in wanted:
                continue
            models[rm.name] = ObservedModel(
                name=rm.name,
                description=rm.description or "",
                tags=dict(rm.tags or {}),
                # int on sqlite, str over HTTP: normalise
                aliases={alias: int(v) for alias, v in (rm.aliases or {}).items()},
            )
        for mv in versions:
            model = models.get(mv.name)
            if model is None:
                continue
            model.versions[int(mv.version)] = ObservedVersion(
                version=int(mv.version),
                stage=str(mv.current_stage or "None"),
                run_id=mv.run_id or None,
                creation_timestamp=int(mv.creation_timestamp or 0),
                tags=dict(mv.tags or {}),
                status=str(mv.status or "READY"),
            )
        return Observed(models)

    def _read_all(self) -> tuple[list[Any], list[Any]]:
        """Every registered model and every version: two paged searches.

        Over HTTP the two run side by side: most of a plan's time is the
        server answering them (1,000 models x 10 versions: 0.5 s + 0.9 s).
        """

        def models() -> list[Any]:
            return list(self._pages(self.client.search_registered_models, max_results=MODELS_PAGE))

        def versions() -> list[Any]:
            return list(self._pages(self.client.search_model_versions, max_results=VERSIONS_PAGE))

        if not self._http:  # local stores gain nothing from threads
            return models(), versions()
        with ThreadPoolExecutor(max_workers=2) as pool:
            registered, all_versions = pool.submit(models), pool.submit(versions)
            return registered.result(), all_versions.result()

    def _experiments(self) -> list[str]:
        if self._experiment_ids is None:
            from mlflow.entities import ViewType

            # Deleted experiments too: a registered version's run may live in one.
            self._experiment_ids = [
                e.experiment_id
                for e in self._pages(
                    self.client.search_experiments, view_type=ViewType.ALL, max_results=1000
                )
            ]
        return self._experiment_ids

    def run_metrics(self, run_ids: Iterable[str]) -> dict[str, dict[str, float]]:
        """Latest value of every metric of each run, in a few batched searches."""
        ids = sorted(set(run_ids))
        if not ids:
            return {}
        out: dict[str, dict[str, float]] = {}
        with _calling("run metrics read"):
            from mlflow.entities import ViewType

            experiments = self._experiments()
            for start in range(0, len(ids), RUN_ID_CHUNK):
                chunk = ids[start : start + RUN_ID_CHUNK]
                flt = f"attributes.run_id IN ({', '.join(map(_quote, chunk))})"
                for run in self._pages(
                    self.client.search_runs,
                    experiment_ids=experiments,
                    filter_string=flt,
                    run_view_type=ViewType.ALL,
                    max_results=len(chunk),
                ):
                    out[run.info.run_id] = dict(run.data.metrics)
        return out

    # ---- writes --------------------------------------------------------------

    def set_alias(self, model: str, alias: str, version: int) -> None:
        """Point ``alias`` at ``version`` (moves it if another version held it)."""
        with _calling(f"set alias {alias} on {model}"):
            self.client.set_registered_model_alias(model, alias, str(version))

    def delete_alias(self, model: str, alias: str) -> None:
        """Remove ``alias`` from ``model``."""
        with _calling(f"delete alias {alias} on {model}"):
            self.client.delete_registered_model_alias(model, alias)

    def transition_stage(self, model: str, version: int, stage: str) -> None:
        """Move one version to ``stage``; other holders are left for explicit changes."""
        with _calling(f"transition {model} v{version} to {stage}"):
            self.client.transition_model_version_stage(
                model, str(version), stage, archive_existing_versions=False
            )

    def set_model_tag(self, model: str, key: str, value: str) -> None:
        """Set one registered-model tag."""
        with _calling(f"set tag {key} on {model}"):
            self.client.set_registered_model_tag(model, key, value)

    def delete_model_tag(self, model: str, key: str) -> None:
        """Delete one registered-model tag."""
        with _calling(f"delete tag {key} on {model}"):
            self.client.delete_registered_model_tag(model, key)

    def update_description(self, model: str, description: str) -> None:
        """Replace the registered model's description."""
        with _calling(f"update description of {model}"):
            self.client.update_registered_model(model, description=description)

    def set_version_tags(self, model: str, version: int, tags: dict[str, str]) -> None:
        """Set several tags on one model version (MLflow has no batch call for this)."""
        with _calling(f"tag {model} v{version}"):
            for key, value in tags.items():
                self.client.set_model_version_tag(model, str(version), key, value)
