"""The MLflow calls of the apply log: one experiment, its runs, their tags and JSON artifacts.

What a run says (its tags, report and summaries) is
:mod:`registry_ops.pipeline.audit`'s; this module only creates, writes and
finds runs. These are tracking calls, not registry writes: they bypass
``Registry._write``, so the count of registry writes (and the fault seam on
it) sees the registry's writes only.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from registry_ops.errors import RegistryError
from registry_ops.registry import Registry

RUNS_PAGE = 1_000  # server maximum for search_runs
BATCH = 100  # MLflow's limit of params, and of tags, in one log_batch


def json_text(data: Any) -> str:
    """A JSON artifact's text, exactly as :meth:`ApplyLog.log_json_artifacts` writes it
    (a digest of it then matches the file)."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def artifact_location(tracking_uri: str) -> str | None:
    """Where a new apply-log experiment keeps its artifacts.

    For a local ``sqlite:///`` store: ``mlruns/registry-ops-applies/`` next to
    the database file, wherever apply runs from (MLflow's default would be the
    current directory). For a server: None, the server decides.
    """
    if not tracking_uri.startswith("sqlite:///"):
        return None
    path = tracking_uri[len("sqlite:///") :].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return (Path(path).resolve().parent / "mlruns" / "registry-ops-applies").as_uri()


class ApplyLog:
    """The runs of the apply log, through ``registry``'s tracking client."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.client = registry.client

    def experiment_id(
        self, name: str, create: bool = False, artifact_location: str | None = None
    ) -> str | None:
        """The id of the active experiment ``name``; created when ``create`` (None if
        absent and not created). A deleted one is an error: runs cannot go there."""
        from mlflow.exceptions import MlflowException

        def find() -> str | None:
            found = self.client.get_experiment_by_name(name)
            if found is None:
                return None
            if found.lifecycle_stage != "active":
                raise RegistryError(
                    f"the experiment {name} is deleted; restore it (`mlflow experiments "
                    f"restore --experiment-id {found.experiment_id}`) to keep the apply log"
                )
            return str(found.experiment_id)

        with self.registry.calling(f"reading the experiment {name}"):
            existing = find()
            if existing is not None or not create:
                return existing
            try:
                return str(self.client.create_experiment(name, artifact_location=artifact_location))
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                return find()  # another apply created it first

    def start_run(
        self, experiment_id: str, run_name: str, tags: dict[str, str], start_ms: int | None = None
    ) -> str:
        """Create a run with its tags (one request); returns its id."""
        with self.registry.calling("starting a run in the apply log"):
            run = self.client.create_run(
                experiment_id, start_time=start_ms, tags=tags, run_name=run_name
            )
        return str(run.info.run_id)

    def log_run_data(self, run_id: str, params: dict[str, str], tags: dict[str, str]) -> None:
        """Params and more tags, one request per 100 of each (MLflow's batch limits)."""
        from mlflow.entities import Param, RunTag

        param_items, tag_items = list(params.items()), list(tags.items())
        with self.registry.calling("writing a run of the apply log"):
            for start in range(0, max(len(param_items), len(tag_items)), BATCH):
                self.client.log_batch(
                    run_id,
                    params=[Param(k, v) for k, v in param_items[start : start + BATCH]],
                    tags=[RunTag(k, v) for k, v in tag_items[start : start + BATCH]],
                )

    def log_json_artifacts(self, run_id: str, files: dict[str, Any]) -> None:
        """Each value as a JSON file artifact of the run, named by its key."""
        with tempfile.TemporaryDirectory(prefix="registry-ops-") as tmp:
            for name, data in files.items():
                Path(tmp, name).write_text(json_text(data), encoding="utf-8")
            with self.registry.calling("writing the apply log's artifacts"):
                self.client.log_artifacts(run_id, tmp)

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        """Mark the run terminated with ``status`` (FINISHED or FAILED)."""
        with self.registry.calling("closing a run of the apply log"):
            self.client.set_terminated(run_id, status)

    def search_runs(
        self, experiment_id: str, filter_string: str = "", max_results: int = 50_000
    ) -> list[dict[str, Any]]:
        """Runs of ``experiment_id`` matching ``filter_string``, oldest first, as plain
        data: ``run_id``, ``start_time`` / ``end_time`` (ms), ``status``, ``tags``,
        ``params``. Paged: a page of up to 1,000 runs per request."""
        from mlflow.entities import ViewType

        out: list[dict[str, Any]] = []
        with self.registry.calling("reading the apply log"):
            for run in self.registry.pages(
                self.client.search_runs,
                experiment_ids=[experiment_id],
                filter_string=filter_string,
                run_view_type=ViewType.ACTIVE_ONLY,
                max_results=RUNS_PAGE,
                order_by=["attributes.start_time ASC"],
            ):
                out.append(
                    {
                        "run_id": run.info.run_id,
                        "start_time": run.info.start_time,
                        "end_time": run.info.end_time,
                        "status": run.info.status,
                        "tags": dict(run.data.tags),
                        "params": dict(run.data.params),
                    }
                )
                if len(out) >= max_results:
                    break
        return out

    def read_json_artifact(self, run_id: str, path: str) -> Any:
        """A JSON artifact of a run, parsed."""
        with tempfile.TemporaryDirectory(prefix="registry-ops-") as tmp:
            with self.registry.calling(f"reading {path} of run {run_id}"):
                local = self.client.download_artifacts(run_id, path, tmp)
            return json.loads(Path(local).read_text(encoding="utf-8"))
