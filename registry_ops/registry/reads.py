"""Batched reads of the registry: the state of N models in a handful of paged searches.

Never a call per version: the whole state of many models costs two paged
searches, a few models two name-filtered searches each. Metric evidence (runs
and logged models) is read in :mod:`registry_ops.registry.metrics`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from registry_ops.core.state import Observed, ObservedModel, ObservedVersion, logged_model_id
from registry_ops.registry.connection import Connection

__all__ = ["MODELS_PAGE", "PER_NAME_LIMIT", "RUN_ID_CHUNK", "VERSIONS_PAGE", "Reads", "in_filters"]

MODELS_PAGE = 1_000  # server maximum for search_registered_models
VERSIONS_PAGE = 200_000  # server maximum for search_model_versions
RUN_ID_CHUNK = 500  # one IN (...) filter breaks near 5,000 ids
PER_NAME_LIMIT = 10  # up to this many models, filter by name instead of paging everything
# The REST call MlflowClient.search_model_versions sends (MLflow's documented API).
_VERSIONS_ENDPOINT = "/api/2.0/mlflow/model-versions/search"


def _quote(value: str) -> str:
    return "'" + value + "'"


def _unquotable(name: str) -> bool:
    """MLflow's filter grammar has no escape for quotes inside a name."""
    return any(q in name for q in "'\"\\")


def in_filters(field: str, values: Sequence[str]) -> Iterator[tuple[str, Sequence[str]]]:
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
        last_updated_timestamp=int(mv.last_updated_timestamp or 0),
        model_id=logged_model_id(getattr(mv, "model_id", None), getattr(mv, "source", None)),
    )


def _all_versions_json(registry_uri: str) -> list[Any]:
    """Every model version over HTTP, without MlflowClient's decoding.

    Turning the JSON into protobuf and then into ``ModelVersion`` entities
    costs ~4 s of client CPU for 100,000 versions (json.loads alone: 0.75 s),
    and that CPU is taken from the server on a small machine. The request is
    the one the client sends (same endpoint, credentials, headers and retry
    settings, through MLflow's ``http_request`` and the host credentials
    MLflow's REST store is built with); the rows carry the attributes
    ``read_state`` reads, with the values the entities would have (version a
    str, as over HTTP; unset fields empty).
    """
    from types import SimpleNamespace

    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request, verify_rest_response

    creds = get_default_host_creds(registry_uri)  # type: ignore[no-untyped-call]
    rows: list[Any] = []
    token = ""
    while True:
        params: dict[str, Any] = {"max_results": VERSIONS_PAGE}
        if token:
            params["page_token"] = token
        response = http_request(  # type: ignore[no-untyped-call]
            creds, _VERSIONS_ENDPOINT, "GET", params=params
        )
        body = verify_rest_response(response, _VERSIONS_ENDPOINT).json()
        rows += [
            SimpleNamespace(
                name=mv["name"],
                version=mv["version"],
                current_stage=mv.get("current_stage", ""),
                run_id=mv.get("run_id", ""),
                creation_timestamp=mv.get("creation_timestamp", 0),
                last_updated_timestamp=mv.get("last_updated_timestamp", 0),
                tags={t["key"]: t.get("value", "") for t in mv.get("tags", ())},
                status=mv.get("status", ""),
                source=mv.get("source", ""),
                model_id=mv.get("model_id", ""),
            )
            for mv in body.get("model_versions", ())
        ]
        token = body.get("next_page_token", "")
        del body, response  # let a page's JSON go before the next one arrives
        if not token:
            return rows


