"""Registry writes skip MlflowClient's per-write prompt check, and work without the shortcut.

Every public ``MlflowClient`` registry write first reads the registered model
to refuse prompts: one extra request per write over HTTP. registry-ops sends
its writes through MLflow's own registry client instead (a private name,
confined to ``registry_writer``), and falls back to the public client when a
later MLflow lacks it. Both paths run here on a real sqlite store; the store's
own ``get_registered_model`` is counted (the calls still happen).
"""

from __future__ import annotations

from typing import Any

import pytest

from registry_ops.registry import Registry
from registry_ops.registry.connection import registry_writer


class _PublicOnly:
    """A real MlflowClient as an MLflow without ``_get_registry_client`` would show it."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        if name == "_get_registry_client":
            raise AttributeError(name)
        return getattr(self._client, name)


def _count_model_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the store reads a registered model (the prompt check is one)."""
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    calls = [0]
    original = SqlAlchemyStore.get_registered_model

    def counting(self: SqlAlchemyStore, name: str) -> Any:
        calls[0] += 1
        return original(self, name)

    monkeypatch.setattr(SqlAlchemyStore, "get_registered_model", counting)
    return calls


@pytest.mark.parametrize("shortcut", [True, False], ids=["registry-client", "public-client"])
def test_writes_land_through_either_client(  # type: ignore[no-untyped-def]
    seeder, tracking_uri: str, monkeypatch: pytest.MonkeyPatch, shortcut: bool
):
    seeder.version("clf", val_accuracy=0.8)
    seeder.version("clf", val_accuracy=0.9)
    registry = Registry(tracking_uri)
    if shortcut:
        assert registry._writer is not registry.client  # MLflow's registry client
    else:
        registry._writer = registry_writer(_PublicOnly(registry.client))
        assert isinstance(registry._writer, _PublicOnly)
    reads = _count_model_reads(monkeypatch)

    registry.set_alias("clf", "champion", 2)
    registry.set_alias("clf", "challenger", 1)
    registry.delete_alias("clf", "challenger")
    registry.transition_stage("clf", 1, "Staging")
    registry.set_model_tag("clf", "team", "a")
    registry.set_model_tag("clf", "gone", "x")
    registry.delete_model_tag("clf", "gone")
    registry.update_description("clf", "spirals")
    registry.set_version_tag("clf", 2, "checked", "yes")
    writes = 9
    assert reads[0] == (0 if shortcut else writes)

    model = registry.read_model("clf")
    assert model is not None
    assert model.aliases == {"champion": 2}
    assert model.tags.get("team") == "a" and "gone" not in model.tags
    assert model.description == "spirals"
    assert model.versions[1].stage == "Staging"
    assert model.versions[2].tags.get("checked") == "yes"
    assert registry.read_model_tags(["clf", "absent"])["clf"].get("team") == "a"
    assert registry.read_versions(["clf"])["clf"].keys() == {1, 2}
