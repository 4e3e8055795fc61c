"""The registry of gate kinds: registration, discovery, lookup.

A kind is registered by decorating its :class:`~registry_ops.gates.GateKind`
subclass with :func:`register`. The kinds shipped with registry-ops are found
without an import list: the first lookup imports every module directly in
this package (not its subpackages, which hold libraries such as the live
evaluation, with their heavy imports), and each registers its kinds as it
is imported. Kinds defined elsewhere (a plugin, a test) register the same way
at runtime and are used by everything that looks kinds up here: the policy
schema, the loader's checks, :func:`build`.

Discovery stays cheap because kind modules import only the standard library,
:mod:`registry_ops.core` and this package; anything heavy (mlflow, pandas)
is reached through the evidence providers at evaluation time.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from registry_ops.core.model import Policy
from registry_ops.gates import Gate, GateKind, ParamProblem, Written
from registry_ops.gates.params import check_bounds

K = TypeVar("K", bound=type[GateKind])

_KINDS: dict[str, type[GateKind]] = {}
_discovered = False
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


def register(kind: K) -> K:
    """Class decorator: make a gate kind available to policies under ``kind.key``.

    Raises:
        TypeError: the class lacks a key or a schema, or another class has the key.
    """
    key = getattr(kind, "key", None)
    if not isinstance(key, str) or not _KEY.match(key):
        raise TypeError(f"{kind.__qualname__}.key must be a snake_case policy key, not {key!r}")
    if not isinstance(getattr(kind, "schema", None), dict):
        raise TypeError(f"{kind.__qualname__}.schema must be the JSON Schema of its mapping")
    known = _KINDS.get(key)
    if known is not None and _name(known) != _name(kind):
        raise TypeError(f"gate kind '{key}' is already registered by {_name(known)}")
    _KINDS[key] = kind
    return kind


def unregister(key: str) -> None:
    """Forget the kind registered under ``key`` (a runtime registration, e.g. a test's)."""
    _KINDS.pop(key, None)


def kinds() -> tuple[type[GateKind], ...]:
    """Every registered kind, in schema order (``order``, then key)."""
    _discover()
    return tuple(sorted(_KINDS.values(), key=lambda k: (k.order, k.key)))


def kind_of(gate: Mapping[Any, Any]) -> type[GateKind] | None:
    """The kind that decides how a gate mapping is read: the first whose key it holds."""
    return next((k for k in kinds() if k.key in gate), None)


def build(policy: Policy) -> list[Gate]:
    """The gates of a policy, in the order written.

    A gate with a ``bind_policy(policy)`` method is told its policy once built: a
    ``loadable`` gate borrows the holdout of the policy's ``evaluate`` gate.
    """
    _discover()
    gates = [_KINDS[spec.kind].create(spec) for spec in policy.gates]
    for gate in gates:
        bind = getattr(gate, "bind_policy", None)
        if callable(bind):
            bind(policy)
    return gates


def check_gate(gate: Mapping[Any, Any], written: Written) -> list[ParamProblem]:
    """What the schema cannot say about one (unvalidated) gate mapping.

    A NaN bound compares false with every value and an infinite one is met by
    every value, so either would let any candidate through; min above max
    would block every candidate forever. Those hold for every gate; then each
    kind whose key the gate holds adds its own checks.
    """
    found = check_bounds((), gate, written)
    for kind in kinds():
        if kind.key in gate:
            found += kind.check(gate, written)
    return found


def _discover() -> None:
    """Import every module of this package once, for the kinds they register."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    package = importlib.import_module("registry_ops.gates")
    for module in pkgutil.iter_modules(package.__path__):
        if not module.ispkg and not module.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{module.name}")


def _name(kind: type[GateKind]) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"
