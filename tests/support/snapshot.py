"""A full, comparable picture of a registry: to prove that a run wrote nothing.

``registry_snapshot(uri)`` reads every registered model and every version
through MlflowClient's paged searches and returns plain, sorted data, so two
snapshots compare with ``==`` and a difference prints readably::

    before = registry_snapshot(tracking_uri)
    assert cli("--tracking-uri", tracking_uri, "apply", "--yes").code == 1
    assert registry_snapshot(tracking_uri) == before

Version numbers and alias targets are ints on every backend (a sqlite store
returns ints, a server strings). Update timestamps are included by default:
any write to a model or a version, even one that sets a value it already had,
moves them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from mlflow.tracking import MlflowClient  # noqa: E402

PAGE = 1000


def registry_snapshot(
    tracking_uri: str,
    models: Iterable[str] | None = None,
    *,
    registry_uri: str | None = None,
    timestamps: bool = True,
) -> dict[str, dict[str, Any]]:
    """Every registered model (or only ``models``) with its description, tags, aliases and
    versions; each version with its stage, status, run_id, tags, aliases, description
    and source. Pass ``timestamps=False`` to leave out creation and update times."""
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
    wanted = set(models) if models is not None else None
    snapshot: dict[str, dict[str, Any]] = {}
    token: str | None = None
    while True:
        page = client.search_registered_models(max_results=PAGE, page_token=token)
        for model in page:
            if wanted is not None and model.name not in wanted:
                continue
            entry: dict[str, Any] = {
                "description": model.description or "",
                "tags": dict(sorted((model.tags or {}).items())),
                "aliases": {a: int(v) for a, v in sorted((model.aliases or {}).items())},
                "versions": {},
            }
            if timestamps:
                entry["creation_timestamp"] = model.creation_timestamp
                entry["last_updated_timestamp"] = model.last_updated_timestamp
            snapshot[model.name] = entry
        token = page.token
        if not token:
            break
    for name, entry in snapshot.items():
        entry["versions"] = _versions(client, name, timestamps)
    return dict(sorted(snapshot.items()))


def _versions(client: MlflowClient, name: str, timestamps: bool) -> dict[int, dict[str, Any]]:
    versions: dict[int, dict[str, Any]] = {}
    # Quote the name for the filter the way MLflow's grammar expects.
    quoted = "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"
    token: str | None = None
    while True:
        page = client.search_model_versions(f"name = {quoted}", max_results=PAGE, page_token=token)
        for mv in page:
            if mv.name != name:
                continue
            version: dict[str, Any] = {
                "stage": mv.current_stage,
                "status": mv.status,
                "run_id": mv.run_id,
                "tags": dict(sorted((mv.tags or {}).items())),
                "aliases": sorted(mv.aliases or []),
                "description": mv.description or "",
                "source": mv.source,
            }
            if timestamps:
                version["creation_timestamp"] = mv.creation_timestamp
                version["last_updated_timestamp"] = mv.last_updated_timestamp
            versions[int(mv.version)] = version
        token = page.token
        if not token:
            break
    return dict(sorted(versions.items()))
