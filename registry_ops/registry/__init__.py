"""Every MLflow call registry-ops makes, and the only module that imports mlflow.

Reads are batched: the whole state of N models costs a handful of paged
searches, never a call per version. Run metrics are fetched only for the runs
a plan needs, in chunks of ``attributes.run_id IN (...)``. Every failure is
re-raised as :class:`RegistryError` with credentials redacted.
"""

from __future__ import annotations

import logging
import os
import re
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from registry_ops.core.redact import redact
from registry_ops.core.state import Observed, ObservedModel, ObservedVersion
from registry_ops.errors import RegistryError, RegistryOpsError

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


def _configure(on_retry: Callable[[str], None] | None) -> None:
    for key, value in _HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    warnings.filterwarnings(
        "ignore", message=r".*Model registry stages will be removed", category=FutureWarning
    )
    import mlflow  # noqa: F401 - configures its loggers on import; quieten them after

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # urllib3 logs each retry at WARNING with its internals; say it in our words instead.
    pool_log = logging.getLogger("urllib3.connectionpool")
    pool_log.propagate = False
    pool_log.handlers = [_RetryNote(on_retry)] if on_retry else [logging.NullHandler()]


class _RetryNote(logging.Handler):
    """Turns urllib3's retry warnings into one short note per retry."""

    def __init__(self, note: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self.note = note

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Retrying"):
            self.note(f"no answer from MLflow at {_SERVER[0]}, retrying...")


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
        raise RegistryError(
            f"no MLflow database at {path} (from {redact(uri)})\n"
            "hint: point registry-ops at your registry with --tracking-uri or MLFLOW_TRACKING_URI"
        )


# The server messages name (credentials redacted); one registry per process.
_SERVER = [""]
_HINT = (
    "hint: is the MLflow server up and reachable from here? Point registry-ops at it with "
    "--tracking-uri or MLFLOW_TRACKING_URI; MLFLOW_HTTP_REQUEST_TIMEOUT and "
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES tune how long it waits."
)
_TRANSPORT = (
    ("connection refused", "the connection was refused"),
    ("failed to establish a new connection", "no connection could be made"),
    ("name or service not known", "the host name does not resolve"),
    ("nodename nor servname", "the host name does not resolve"),
    ("temporary failure in name resolution", "the host name does not resolve"),
    ("read timed out", "it did not answer in time"),
    ("timed out", "it did not answer in time"),
    ("connection reset", "the connection was reset"),
    ("connection aborted", "the connection was dropped"),
    ("remotedisconnected", "the connection was dropped"),
    ("too many 5", "it kept answering with server errors"),
    ("max retries exceeded", "it could not be reached"),
)
_DATABASE = (
    ("database is locked", "the database is locked by another writer"),
    ("unique constraint", "another writer changed the same entry at the same moment"),
    ("duplicate key", "another writer changed the same entry at the same moment"),
    ("could not serialize", "another writer changed the same entry at the same moment"),
    ("deadlock", "another writer changed the same entry at the same moment"),
)


def explain(exc: BaseException, what: str) -> str:
    """One readable sentence for an MLflow, transport or database failure, redacted."""
    text = str(getattr(exc, "message", None) or exc or type(exc).__name__)
    low = text.lower()
    server = _SERVER[0] or "the configured tracking URI"
    for needle, cause in _TRANSPORT:
        if needle in low:
            return redact(f"cannot reach MLflow at {server} while {what}: {cause}.\n{_HINT}")
    for needle, cause in _DATABASE:
        if needle in low:
            return redact(f"MLflow at {server} failed while {what}: {cause}; run it again.")
    code = getattr(exc, "error_code", None)
    # MLflow's messages can quote its own internal filters and stack details; the
    # first line is what the server said.
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    first = re.sub(r"tag\.mlflow\.prompt\.is_prompt[^)'\"]*", "...", first)
    if len(first) > 300:
        first = first[:297] + "..."
    prefix = f"{code}: " if code and code != "INTERNAL_ERROR" else ""
    return redact(f"MLflow at {server} refused {what}: {prefix}{first}")


def _transient(exc: BaseException) -> bool:
    low = str(exc).lower()
    return any(needle in low for needle, _ in _DATABASE)


@contextmanager
def _calling(what: str) -> Iterator[None]:
    """Translate any MLflow or transport failure into a redacted RegistryError."""
    try:
        yield
    except RegistryOpsError:
        raise
    except Exception as exc:  # MlflowException, requests errors, sqlalchemy errors...
        raise RegistryError(explain(exc, what)) from None


def _quote(value: str) -> str:
    return "'" + value + "'"


def _in_filters(field: str, values: Sequence[str]) -> Iterator[tuple[str, Sequence[str]]]:
    """``field IN (...)`` filters over ``values``, in chunks well below the size at
    which MLflow's filter parser breaks (~5,000 values)."""
    for start in range(0, len(values), RUN_ID_CHUNK):
        chunk = values[start : start + RUN_ID_CHUNK]
        yield f"{field} IN ({', '.join(map(_quote, chunk))})", chunk


def _observed_model(rm: Any) -> ObservedModel:
    return ObservedModel(
        name=rm.name,
        description=rm.description or "",
        tags=dict(rm.tags or {}),
        # int on sqlite, str over HTTP: normalise
        aliases={alias: int(v) for alias, v in (rm.aliases or {}).items()},
    )


def _observed_version(mv: Any) -> ObservedVersion:
    return ObservedVersion(
        version=int(mv.version),
        stage=str(mv.current_stage or "None"),
        run_id=mv.run_id or None,
        creation_timestamp=int(mv.creation_timestamp or 0),
        tags=dict(mv.tags or {}),
        status=str(mv.status or "READY"),
    )


class Registry:
    """A connection to one MLflow tracking server and model registry.

    ``on_retry`` is told, in one short sentence, each time a request is retried
    (the CLI shows it on a terminal).
    """

    def __init__(
        self,
        tracking_uri: str,
        registry_uri: str | None = None,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        for uri in (tracking_uri, registry_uri):
            _require_sqlite_file(uri or "")
        _SERVER[0] = redact(registry_uri or tracking_uri)
        _configure(on_retry)
        with _calling("setting up the client"):
            from mlflow.tracking import MlflowClient

            self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
            # Writes go to the registry client directly: MlflowClient's own methods
            # first GET the model to refuse prompts (one extra request per write),
            # and our batched read already tells a prompt (ObservedModel.is_prompt).
            self._writer = self.client._get_registry_client()  # type: ignore[no-untyped-call]
        self.uris = {"tracking_uri": tracking_uri, "registry_uri": registry_uri or tracking_uri}
        self._experiment_ids: list[str] | None = None
        self._http = all(
            (uri or tracking_uri).startswith(("http://", "https://"))
            for uri in (tracking_uri, registry_uri)
        )
        if self._http:
            self._probe()

    def _probe(self) -> None:
        """Fail fast on a dead or hung server: one cheap call with a short fuse.

        MLflow reads its retry settings at each call, so the probe tightens
        them unless the user set them; the calls after it keep the defaults.
        """
        short = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "8", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1"}
        saved = {k: os.environ.get(k) for k in short}
        for key, value in short.items():
            if os.environ.get(key) == _HTTP_DEFAULTS[key]:  # ours, not the user's
                os.environ[key] = value
        try:
            with _calling("connecting"):
                self._writer.search_registered_models(max_results=1)
        finally:
            for key, old in saved.items():
                if old is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = old

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

        Over HTTP the version search skips MlflowClient's decoding: turning
        its JSON into protobuf and then into ``ModelVersion`` entities costs
        ~4 s of client CPU for 100,000 versions (json.loads alone: 0.75 s),
        and that CPU is taken from the server on a small machine. The request
        is the one the client sends (same endpoint, credentials, headers and
        retry settings, through MLflow's ``http_request``); the rows carry the
        attributes ``read_state`` reads, with the values the entities would
        have (version a str, as over HTTP; unset fields empty).
        """

        def models() -> list[Any]:
            return list(self._pages(self.client.search_registered_models, max_results=MODELS_PAGE))

        def versions() -> list[Any]:
            return list(self._pages(self.client.search_model_versions, max_results=VERSIONS_PAGE))

        def versions_json() -> list[Any]:
            from types import SimpleNamespace

            from mlflow.protos.model_registry_pb2 import SearchModelVersions
            from mlflow.utils.rest_utils import http_request, verify_rest_response

            store = self.client._get_registry_client().store  # type: ignore[no-untyped-call]
            endpoint, method = store._get_endpoint_from_method(SearchModelVersions)
            rows: list[Any] = []
            token = ""
            while True:
                params: dict[str, Any] = {"max_results": VERSIONS_PAGE}
                if token:
                    params["page_token"] = token
                response = http_request(  # type: ignore[no-untyped-call]
                    store.get_host_creds(), endpoint, method, params=params
                )
                body = verify_rest_response(response, endpoint).json()
                rows += [
                    SimpleNamespace(
                        name=mv["name"],
                        version=mv["version"],
                        current_stage=mv.get("current_stage", ""),
                        run_id=mv.get("run_id", ""),
                        creation_timestamp=mv.get("creation_timestamp", 0),
                        tags={t["key"]: t.get("value", "") for t in mv.get("tags", ())},
                        status=mv.get("status", ""),
                    )
                    for mv in body.get("model_versions", ())
                ]
                token = body.get("next_page_token", "")
                del body, response  # let a page's JSON go before the next one arrives
                if not token:
                    return rows

        if not self._http:  # local stores gain nothing from threads
            return models(), versions()
        with ThreadPoolExecutor(max_workers=2) as pool:
            registered, all_versions = pool.submit(models), pool.submit(versions_json)
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
            for flt, chunk in _in_filters("attributes.run_id", ids):
                for run in self._pages(
                    self.client.search_runs,
                    experiment_ids=experiments,
                    filter_string=flt,
                    run_view_type=ViewType.ALL,
                    max_results=len(chunk),
                ):
                    out[run.info.run_id] = dict(run.data.metrics)
        return out

    # ---- reads for apply -----------------------------------------------------

    def _get_model(self, name: str) -> Any:
        """The registered model entity, or None when it does not exist."""
        from mlflow.exceptions import MlflowException

        with _calling(f"reading {name}"):
            try:
                return self._writer.get_registered_model(name)
            except MlflowException as exc:
                if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                    return None
                raise

    def read_model(self, name: str) -> ObservedModel | None:
        """One model and all its versions, fresh (after a failed write: did it land?)."""
        if any(q in name for q in "'\"\\"):  # the filter grammar cannot quote these
            return self.read_state([name]).get(name)
        rm = self._get_model(name)
        if rm is None:
            return None
        with _calling(f"reading {name}"):
            model = _observed_model(rm)
            for mv in self._pages(
                self._writer.search_model_versions,
                filter_string=f"name = {_quote(name)}",
                max_results=VERSIONS_PAGE,
            ):
                model.versions[int(mv.version)] = _observed_version(mv)
        return model

    def read_head(self, name: str) -> tuple[ObservedModel, dict[str, int]] | None:
        """One request: the model's tags, aliases and description, and the newest
        version in each stage (MLflow's ``latest_versions``). What apply re-checks
        under its lease right before writing a model."""
        rm = self._get_model(name)
        if rm is None:
            return None
        latest = {
            str(mv.current_stage): int(mv.version)
            for mv in (rm.latest_versions or [])
            if str(mv.current_stage) != "None"
        }
        return _observed_model(rm), latest

    def read_model_tags(self, names: Sequence[str]) -> dict[str, dict[str, str]]:
        """Registered-model tags of ``names`` (absent models left out), cheaply:
        one GET per model for a few, else the paged model search alone."""
        from mlflow.exceptions import MlflowException

        out: dict[str, dict[str, str]] = {}
        wanted = set(names)
        with _calling("reading model tags"):
            if len(wanted) <= PER_NAME_LIMIT:
                for name in sorted(wanted):
                    try:
                        out[name] = dict(self._writer.get_registered_model(name).tags or {})
                    except MlflowException as exc:
                        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                            raise
                return out
            for rm in self._pages(self._writer.search_registered_models, max_results=MODELS_PAGE):
                if rm.name in wanted:
                    out[rm.name] = dict(rm.tags or {})
        return out

    # ---- writes --------------------------------------------------------------
    # One request each. A write that loses a race with another writer on a SQL
    # store (a lock, a unique-constraint clash) is retried a few times.

    def _write(self, what: str, call: Callable[[], object]) -> None:
        with _calling(what):
            for attempt in range(4):
                try:
                    call()
                    return
                except Exception as exc:
                    if attempt == 3 or not _transient(exc):
                        raise
                    time.sleep(0.05 * 2**attempt)

    def set_alias(self, model: str, alias: str, version: int) -> None:
        """Point ``alias`` at ``version`` (moves it if another version held it)."""
        self._write(
            f"setting alias {alias} on {model}",
            lambda: self._writer.set_registered_model_alias(model, alias, str(version)),
        )

    def delete_alias(self, model: str, alias: str) -> None:
        """Remove ``alias`` from ``model``."""
        self._write(
            f"deleting alias {alias} of {model}",
            lambda: self._writer.delete_registered_model_alias(model, alias),
        )

    def transition_stage(self, model: str, version: int, stage: str) -> None:
        """Move one version to ``stage``; other holders are left for explicit changes."""
        self._write(
            f"moving {model} v{version} to {stage}",
            lambda: self._writer.transition_model_version_stage(
                model, str(version), stage, archive_existing_versions=False
            ),
        )

    def set_model_tag(self, model: str, key: str, value: str) -> None:
        """Set one registered-model tag."""
        self._write(
            f"setting tag {key} on {model}",
            lambda: self._writer.set_registered_model_tag(model, key, value),
        )

    def delete_model_tag(self, model: str, key: str) -> None:
        """Delete one registered-model tag (absent already is fine)."""
        from mlflow.exceptions import MlflowException

        def call() -> None:
            try:
                self._writer.delete_registered_model_tag(model, key)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise

        self._write(f"deleting tag {key} of {model}", call)

    def update_description(self, model: str, description: str) -> None:
        """Replace the registered model's description."""
        self._write(
            f"updating the description of {model}",
            lambda: self._writer.update_registered_model(model, description=description),
        )

    def set_version_tag(self, model: str, version: int, key: str, value: str) -> None:
        """Set one tag on one model version."""
        self._write(
            f"tagging {model} v{version}",
            lambda: self._writer.set_model_version_tag(model, str(version), key, value),
        )

    def probe(self) -> None:
        """Over HTTP, one cheap request with a short fuse: RegistryError when the
        server is down or hung (nothing to do for a local store)."""
        if self._http:
            self._probe()

    def read_versions(self, names: Sequence[str]) -> dict[str, dict[int, ObservedVersion]]:
        """Every version (with its tags) of ``names``: one ``name IN (...)`` search per
        500 names; names the filter grammar cannot quote are read one by one."""
        wanted = sorted(set(names))
        plain = [n for n in wanted if not any(q in n for q in "'\"\\")]
        out: dict[str, dict[int, ObservedVersion]] = {n: {} for n in wanted}
        with _calling("reading model versions"):
            for flt, _ in _in_filters("name", plain):
                for mv in self._pages(
                    self._writer.search_model_versions,
                    filter_string=flt,
                    max_results=VERSIONS_PAGE,
                ):
                    if mv.name in out:
                        out[mv.name][int(mv.version)] = _observed_version(mv)
        for name in wanted:
            if name not in plain:
                model = self.read_model(name)
                out[name] = dict(model.versions) if model else {}
        return out
