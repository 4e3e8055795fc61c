"""One class per change action: how it reads, executes, verifies and simulates itself.

Adding an action touches this table only: the renderers describe a change
through it, apply executes and verifies through it, and the planner's
property tests simulate MLflow through it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar, Protocol

from registry_ops.core.state import ObservedModel
from registry_ops.errors import ApplyFailed

if TYPE_CHECKING:  # the adapter imports mlflow: keep it off validate's path
    from registry_ops.core.plan import Change
    from registry_ops.registry import Registry


class Writer(Protocol):
    """The registry writes actions need (the MLflow adapter implements them)."""

    def update_description(self, model: str, description: str) -> None: ...
    def set_model_tag(self, model: str, key: str, value: str) -> None: ...
    def delete_model_tag(self, model: str, key: str) -> None: ...
    def set_alias(self, model: str, alias: str, version: int) -> None: ...
    def delete_alias(self, model: str, alias: str) -> None: ...
    def transition_stage(self, model: str, version: int, stage: str) -> None: ...


class Action:
    """Base: subclasses set ``name`` and implement the four verbs."""

    name: ClassVar[str]

    def describe(self, change: Change) -> tuple[str, str]:
        """``(symbol, sentence)``: ``+`` adds, ``~`` changes, ``-`` removes."""
        raise NotImplementedError

    def execute(self, change: Change, registry: Writer | Registry) -> None:
        """Make the change in the registry (one write)."""
        raise NotImplementedError

    def holds(self, change: Change, model: ObservedModel) -> bool:
        """Whether ``model`` shows the change as done."""
        raise NotImplementedError

    def simulate(self, change: Change, model: ObservedModel) -> ObservedModel:
        """``model`` as MLflow leaves it after the change (plain data, for tests and checks)."""
        raise NotImplementedError


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
    else:
        commit = str(info.get("last_applied_commit") or "")[:12]
        text = f"changed outside registry-ops since the last apply ({commit})"
    return f" [drift: {text}]" + (" [PROTECTED]" if info.get("protected") else "")


def _version(change: Change) -> int:
    if change.version is None:
        raise ApplyFailed(f"{change.model}: {change.action} without a version")
    return change.version


class UpdateDescription(Action):
    name = "update_description"

    def describe(self, change: Change) -> tuple[str, str]:
        return "~", f"description: {_q(change.from_value)} -> {_q(change.value)}" + _drift(change)

    def execute(self, change: Change, registry: Writer | Registry) -> None:
        registry.update_description(change.model, change.value or "")

    def holds(self, change: Change, model: ObservedModel) -> bool:
        return (model.description or "") == (change.value or "")

    def simulate(self, change: Change, model: ObservedModel) -> ObservedModel:
        return replace(model, description=change.value or "")


class SetModelTag(Action):
    name = "set_model_tag"

    def describe(self, change: Change) -> tuple[str, str]:
        if change.from_value is None:
            return "+", f"tag {change.key} = {_q(change.value)}" + _drift(change)
        return "~", f"tag {change.key}: {_q(change.from_value)} -> {_q(change.value)}" + _drift(
            change
        )

    def execute(self, change: Change, registry: Writer | Registry) -> None:
        registry.set_model_tag(change.model, change.key or "", change.value or "")

    def holds(self, change: Change, model: ObservedModel) -> bool:
        return model.tags.get(change.key or "") == change.value

    def simulate(self, change: Change, model: ObservedModel) -> ObservedModel:
        return replace(model, tags={**model.tags, change.key or "": change.value or ""})


class DeleteModelTag(Action):
    name = "delete_model_tag"

    def describe(self, change: Change) -> tuple[str, str]:
        return "-", f"tag {change.key} (was {_q(change.from_value)})"

    def execute(self, change: Change, registry: Writer | Registry) -> None:
        registry.delete_model_tag(change.model, change.key or "")

    def holds(self, change: Change, model: ObservedModel) -> bool:
        return change.key not in model.tags

    def simulate(self, change: Change, model: ObservedModel) -> ObservedModel:
        return replace(model, tags={k: v for k, v in model.tags.items() if k != change.key})


class SetAlias(Action):
    name = "set_alias"

    def describe(self, change: Change) -> tuple[str, str]:
        if change.reason == "provenance":
            return "~", f"alias {change.alias}: v{change.version} (held; stamp missing provenance)"
        if change.from_version is None:
            return "+", f"alias {change.alias} -> v{change.version}" + _drift(change)
        return "~", (
            f"alias {change.alias}: v{change.from_version} -> v{change.version}" + _drift(change)
        )

    def execute(self, change: Change, registry: Writer | Registry) -> None:
        registry.set_alias(change.model, change.alias or "", _version(change))

    def holds(self, change: Change, model: ObservedModel) -> bool:
        return model.aliases.get(change.alias or "") == change.version

    def simulate(self, change: Change, model: ObservedModel) -> ObservedModel:
        return replace(model, aliases={**model.aliases, change.alias or "": _version(change)})


class DeleteAlias(Action):
    name = "delete_alias"

    def describe(self, change: Change) -> tuple[str, str]:
        return "-", f"alias {change.alias} (was v{change.from_version})"

    def execute(self, change: Change, registry: Writer | Registry) -> None:
        registry.delete_alias(change.model, change.alias or "")

    def holds(self, change: Change, model: ObservedModel) -> bool:
        return change.alias not in model.aliases

    def simulate(self, change: Change, model: ObservedModel) -> ObservedModel:
        return replace(model, aliases={k: v for k, v in model.aliases.items() if k != change.alias})


class TransitionStage(Action):
    name = "transition_stage"

    def describe(self, change: Change) -> tuple[str, str]:
        if change.reason == "provenance":
            return "~", f"stage {change.stage}: v{change.version} (held; stamp missing provenance)"
        text = f"stage {change.stage}: v{change.version} ({change.from_stage} -> {change.stage})"
        if change.from_version is not None:
            text += f", replacing v{change.from_version}"
        if change.reason in ("displaced", "retention"):
            text += f" [{change.reason}]"
        text += _drift(change)
        return ("-" if change.stage == "Archived" else "~"), text

    def execute(self, change: Change, registry: Writer | Registry) -> None:
        registry.transition_stage(change.model, _version(change), change.stage or "")

    def holds(self, change: Change, model: ObservedModel) -> bool:
        version = model.versions.get(change.version or -1)
        return version is not None and version.stage == change.stage

    def simulate(self, change: Change, model: ObservedModel) -> ObservedModel:
        v = _version(change)
        versions = {**model.versions, v: replace(model.versions[v], stage=change.stage or "None")}
        return replace(model, versions=versions)


ACTIONS: dict[str, Action] = {
    cls.name: cls()
    for cls in (
        UpdateDescription,
        SetModelTag,
        DeleteModelTag,
        SetAlias,
        TransitionStage,
        DeleteAlias,
    )
}


def action(change: Change) -> Action:
    """The action object for ``change`` (Plan.from_dict refuses unknown actions)."""
    return ACTIONS[change.action]
