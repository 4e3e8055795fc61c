"""Markdown renderer: the plan as a pull-request comment."""

from __future__ import annotations

import re
from typing import IO

from registry_ops.plan import Plan
from registry_ops.render import describe, summary

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: str) -> str:
    """Neutralise Markdown and HTML in text that came from the registry or a manifest."""
    text = "".join(_HTML.get(ch, ch) for ch in text.replace("\n", " "))
    return _SPECIAL.sub(r"\\\1", text)


def render(plan: Plan, stream: IO[str], color: bool = False) -> None:
    """Write a summary line, then per model a table of changes and their gates."""
    stream.write(f"### registry-ops plan\n\n**{escape(summary(plan))}**\n\n")
    for model_plan in plan.models:
        if not model_plan.changes:
            continue
        flag = " :no_entry: **blocked**" if model_plan.blocked else ""
        stream.write(f"#### {escape(model_plan.model)}{flag}\n\n")
        stream.write(f"Manifest: {escape(model_plan.manifest)}\n\n")
        stream.write("| | change | gates |\n| --- | --- | --- |\n")
        for change in model_plan.changes:
            symbol, text = describe(change)
            gates = "<br>".join(
                f"{'pass' if g.passed else '**FAIL**'} {escape(g.name)}: {escape(g.detail)}"
                for g in change.gates
            )
            if change.ungated:
                gates = "**ungated**: no policy gates this target"
            stream.write(f"| {escape(symbol)} | {escape(text)} | {gates or '-'} |\n")
        stream.write("\n")
