"""The plan as data: typed changes, per-model plans, JSON (de)serialisation.

A plan is what ``plan`` prints and ``apply`` executes. It carries the
evidence for every promotion (gate results) and, per model, a snapshot and
fingerprint of the live state it was computed from, so a saved plan can be
refused when the registry has moved on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import IO, Any

from registry_ops.errors import PlanFileError

FORMAT_VERSION = 1
ACTIONS = (
    "update_description",
    "set_model_tag",
    "delete_model_tag",
    "set_alias",
    "transition_stage",
    "delete_alias",
)
PROMOTION_STAGES = ("Production", "Staging")


@dataclass
class GateResult:
    """The outcome of one gate for one promotion."""

    name: str
    passed: bool
    detail: str
    policy: str | None = None
    observed: float | None = None
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "passed": self.passed,
            "detail": self.detail,
            "policy": self.policy,
            "observed": self.observed,
            "threshold": self.threshold,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=data["name"],
            passed=bool(data["passed"]),
            detail=data.get("detail", ""),
            policy=data.get("policy"),
            observed=data.get("observed"),
            threshold=data.get("threshold"),
        )


@dataclass
class Change:
    """One change to one registered model.

    ``version`` is the version the change is about (the new holder of an alias
    or stage); ``from_version`` the version that holds the target now.
    """

    action: str
    model: str
    version: int | None = None
    from_version: int | None = None
    alias: str | None = None
    stage: str | None = None
    from_stage: str | None = None
    key: str | None = None
    value: str | None = None
    from_value: str | None = None
    reason: str = "manifest"
    gates: list[GateResult] = field(default_factory=list)
    blocked: bool = False

    @property
    def target(self) -> str | None:
        """``alias:NAME`` or ``stage:NAME`` for alias and stage changes."""
        if self.alias is not None:
            return f"alias:{self.alias}"
        if self.stage is not None:
            return f"stage:{self.stage}"
        return None

    @property
    def target_name(self) -> str | None:
        """The alias or stage name alone (what ``gates:`` in a manifest is keyed by)."""
        return self.alias if self.alias is not None else self.stage

    @property
    def is_promotion(self) -> bool:
        """Gives a version a target it does not hold now: only these run gates."""
        if self.action == "set_alias":
            return True
        return self.action == "transition_stage" and self.stage in PROMOTION_STAGES

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; keys that do not apply to the action are left out."""
        out: dict[str, Any] = {"action": self.action}
        if self.alias is not None:
            out["alias"] = self.alias
        if self.stage is not None:
            out["stage"] = self.stage
            out["from_stage"] = self.from_stage
        if self.key is not None:
            out["key"] = self.key
        if self.action in ("set_model_tag", "delete_model_tag", "update_description"):
            out["value"] = self.value
            out["from_value"] = self.from_value
        out["version"] = self.version
        out["from_version"] = self.from_version
        out["reason"] = self.reason
        out["gates"] = [g.to_dict() for g in self.gates]
        out["blocked"] = self.blocked
        return out

    @classmethod
    def from_dict(cls, model: str, data: dict[str, Any]) -> Change:
        """Inverse of :meth:`to_dict`."""
        if data.get("action") not in ACTIONS:
            raise PlanFileError(f"unknown action in plan file: {data.get('action')!r}")
        return cls(
            action=data["action"],
            model=model,
            version=data.get("version"),
            from_version=data.get("from_version"),
            alias=data.get("alias"),
            stage=data.get("stage"),
            from_stage=data.get("from_stage"),
            key=data.get("key"),
            value=data.get("value"),
            from_value=data.get("from_value"),
            reason=data.get("reason", "manifest"),
            gates=[GateResult.from_dict(g) for g in data.get("gates", [])],
            blocked=bool(data.get("blocked", False)),
        )


@dataclass
class ModelPlan:
    """The ordered changes for one model and the live state they were computed from."""

    model: str
    manifest: str
    changes: list[Change]
    snapshot: dict[str, Any] | None
    fingerprint: str

    @property
    def blocked(self) -> bool:
        """A model with any blocked promotion applies none of its changes."""
        return any(c.blocked for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "model": self.model,
            "manifest": self.manifest,
            "blocked": self.blocked,
            "changes": [c.to_dict() for c in self.changes],
            "fingerprint": self.fingerprint,
            "observed": self.snapshot,
        }


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
    def status(self) -> str:
        """``blocked`` if any promotion is blocked, else ``changes`` or ``no_changes``."""
        if any(m.blocked for m in self.models):
            return "blocked"
        return "changes" if self.changes else "no_changes"

    def to_dict(self) -> dict[str, Any]:
        """The JSON plan (``plan --format json`` and saved plan files)."""
        changes = self.changes
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
            },
            "models": [m.to_dict() for m in self.models],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Plan:
        """Rebuild a saved plan; raise PlanFileError on anything unexpected."""
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            raise PlanFileError(
                f"not a registry-ops plan of format_version {FORMAT_VERSION} "
                f"(got {data.get('format_version') if isinstance(data, dict) else data!r})"
            )
        try:
            models = [
                ModelPlan(
                    model=m["model"],
                    manifest=m.get("manifest", ""),
                    changes=[Change.from_dict(m["model"], c) for c in m["changes"]],
                    snapshot=m.get("observed"),
                    fingerprint=m["fingerprint"],
                )
                for m in data["models"]
            ]
        except (KeyError, TypeError, AttributeError) as exc:
            raise PlanFileError(f"malformed plan file: missing or bad field {exc}") from None
        return cls(
            models=models,
            created_at=data.get("created_at", ""),
            tracking_uri=data.get("tracking_uri", ""),
            registry_uri=data.get("registry_uri", ""),
            git=data.get("git"),
        )


def load_plan(stream: IO[str], name: str) -> Plan:
    """Read a saved plan file."""
    try:
        data = json.load(stream)
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{name}: not a JSON plan file: {exc}") from None
    try:
        return Plan.from_dict(data)
    except PlanFileError as exc:
        raise PlanFileError(f"{name}: {exc}") from None