class Reads(Connection):
    """What plan, apply and the reports read from the registry."""

    _experiment_ids: list[str] | None = None

    def read_state(self, names: Sequence[str] | None = None) -> Observed:
        """Aliases, tags, description and every version of ``names`` (all models if None)."""
        wanted = None if names is None else set(names)
        # Names the filter grammar cannot quote are found by reading the whole registry.
        per_name = (
            wanted is not None
            and len(wanted) <= PER_NAME_LIMIT
            and not any(_unquotable(n) for n in wanted)
        )
        if wanted is not None and not wanted:
            return Observed({})
        with self.calling("registry read"):
            if per_name:
                assert wanted is not None
                registered, versions = [], []
                for name in sorted(wanted):
                    flt = f"name = {_quote(name)}"
                    registered += list(
                        self.pages(self.client.search_registered_models, filter_string=flt)
                    )
                    versions += list(
                        self.pages(
                            self.client.search_model_versions,
                            filter_string=flt,
                            max_results=VERSIONS_PAGE,
                        )
                    )
            else:
                registered, versions = self._read_all()
        models: dict[str, ObservedModel] = {}
        for rm in registered:
            if wanted is None or rm.name in wanted:
                models[rm.name] = _observed_model(rm)
        for mv in versions:
            model = models.get(mv.name)
            if model is not None:
                model.versions[int(mv.version)] = _observed_version(mv)
        return Observed(models)

    def _read_all(self) -> tuple[list[Any], list[Any]]:
        """Every registered model and every version: two paged searches.

        Over HTTP the two run side by side (most of a plan's time is the
        server answering them: 1,000 models x 10 versions, 0.5 s + 0.9 s),
        and the version search skips MlflowClient's decoding (see
        :func:`_all_versions_json`).
        """

        def models() -> list[Any]:
            return list(self.pages(self.client.search_registered_models, max_results=MODELS_PAGE))

        def versions() -> list[Any]:
            return list(self.pages(self.client.search_model_versions, max_results=VERSIONS_PAGE))

        if not self._http:  # local stores gain nothing from threads
            return models(), versions()
        with ThreadPoolExecutor(max_workers=2) as pool:
            registered = pool.submit(models)
            all_versions = pool.submit(_all_versions_json, self.uris["registry_uri"])
            return registered.result(), all_versions.result()

    def prompts(self, names: Iterable[str]) -> dict[str, ObservedModel]:
        """Which of ``names`` are MLflow prompts: one GET each (for names a read did not find).

        MLflow's searches leave prompts out, so a manifest naming one would read as
        "no such model"; the registry client's GET returns it with its prompt tag.
        """
        from registry_ops.core.state import PROMPT_TAG

        out: dict[str, ObservedModel] = {}
        for name in sorted(set(names)):
            rm = self._get_model(name)
            # The entity's ``tags`` hide the prompt tag; its proto keeps every tag.
            tags = {t.key: t.value for t in rm.to_proto().tags} if rm is not None else {}
            if tags.get(PROMPT_TAG, "").lower() == "true":
                out[name] = ObservedModel(name=name, tags=tags)
        return out

    # ---- reads for apply -----------------------------------------------------

    def _get_model(self, name: str) -> Any:
        """The registered model entity, or None when it does not exist."""
        from mlflow.exceptions import MlflowException

        with self.calling(f"reading {name}"):
            try:
                return self._writer.get_registered_model(name)
            except MlflowException as exc:
                if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                    return None
                raise

    def read_model(self, name: str) -> ObservedModel | None:
        """One model and all its versions, fresh (after a failed write: did it land?)."""
        if _unquotable(name):
            return self.read_state([name]).get(name)
        rm = self._get_model(name)
        if rm is None:
            return None
        with self.calling(f"reading {name}"):
            model = _observed_model(rm)
            for mv in self.pages(
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
        with self.calling("reading model tags"):
            if len(wanted) <= PER_NAME_LIMIT:
                for name in sorted(wanted):
                    try:
                        out[name] = dict(self._writer.get_registered_model(name).tags or {})
                    except MlflowException as exc:
                        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                            raise
                return out
            for rm in self.pages(self._writer.search_registered_models, max_results=MODELS_PAGE):
                if rm.name in wanted:
                    out[rm.name] = dict(rm.tags or {})
        return out

    def read_versions(self, names: Sequence[str]) -> dict[str, dict[int, ObservedVersion]]:
        """Every version (with its tags) of ``names``: one ``name IN (...)`` search per
        500 names; names the filter grammar cannot quote are read one by one."""
        wanted = sorted(set(names))
        plain = [n for n in wanted if not _unquotable(n)]
        out: dict[str, dict[int, ObservedVersion]] = {n: {} for n in wanted}
        with self.calling("reading model versions"):
            for flt, _ in in_filters("name", plain):
                for mv in self.pages(
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
