"""Text renderer: a diff a person reads in a terminal, coloured when asked."""

from __future__ import annotations

from typing import IO

from registry_ops.plan import Plan
from registry_ops.render import describe, summary

_COLORS = {
    "+": "32",
    "-": "31",
    "~": "33",
    "PASS": "32",
    "FAIL": "31",
    "BLOCKED": "1;31",
    "UNGATED": "1;33",
}


def paint(text: str, code: str, color: bool) -> str:
    """Wrap ``text`` in an ANSI colour when ``color`` is on."""
    return f"\033[{code}m{text}\033[0m" if color else text


def render(plan: Plan, stream: IO[str], color: bool = False) -> None:
    """Write the per-model diff, gate results under each promotion, and a summary."""
    for model_plan in plan.models:
        if not model_plan.changes:
            continue
        header = f"{model_plan.model}  ({model_plan.manifest})"
        stream.write(paint(header, "1", color) + "\n")
        for change in model_plan.changes:
            symbol, text = describe(change)
            stream.write(f"  {paint(symbol, _COLORS[symbol], color)} {text}\n")
            if change.ungated:
                stream.write(
                    f"      {paint('UNGATED', _COLORS['UNGATED'], color)}: no policy gates "
                    f"{change.target}; it is promoted without checks\n"
                )
            for gate in change.gates:
                word = "PASS" if gate.passed else "FAIL"
                stream.write(
                    f"      {paint(word, _COLORS[word], color)} {gate.policy}: "
                    f"{gate.name}  ({gate.detail})\n"
                )
        if model_plan.blocked:
            stream.write(
                "  "
                + paint("BLOCKED", _COLORS["BLOCKED"], color)
                + ": a gate failed; apply changes nothing for this model.\n"
            )
        stream.write("\n")
    stream.write(summary(plan) + "\n")
