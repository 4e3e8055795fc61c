"""The actions, one class each: its fields, its JSON fields, and how it reads, executes,
verifies and simulates itself. Their order here is the order the plan schema lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from registry_ops.core.changes.base import PROMOTION_STAGES, Change, Writer
from registry_ops.core.state import ObservedModel


def _q(value: str | None) -> str:
    if value is None:
        return "(unset)"
    short = value if len(value) <= 60 else value[:57] + "..."
    return repr(short)


def _drift(change: Change) -> str:
    """Why a change that reverts an out-of-band edit is there, in a few words."""
    if change.reason != "drift" or not change.drift:
        return ""
    info = change.drift
    if "put_by_registry_ops_at" in info:
        when = str(info["put_by_registry_ops_at"])[:19]
        text = f"moved outside registry-ops; registry-ops put v{change.version} there at {when}"
    elif "entered_outside_registry_ops" in info:
        text = "took the stage outside registry-ops"
    elif "no_registry_ops_record" in info:
        text = "differs from the manifest; registry-ops has no record of this model yet"
    else:
        commit = str(info.get("last_applied_commit") or "")[:12]
        text = f"changed outside registry-ops since the last apply ({commit})"
    return f" [drift: {text}]" + (" [PROTECTED]" if info.get("protected") else "")


@dataclass(kw_only=True)
class UpdateDescription(Change, action="update_description"):
    """The registered model's description becomes ``value``."""

    value: str
    from_value: str | None = None

    def _own_json(self) -> dict[str, Any]:
        return {"value": self.value, "from_value": self.from_value}

    def describe(self) -> tuple[str, str]:
        return "~", f"description: {_q(self.from_value)} -> {_q(self.value)}" + _drift(self)

    def execute(self, registry: Writer) -> None:
        registry.update_description(self.model, self.value)

    def holds(self, model: ObservedModel) -> bool:
        return (model.description or "") == self.value

    def simulate(self, model: ObservedModel) -> ObservedModel:
        return replace(model, description=self.value)


@dataclass(kw_only=True)
class SetModelTag(Change, action="set_model_tag"):
    """The model tag ``key`` is set to ``value`` (it was ``from_value``, None if unset)."""

    key: str
    value: str
    from_value: str | None = None

    def _own_json(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "from_value": self.from_value}

    def describe(self) -> tuple[str, str]:
        if self.from_value is None:
            return "+", f"tag {self.key} = {_q(self.value)}" + _drift(self)
        return "~", f"tag {self.key}: {_q(self.from_value)} -> {_q(self.value)}" + _drift(self)

    def execute(self, registry: Writer) -> None:
        registry.set_model_tag(self.model, self.key, self.value)

    def holds(self, model: ObservedModel) -> bool:
        return model.tags.get(self.key) == self.value

    def simulate(self, model: ObservedModel) -> ObservedModel:
        return replace(model, tags={**model.tags, self.key: self.value})


@dataclass(kw_only=True)
class DeleteModelTag(Change, action="delete_model_tag"):
    """The model tag ``key`` (whose value was ``from_value``) is deleted."""

    key: str
    from_value: str | None = None

    @property
    def value(self) -> None:
        """What the tag holds after the change: nothing (the JSON plan says null)."""
        return None

    def _own_json(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "from_value": self.from_value}

    def describe(self) -> tuple[str, str]:
        return "-", f"tag {self.key} (was {_q(self.from_value)})"

    def execute(self, registry: Writer) -> None:
        registry.delete_model_tag(self.model, self.key)

    def holds(self, model: ObservedModel) -> bool:
        return self.key not in model.tags

    def simulate(self, model: ObservedModel) -> ObservedModel:
        return replace(model, tags={k: v for k, v in model.tags.items() if k != self.key})


@dataclass(kw_only=True)
class SetAlias(Change, action="set_alias"):
    """The alias points at ``version`` (it pointed at ``from_version``, None if unset)."""

    alias: str
    version: int
    from_version: int | None = None

    @property
    def target(self) -> str:
        return f"alias:{self.alias}"

    @property
    def target_name(self) -> str:
        return self.alias

    @property
    def is_promotion(self) -> bool:
        return self.reason != "provenance"

    def _own_json(self) -> dict[str, Any]:
        return {"alias": self.alias}

    def describe(self) -> tuple[str, str]:
        if self.reason == "provenance":
            return "~", f"alias {self.alias}: v{self.version} (held; stamp missing provenance)"
        if self.from_version is None:
            return "+", f"alias {self.alias} -> v{self.version}" + _drift(self)
        return "~", f"alias {self.alias}: v{self.from_version} -> v{self.version}" + _drift(self)

    def execute(self, registry: Writer) -> None:
        registry.set_alias(self.model, self.alias, self.version)

    def holds(self, model: ObservedModel) -> bool:
        return model.aliases.get(self.alias) == self.version

    def simulate(self, model: ObservedModel) -> ObservedModel:
        return replace(model, aliases={**model.aliases, self.alias: self.version})


@dataclass(kw_only=True)
class TransitionStage(Change, action="transition_stage"):
    """``version`` moves from ``from_stage`` to ``stage``; ``from_version`` is the
    holder it replaces, if any (archived by a change of its own)."""

    version: int
    stage: str
    from_stage: str | None = None
    from_version: int | None = None

    @property
    def target(self) -> str:
        return f"stage:{self.stage}"

    @property
    def target_name(self) -> str:
        return self.stage

    @property
    def is_promotion(self) -> bool:
        return self.reason != "provenance" and self.stage in PROMOTION_STAGES

    def _own_json(self) -> dict[str, Any]:
        return {"stage": self.stage, "from_stage": self.from_stage}

    def describe(self) -> tuple[str, str]:
        if self.reason == "provenance":
            return "~", f"stage {self.stage}: v{self.version} (held; stamp missing provenance)"
        text = f"stage {self.stage}: v{self.version} ({self.from_stage} -> {self.stage})"
        if self.from_version is not None:
            text += f", replacing v{self.from_version}"
        if self.reason in ("displaced", "retention"):
            text += f" [{self.reason}]"
        text += _drift(self)
        return ("-" if self.stage == "Archived" else "~"), text

    def execute(self, registry: Writer) -> None:
        registry.transition_stage(self.model, self.version, self.stage)

    def holds(self, model: ObservedModel) -> bool:
        version = model.versions.get(self.version)
        return version is not None and version.stage == self.stage

    def simulate(self, model: ObservedModel) -> ObservedModel:
        moved = replace(model.versions[self.version], stage=self.stage)
        return replace(model, versions={**model.versions, self.version: moved})


@dataclass(kw_only=True)
class DeleteAlias(Change, action="delete_alias"):
    """The alias (which pointed at ``from_version``) is deleted."""

    alias: str
    from_version: int | None = None

    @property
    def target(self) -> str:
        return f"alias:{self.alias}"

    @property
    def target_name(self) -> str:
        return self.alias

    def _own_json(self) -> dict[str, Any]:
        return {"alias": self.alias}

    def describe(self) -> tuple[str, str]:
        return "-", f"alias {self.alias} (was v{self.from_version})"

    def execute(self, registry: Writer) -> None:
        registry.delete_alias(self.model, self.alias)

    def holds(self, model: ObservedModel) -> bool:
        return self.alias not in model.aliases

    def simulate(self, model: ObservedModel) -> ObservedModel:
        return replace(model, aliases={k: v for k, v in model.aliases.items() if k != self.alias})
