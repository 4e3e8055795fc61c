"""What every change is: its common fields, its JSON form, and the verbs each action implements.

Each action is a subclass (``registry_ops.core.changes.actions``) declared
with ``action="name"``: that registers it in :data:`ACTIONS`, through which
:meth:`Change.from_dict` builds the right class and the plan schema lists
the actions it accepts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import KW_ONLY, MISSING, dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from registry_ops.core.gate_result import GateResult, jsonable
from registry_ops.core.state import ObservedModel
from registry_ops.errors import PlanFileError

PROMOTION_STAGES = ("Production", "Staging")


class Writer(Protocol):
    """The registry writes changes need (the MLflow adapter implements them)."""

    def update_description(self, model: str, description: str) -> None: ...
    def set_model_tag(self, model: str, key: str, value: str) -> None: ...
    def delete_model_tag(self, model: str, key: str) -> None: ...
    def set_alias(self, model: str, alias: str, version: int) -> None: ...
    def delete_alias(self, model: str, alias: str) -> None: ...
    def transition_stage(self, model: str, version: int, stage: str) -> None: ...


class _Absent:
    """The value None, for a change that has no field of this name.

    A non-data descriptor, so a subclass's dataclass field of the same name
    (kept in the instance) wins over it; read on a class it raises
    AttributeError, so that dataclasses does not take it for that field's
    default and the field stays required.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type | None = None) -> None:
        if instance is None:
            raise AttributeError(self.name)
        return None


# action name -> its class, in the order the plan schema lists them
ACTIONS: dict[str, type[Change]] = {}


