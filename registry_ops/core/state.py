"""Observed state: what MLflow holds now, as plain data.

The adapter fills it with batched reads; the planner, gates and renderers
only read it. Run metrics are fetched separately and only for the versions a
plan needs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

# Tags registry-ops writes itself; they are never drift and never pruned.
PROVENANCE_PREFIX = "registry_ops."
# MLflow stores prompts as registered models carrying this tag; never touch one.
PROMPT_TAG = "mlflow.prompt.is_prompt"
# Tags other tools own (MLflow itself, Databricks): they change them whenever they like, so
# registry-ops never exports, plans, prunes or lists them, whatever a manifest says.
RESERVED_TAG_PREFIXES = ("mlflow.", "databricks.")
EVAL_PREFIX = PROVENANCE_PREFIX + "eval."


@dataclass(frozen=True)
class ObservedVersion:
    """One model version: its stage (MLflow's string, "None" when unset), source run and,
    for a version of an MLflow 3 logged model, that model's id (``m-...``)."""

    version: int
    stage: str = "None"
    run_id: str | None = None
    creation_timestamp: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    status: str = "READY"
    #: MLflow's last-updated time (ms): a stage change or a description edit sets it
    last_updated_timestamp: int = 0
    model_id: str | None = None


def logged_model_id(model_id: str | None, source: str | None) -> str | None:
    """The logged model a version was registered from: MLflow's ``model_id`` field, else
    the id in a ``models:/<id>`` source (the field came back empty on sqlite and over
    HTTP for versions registered from ``models:/m-...``). ``models:/name/3`` and
    ``models:/name@alias`` name registered versions, not logged models."""
    if model_id:
        return model_id
    if not source or not source.startswith("models:/"):
        return None
    rest = source[len("models:/") :].strip("/")
    if not rest or "/" in rest or "@" in rest:
        return None
    return rest


@dataclass(frozen=True)
class ObservedModel:
    """One registered model with its aliases and every version."""

    name: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    versions: dict[int, ObservedVersion] = field(default_factory=dict)

    def stage_holders(self, stage: str) -> list[int]:
        """Versions currently in ``stage``, oldest first."""
        return sorted(v.version for v in self.versions.values() if v.stage == stage)

    @property
    def is_prompt(self) -> bool:
        """MLflow keeps prompts in the registry too; they are not ours to reconcile."""
        return self.tags.get(PROMPT_TAG, "").lower() == "true"

    @property
    def managed(self) -> bool:
        """registry-ops has written to this model before (a tag of ours on it or a version)."""
        # (Evaluation caches do not count: a plan writes those, and a plan alone
        # must not turn an adopted model into one with "missing" provenance.)
        return any(k.startswith(PROVENANCE_PREFIX) for k in self.tags) or any(
            PROVENANCE_PREFIX + "provenance" in v.tags for v in self.versions.values()
        )

    def holders(self, target: str) -> list[int]:
        """Versions holding ``alias:NAME`` or ``stage:NAME`` now."""
        kind, _, name = target.partition(":")
        if kind == "alias":
            return [self.aliases[name]] if name in self.aliases else []
        return self.stage_holders(name)

    def user_tags(self) -> dict[str, str]:
        """Model tags a manifest may manage: not registry-ops' own provenance tags, nor
        the ones MLflow or Databricks own (see :func:`reserved_tag`)."""
        return {
            k: v
            for k, v in self.tags.items()
            if not k.startswith(PROVENANCE_PREFIX) and not reserved_tag(k)
        }

    def snapshot(self) -> dict[str, Any]:
        """What a plan depends on, as JSON-ready data (saved in plan files)."""
        return {
            "description": self.description or "",
            "tags": dict(sorted(self.user_tags().items())),
            "aliases": dict(sorted(self.aliases.items())),
            "stages": {str(v): self.versions[v].stage for v in sorted(self.versions)},
        }


def reserved_tag(key: str) -> bool:
    """Whether a tag key belongs to another tool (``mlflow.*``, ``databricks.*``)."""
    return key.startswith(RESERVED_TAG_PREFIXES)


@dataclass(frozen=True)
class Observed:
    """The live state of the models a command looked at (absent models are missing)."""

    models: dict[str, ObservedModel]

    def get(self, name: str) -> ObservedModel | None:
        """The observed model, or None when it is not registered."""
        return self.models.get(name)


def version_facts(version: ObservedVersion) -> dict[str, Any]:
    """What a gate may read of a version besides metrics: the evidence a saved plan pins."""
    return {
        "run_id": version.run_id,
        "status": version.status,
        "created": version.creation_timestamp,
        # Evaluation caches are written by plans themselves; the scores they hold
        # are pinned in the gate results instead.
        "tags": {k: v for k, v in sorted(version.tags.items()) if not k.startswith(EVAL_PREFIX)},
    }


def fingerprint(snapshot: dict[str, Any] | None) -> str:
    """A stable hash of a model snapshot; a saved plan compares it before applying."""
    text = json.dumps(snapshot, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def snapshot_of(model: ObservedModel | None) -> dict[str, Any] | None:
    """The snapshot of a model, or None for a model that does not exist."""
    return model.snapshot() if model else None
