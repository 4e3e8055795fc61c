"""A connection to one MLflow registry: HTTP retry defaults, quiet logging, the fail-fast probe.

mlflow is imported inside functions only: importing this module costs
nothing until a registry is actually opened (``validate`` and ``--help`` never
import mlflow).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry_ops.core.redact import redact, remember
from registry_ops.errors import RegistryError
from registry_ops.registry.failures import Failures

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

__all__ = ["CONSOLE_DEFAULTS", "HTTP_DEFAULTS", "Connection", "quiet_mlflow", "registry_writer"]

# MLflow's own defaults retry an unreachable server for ~4 minutes; a
# reconciler in CI should fail within seconds. Users override via the env.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    # A registry tool makes no calls beyond the registry it was pointed at.
    "MLFLOW_DISABLE_TELEMETRY": "true",
}
# The probe's shorter fuse, for the settings the user left to us.
_PROBE = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": 1, "MLFLOW_HTTP_REQUEST_TIMEOUT": 8}
# The REST call MlflowClient.search_registered_models sends (MLflow's documented API).
_PROBE_ENDPOINT = "/api/2.0/mlflow/registered-models/search"
# What registry-ops calls on the registry client (see registry_writer).
_REGISTRY_CALLS = (
    "get_registered_model",
    "search_registered_models",
    "search_model_versions",
    "set_registered_model_alias",
    "delete_registered_model_alias",
    "transition_model_version_stage",
    "set_registered_model_tag",
    "delete_registered_model_tag",
    "update_registered_model",
    "set_model_version_tag",
)


def _apply_http_defaults() -> None:
    """Set the retry and timeout defaults once, for the variables the user has not set.

    Neither MlflowClient nor its REST store takes retry or timeout settings:
    the store calls ``mlflow.utils.rest_utils.http_request`` without them,
    which reads ``MLFLOW_HTTP_REQUEST_*`` from the environment at each call.
    The environment is therefore the only place for them. They are set here,
    at connect time, with ``setdefault`` (a user's value always wins) and are
    never changed back and forth around calls; the probe passes its shorter
    fuse to ``http_request`` as arguments instead. ``registry_ops.load_model``
    restores the environment afterwards, so a service's own MLflow calls keep
    MLflow's settings.
    """
    for key, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)


def quiet_mlflow() -> None:
    """Telemetry off unless the user set it, and mlflow's loggers at WARNING."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow  # noqa: F401 - configures its loggers on import; quieten them after

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


# MLflow's own console output, off unless the user asked for it: the "View run ... at:"
# line it prints when a run ends carries the tracking URI, password included (what is
# printed anyway is captured and redacted, see failures.mlflow_console), and artifact
# progress bars are noise in a CI log.
CONSOLE_DEFAULTS = {
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


def _configure(on_retry: Callable[[str], None] | None, server: str) -> None:
    _apply_http_defaults()
    for key, value in CONSOLE_DEFAULTS.items():
        os.environ.setdefault(key, value)
    warnings.filterwarnings(
        "ignore", message=r".*Model registry stages will be removed", category=FutureWarning
    )
    quiet_mlflow()
    # urllib3 logs each retry at WARNING with its internals; say it in our words instead.
    pool_log = logging.getLogger("urllib3.connectionpool")
    pool_log.propagate = False
    pool_log.handlers = [_RetryNote(on_retry, server)] if on_retry else [logging.NullHandler()]


class _RetryNote(logging.Handler):
    """Turns urllib3's retry warnings into one short note per retry."""

    def __init__(self, note: Callable[[str], None], server: str) -> None:
        super().__init__(logging.WARNING)
        self.note = note
        self.server = server

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Retrying"):
            self.note(f"no answer from MLflow at {self.server}, retrying...")


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


def registry_writer(client: MlflowClient) -> Any:
    """What registry reads by name and registry writes go through: MLflow's own
    registry client when this MLflow has one, else ``client`` itself.

    The one use of a private MLflow name in registry-ops, on purpose: each
    public ``MlflowClient`` registry write first GETs the registered model to
    refuse prompts, one extra request per write over HTTP (2 requests a write
    instead of 1; 2,300 of 4,606 requests in a 300-change apply), while the
    batched read already tells a prompt (``ObservedModel.is_prompt``).
    MlflowClient hands each write to this object with the names and arguments
    registry-ops uses, so the public client is a drop-in replacement if a later
    MLflow renames or reshapes it (tests/test_registry_writer.py runs both).
    """
    private = getattr(client, "_get_registry_client", None)
    if not callable(private):
        return client
    writer = private()
    if not all(callable(getattr(writer, name, None)) for name in _REGISTRY_CALLS):
        return client
    return writer


class Connection:
    """A connection to one MLflow tracking server and model registry.

    ``on_retry`` is told, in one short sentence, each time a request is retried
    (the CLI shows it on a terminal). Over HTTP the server is probed at once, so
    a dead or hung one fails within seconds.
    """

    def __init__(
        self,
        tracking_uri: str,
        registry_uri: str | None = None,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        for uri in (tracking_uri, registry_uri):
            remember(uri)  # its password is masked wherever a message quotes it
            _require_sqlite_file(uri or "")
        # The server error messages name, credentials redacted.
        self.failures = Failures(redact(registry_uri or tracking_uri))
        _configure(on_retry, self.failures.server)
        with self.failures.calling("setting up the client"):
            from mlflow.tracking import MlflowClient

            self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
            self._writer = registry_writer(self.client)
        self.uris = {"tracking_uri": tracking_uri, "registry_uri": registry_uri or tracking_uri}
        self._http = all(
            (uri or tracking_uri).startswith(("http://", "https://"))
            for uri in (tracking_uri, registry_uri)
        )
        if self._http:
            self._probe()

    def calling(self, what: str) -> AbstractContextManager[None]:
        """Context: any failure inside becomes a RegistryError naming this server."""
        return self.failures.calling(what)

    def pages(self, search: Callable[..., Any], **kwargs: Any) -> Iterator[Any]:
        """Every result of a paged MLflow search, page after page."""
        token: str | None = None
        while True:
            page = search(page_token=token, **kwargs)
            yield from page
            token = page.token
            if not token:  # None on sqlite, '' over HTTP
                return

    def probe(self) -> None:
        """Over HTTP, one cheap request with a short fuse: RegistryError when the
        server is down or hung (nothing to do for a local store)."""
        if self._http:
            self._probe()

    def _probe(self) -> None:
        """Fail fast on a dead or hung server: one cheap call with a short fuse.

        The request MlflowClient would send for one registered model, with at
        most 1 retry and an 8 s timeout passed as arguments; a retry count or
        timeout the user set in the environment is kept.
        """
        from mlflow.utils.credentials import get_default_host_creds
        from mlflow.utils.rest_utils import http_request, verify_rest_response

        # A value other than ours is the user's: theirs holds for the probe too
        # (None: http_request reads the environment, as every other call does).
        fuse = {
            key: short if os.environ.get(key) == HTTP_DEFAULTS[key] else None
            for key, short in _PROBE.items()
        }
        with self.calling("connecting"):
            response = http_request(  # type: ignore[no-untyped-call]
                get_default_host_creds(self.uris["registry_uri"]),  # type: ignore[no-untyped-call]
                _PROBE_ENDPOINT,
                "GET",
                max_retries=fuse["MLFLOW_HTTP_REQUEST_MAX_RETRIES"],
                timeout=fuse["MLFLOW_HTTP_REQUEST_TIMEOUT"],
                params={"max_results": 1},
            )
            verify_rest_response(response, _PROBE_ENDPOINT)