@dataclass
class Change(ABC):
    """One change to one registered model: a subclass per action.

    ``version`` is the version the change is about (the new holder of an alias
    or stage); ``from_version`` the version that holds the target now.
    ``reason`` says why: ``manifest``, ``prune``, ``displaced``, ``retention``,
    ``drift``, or ``provenance`` (the target is held but its holder was never
    stamped).
    """

    model: str
    _: KW_ONLY
    reason: str = "manifest"
    gates: list[GateResult] = field(default_factory=list)
    # An emergency override of this target's gates, from the manifest:
    # {"reason", "expires", "author", "active"}; an expired one is inactive.
    override: dict[str, Any] | None = None
    # A return to a version that held the target before, exempt from the gates
    # by its policy: {"version", "held_from", "held_to"}.
    rollback: dict[str, Any] | None = None
    # For reason "drift": what the registry says of the out-of-band edit
    # ({"put_by_registry_ops_at" | "entered_outside_registry_ops" | "last_applied_commit" |
    # "no_registry_ops_record", "protected"}).
    drift: dict[str, Any] | None = None
    # a policy applies to this promotion (even one with no result yet); display only
    gated: bool = field(default=False, compare=False)

    # The action's name in the JSON plan (set by the ``action=`` of each subclass).
    action: ClassVar[str]

    # Fields some actions have, readable on every change (None where the action
    # has none) for code that handles every kind of change alike. mypy reads them
    # as read-only properties a subclass's field may override; at run time a
    # property would shadow that field (a data descriptor wins over the
    # instance), hence _Absent.
    if TYPE_CHECKING:

        @property
        def version(self) -> int | None:
            """The version the change gives the target to."""

        @property
        def from_version(self) -> int | None:
            """The version that holds the target now."""

        @property
        def alias(self) -> str | None:
            """The alias an alias change sets or deletes."""

        @property
        def stage(self) -> str | None:
            """The stage a transition moves the version to."""

        @property
        def from_stage(self) -> str | None:
            """The stage a transition moves the version from."""

        @property
        def key(self) -> str | None:
            """The model tag a tag change sets or deletes."""

    else:
        version = _Absent()
        from_version = _Absent()
        alias = _Absent()
        stage = _Absent()
        from_stage = _Absent()
        key = _Absent()

    def __init_subclass__(cls, action: str = "", **kwargs: Any) -> None:
        """``class SetAlias(Change, action="set_alias")`` names the action and registers it."""
        super().__init_subclass__(**kwargs)
        if action:
            if action in ACTIONS:
                raise TypeError(f"two change classes for the action {action!r}")
            cls.action = action
            ACTIONS[action] = cls

    # ---- what the change is -------------------------------------------------------------

    @property
    def failed(self) -> bool:
        """A gate of this change failed (whether or not an override lets it through)."""
        return any(not g.passed for g in self.gates)

    @property
    def overridden(self) -> bool:
        """A gate failed, and an active override lets the promotion through."""
        return self.failed and bool(self.override and self.override.get("active"))

    @property
    def blocked(self) -> bool:
        """Derived, never stored: a gate failed and no active override covers it."""
        return self.failed and not self.overridden

    @property
    def target(self) -> str | None:
        """``alias:NAME`` or ``stage:NAME`` for alias and stage changes."""
        return None

    @property
    def target_name(self) -> str | None:
        """The alias or stage name alone (what ``gates:`` in a manifest is keyed by)."""
        return None

    @property
    def is_promotion(self) -> bool:
        """Gives a version a target it does not hold now: only these run gates."""
        return False

    @property
    def alert(self) -> bool:
        """Reverts an out-of-band move of a protected target."""
        return bool(self.drift and self.drift.get("protected"))

    @property
    def ungated(self) -> bool:
        """A promotion that no policy gates: reviewers should see it."""
        return self.is_promotion and not self.gated and not self.gates and not self.rollback

    # ---- the JSON form ------------------------------------------------------------------

    def _own_json(self) -> dict[str, Any]:
        """The action's own fields, in the order the JSON plan lists them."""
        return {}

    def sealed(self) -> dict[str, Any]:
        """What the digest covers (no derived fields)."""
        out: dict[str, Any] = {"action": self.action, **self._own_json()}
        out["version"] = self.version
        out["from_version"] = self.from_version
        out["reason"] = self.reason
        out["gates"] = [g.to_dict() for g in self.gates]
        if self.override is not None:
            out["override"] = jsonable(self.override)
        if self.rollback is not None:
            out["rollback"] = jsonable(self.rollback)
        if self.drift is not None:
            out["drift"] = jsonable(self.drift)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; keys that do not apply to the action are left out."""
        return {
            **self.sealed(),
            "blocked": self.blocked,
            "overridden": self.overridden,
            "ungated": self.ungated,
            "alert": self.alert,
        }

    @classmethod
    def from_dict(cls, model: str, data: dict[str, Any]) -> Change:
        """Inverse of :meth:`to_dict`, as the class its ``action`` names (``blocked``
        and ``ungated`` are recomputed); PlanFileError on an unknown action or a
        missing field the action needs."""
        name = data.get("action")
        kind = ACTIONS.get(name) if isinstance(name, str) else None
        if kind is None:
            raise PlanFileError(f"unknown action in plan file: {name!r}")
        own: dict[str, Any] = {}
        for f in fields(kind):
            if f.name in _COMMON:
                continue
            own[f.name] = data.get(f.name)
            if own[f.name] is None and f.default is MISSING:
                raise PlanFileError(f"a {kind.action} change without {f.name!r} in plan file")
        gates = [GateResult.from_dict(g) for g in data.get("gates", [])]
        change = kind(
            model,
            reason=data.get("reason", "manifest"),
            gates=gates,
            override=data.get("override"),
            rollback=data.get("rollback"),
            drift=data.get("drift"),
            **own,
        )
        change.gated = bool(gates) or (change.is_promotion and data.get("ungated") is False)
        return change

    # ---- the four verbs -----------------------------------------------------------------

    @abstractmethod
    def describe(self) -> tuple[str, str]:
        """``(symbol, sentence)``: ``+`` adds, ``~`` changes, ``-`` removes."""

    @abstractmethod
    def execute(self, registry: Writer) -> None:
        """Make the change in the registry (one write)."""

    @abstractmethod
    def holds(self, model: ObservedModel) -> bool:
        """Whether ``model`` shows the change as done."""

    @abstractmethod
    def simulate(self, model: ObservedModel) -> ObservedModel:
        """``model`` as MLflow leaves it after the change (plain data, for tests and checks)."""


# The fields every change has; the others belong to its action.
_COMMON = frozenset(f.name for f in fields(Change))
