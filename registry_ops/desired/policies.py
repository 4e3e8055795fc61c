"""Policies: a validated document into a :class:`Policy`, and what its gate kinds check."""

from __future__ import annotations

from typing import Any

from registry_ops.core.model import GateSpec, Policy
from registry_ops.desired.messages import json_path
from registry_ops.desired.problems import Found
from registry_ops.desired.yamldoc import YamlDoc, normalize
from registry_ops.gates import ParamPath, kind_of
from registry_ops.gates.kinds import check_gate


def policy_from(doc: YamlDoc, file: str) -> Policy:
    """The policy of a document that passed its checks; each gate's kind reads its mapping."""
    data = doc.data
    gates = []
    for index, raw in enumerate(data["gates"]):
        kind = kind_of(raw)
        assert kind is not None  # the schema requires one kind's key in every gate
        gates.append(GateSpec(kind=kind.key, params=kind.params(dict(raw)), index=index))
    return Policy(
        data["name"],
        file,
        tuple(gates),
        data.get("description"),
        allow_rollback=bool(data.get("allow_rollback", False)),
    )


def check_policy(doc: YamlDoc) -> list[Found]:
    """What the schema cannot say about a policy's gates, located in its file.

    Each gate is checked by :func:`registry_ops.gates.kinds.check_gate` (finite
    thresholds, min <= max, then its kind's own rules). Runs on unvalidated
    data too, so a file's schema errors and these are reported together.
    """
    found: list[Found] = []
    gates = doc.data.get("gates") if isinstance(doc.data, dict) else None
    for index, gate in enumerate(gates if isinstance(gates, list) else ()):
        if not isinstance(gate, dict):
            continue
        base = ("gates", index)

        def written(path: ParamPath, base: tuple[Any, ...] = base) -> str | None:
            scalar = doc.scalars.get(normalize((*base, *path)))
            return scalar.source if scalar else None

        for problem in check_gate(gate, written):
            path = normalize((*base, *problem.path))
            found.append((doc.mark(path), json_path(path), problem.message))
    return found
