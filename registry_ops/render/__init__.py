"""Renderers: each takes a result and a stream and only reads the result."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from registry_ops.plan import Change, Plan

PlanRenderer = Callable[[Plan, IO[str], bool], None]
FORMATS = ("text", "json", "markdown")


def renderer(name: str) -> PlanRenderer:
    """The plan renderer registered under ``name``."""
    from registry_ops.render import json_render, markdown, text

    table: dict[str, PlanRenderer] = {
        "text": text.render,
        "json": json_render.render,
        "markdown": markdown.render,
    }
    return table[name]


def describe(change: Change) -> tuple[str, str]:
    """``(symbol, sentence)`` for one change, shared by the text and Markdown renderers."""
    a = change.action
    if a == "update_description":
        return "~", f"description: {_q(change.from_value)} -> {_q(change.value)}"
    if a == "set_model_tag":
        if change.from_value is None:
            return "+", f"tag {change.key} = {_q(change.value)}"
        return "~", f"tag {change.key}: {_q(change.from_value)} -> {_q(change.value)}"
    if a == "delete_model_tag":
        return "-", f"tag {change.key} (was {_q(change.from_value)})"
    if a == "set_alias":
        if change.from_version is None:
            return "+", f"alias {change.alias} -> v{change.version}"
        return "~", f"alias {change.alias}: v{change.from_version} -> v{change.version}"
    if a == "delete_alias":
        return "-", f"alias {change.alias} (was v{change.from_version})"
    # transition_stage
    text = f"stage {change.stage}: v{change.version} ({change.from_stage} -> {change.stage})"
    if change.from_version is not None:
        text += f", replacing v{change.from_version}"
    if change.reason in ("displaced", "retention"):
        text += f" [{change.reason}]"
    return ("-" if change.stage == "Archived" else "~"), text


def _q(value: str | None) -> str:
    if value is None:
        return "(unset)"
    short = value if len(value) <= 60 else value[:57] + "..."
    return repr(short)


def summary(plan: Plan) -> str:
    """One line: how many changes, models, blocked promotions."""
    changes = plan.changes
    if not changes:
        n = len(plan.models)
        return f"No changes. The registry matches the manifests ({n} model{'s' * (n != 1)})."
    changed = [m for m in plan.models if m.changes]
    blocked = [m for m in plan.models if m.blocked]
    line = (
        f"Plan: {len(changes)} change{'s' * (len(changes) != 1)} "
        f"across {len(changed)} model{'s' * (len(changed) != 1)}"
    )
    if blocked:
        names = ", ".join(m.model for m in blocked)
        line += f"; blocked by gates: {names}"
    return line + "."
