"""The plan as data: per-model plans of typed changes, and their JSON form.

A plan is what ``plan`` prints and ``apply`` executes. It carries the
evidence for every promotion (gate results and what they read) and, per
model, a snapshot and fingerprint of the live state it was computed from.

``digest`` is a SHA-256 over everything apply reads (changes, gate results
with their evidence, snapshots, the digests of the manifests and policies
planned from, target registry, manifests commit, creation time, format
version). Signing it, and checking a saved plan's seal and shape, is
:mod:`registry_ops.pipeline.seal`'s. Derived fields (``status``,
``summary``, ``blocked``) are recomputed on load, never read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from registry_ops.core.changes import Change
from registry_ops.core.gate_result import jsonable
from registry_ops.errors import PlanFileError

FORMAT_VERSION = 1


@dataclass
class ModelPlan:
    """The ordered changes for one model, the live state they were computed from,
    and the evidence its gates read (version facts and run metrics)."""

    model: str
    manifest: str
    changes: list[Change]
    snapshot: dict[str, Any] | None
    fingerprint: str
    evidence: dict[str, Any] = field(default_factory=dict)
    # Aliases and model tags nobody manages (not in the manifest, no prune): shown, not sealed.
    unmanaged: dict[str, Any] = field(default_factory=dict)
    # The manifest and policies the changes were planned from: path -> digest of its
    # content (registry_ops.pipeline.binding). None in a plan made before they were recorded.
    desired: dict[str, str] | None = None

    @property
    def blocked(self) -> bool:
        """A model with any blocked promotion applies none of its changes."""
        return any(c.blocked for c in self.changes)

    def sealed(self) -> dict[str, Any]:
        """What the digest covers (no derived fields)."""
        sealed = {
            "model": self.model,
            "manifest": self.manifest,
            "changes": [c.sealed() for c in self.changes],
            "fingerprint": self.fingerprint,
            "observed": self.snapshot,
            "evidence": jsonable(self.evidence),
        }
        # Left out when absent, so an older plan's digest still checks out and apply
        # can refuse it for what it lacks rather than as edited.
        if self.desired is not None:
            sealed["desired"] = self.desired
        return sealed

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``desired`` only where recorded: an older plan renders as saved)."""
        out = {
            "model": self.model,
            "manifest": self.manifest,
            "blocked": self.blocked,
            "changes": [c.to_dict() for c in self.changes],
            "fingerprint": self.fingerprint,
            "observed": self.snapshot,
            "evidence": jsonable(self.evidence),
            "unmanaged": self.unmanaged,
        }
        if self.desired is not None:
            out["desired"] = self.desired
        return out


@dataclass
class Plan:
    """Everything one ``plan`` run found, across models."""

    models: list[ModelPlan]
    created_at: str = ""
    tracking_uri: str = ""
    registry_uri: str = ""
    git: dict[str, Any] | None = None

    @property
    def changes(self) -> list[Change]:
        """Every change of every model, in apply order."""
        return [c for m in self.models for c in m.changes]

    @property
    def alerts(self) -> list[Change]:
        """Changes that revert an out-of-band move of a protected target."""
        return [c for c in self.changes if c.alert]

    @property
    def status(self) -> str:
        """``blocked`` if any promotion is blocked, else ``changes`` or ``no_changes``."""
        if any(m.blocked for m in self.models):
            return "blocked"
        return "changes" if self.changes else "no_changes"

    @property
    def commit(self) -> str | None:
        """The manifests commit the plan was made from (None outside git)."""
        return self.git.get("commit") if self.git else None

    def sealed(self) -> dict[str, Any]:
        """Everything apply acts on, and nothing derived: the digest's input."""
        return {
            "format_version": FORMAT_VERSION,
            "created_at": self.created_at,
            "tracking_uri": self.tracking_uri,
            "registry_uri": self.registry_uri,
            "git": self.git,
            "models": [m.sealed() for m in self.models],
        }

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`sealed`."""
        text = json.dumps(
            self.sealed(), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
        )
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """The JSON plan (``plan --format json`` and saved plan files), unsigned."""
        changes = self.changes
        digest = self.digest
        return {
            "format_version": FORMAT_VERSION,
            "status": self.status,
            "created_at": self.created_at,
            "tracking_uri": self.tracking_uri,
            "registry_uri": self.registry_uri,
            "git": self.git,
            "summary": {
                "models": len(self.models),
                "models_changed": sum(1 for m in self.models if m.changes),
                "changes": len(changes),
                "blocked": sum(1 for c in changes if c.blocked),
                "overridden": sum(1 for c in changes if c.overridden),
                "drift": sum(1 for c in changes if c.reason == "drift"),
                "alerts": len(self.alerts),
                "ungated": sum(1 for c in changes if c.ungated),
            },
            "models": [m.to_dict() for m in self.models],
            "digest": digest,
            "signature": None,  # unsigned: registry_ops.pipeline.seal.signed signs it
        }

    @classmethod
    def from_dict(cls, data: Any) -> Plan:
        """Rebuild a plan from its JSON form (checked against the plan schema first:
        registry_ops.pipeline.seal); PlanFileError on an unknown format or action."""
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            got = data.get("format_version") if isinstance(data, dict) else type(data).__name__
            raise PlanFileError(
                f"not a registry-ops plan of format_version {FORMAT_VERSION} (got {got!r})"
            )
        models = [
            ModelPlan(
                model=m["model"],
                manifest=m.get("manifest", ""),
                changes=[Change.from_dict(m["model"], c) for c in m["changes"]],
                snapshot=m.get("observed"),
                fingerprint=m["fingerprint"],
                evidence=m.get("evidence", {}),
                unmanaged=m.get("unmanaged") or {},
                desired=m.get("desired"),
            )
            for m in data["models"]
        ]
        return cls(
            models=models,
            created_at=data.get("created_at", ""),
            tracking_uri=data.get("tracking_uri", ""),
            registry_uri=data.get("registry_uri", ""),
            git=data.get("git"),
        )
