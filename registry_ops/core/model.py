"""Desired state as plain data: manifests, policies and the gates they name.

Everything here is immutable and free of I/O; the loader builds it, the
planner and the gates read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

# Stages a manifest may assign. "None" is MLflow's name for "no stage"; it is
# never a target.
STAGES = ("Production", "Staging", "Archived")


@dataclass(frozen=True)
class Location:
    """Where a value stands in its source file (1-based line and column)."""

    file: str
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True)
class Retention:
    """What happens to versions the manifest names nowhere."""

    archive_unlisted: bool = False
    keep_latest: int = 0


@dataclass(frozen=True)
class Prune:
    """Opt-in ownership: delete aliases / model tags that the manifest does not name."""

    aliases: bool = False
    tags: bool = False


@dataclass(frozen=True)
class Override:
    """An emergency override of one target's gates: they still run, a failure does not block."""

    reason: str
    expires: date  # the last day it counts (UTC)
    location: Location

    def active(self, today: date) -> bool:
        """Counts through its expiry day."""
        return today <= self.expires


@dataclass(frozen=True)
class ModelManifest:
    """The desired state of one registered model.

    A target listed with no version is owned and empty: an alias given ``None``,
    a stage given ``()``. Its gates stay valid (``propose`` fills it), and apply
    empties it if anything holds it.
    """

    model: str
    file: str
    description: str | None = None
    tags: dict[str, str] | None = None
    aliases: dict[str, int | None] = field(default_factory=dict)
    stages: dict[str, tuple[int, ...]] = field(default_factory=dict)
    gates: dict[str, str] = field(default_factory=dict)
    retention: Retention = field(default_factory=Retention)
    prune: Prune = field(default_factory=Prune)
    overrides: dict[str, Override] = field(default_factory=dict)
    protect: tuple[str, ...] = ()  # targets whose out-of-band moves are an alert
    # Source positions of values, keyed like ("aliases", "champion"), for errors
    # raised after loading (e.g. a version that does not exist in MLflow).
    locations: dict[tuple[str, ...], Location] = field(
        default_factory=dict, compare=False, repr=False
    )

    def named_versions(self) -> set[int]:
        """Every version this manifest gives an alias or a stage."""
        named = {v for v in self.aliases.values() if v is not None}
        for versions in self.stages.values():
            named.update(versions)
        return named

    def where(self, *path: str) -> Location:
        """The source location of ``path``, falling back to the file alone."""
        return self.locations.get(tuple(path), Location(self.file))


@dataclass(frozen=True)
class GateSpec:
    """One gate of a policy, as written: its kind and its parameters."""

    kind: str
    params: dict[str, Any]
    index: int


@dataclass(frozen=True)
class Policy:
    """A named list of gates a version must pass to take a target."""

    name: str
    file: str
    gates: tuple[GateSpec, ...]
    description: str | None = None
    allow_rollback: bool = False


@dataclass(frozen=True)
class Desired:
    """Every manifest and policy under a root, validated."""

    root: str
    manifests: dict[str, ModelManifest]
    policies: dict[str, Policy]
    warnings: tuple[str, ...] = ()
