"""Text renderer: a diff a person reads in a terminal, coloured when asked.

Every piece of registry or manifest text goes through
:func:`~registry_ops.core.text.printable` (the sentences come that way from
:mod:`.sentences`): a description or a signature input name cannot add a line
to the plan, colour the terminal, or become a workflow command in a CI log.
"""

from __future__ import annotations

from typing import IO

from registry_ops.core.plan import Plan
from registry_ops.core.text import printable
from registry_ops.render.sentences import describe, summary

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
        if not model_plan.changes and not model_plan.unmanaged:
            continue
        header = f"{printable(model_plan.model)}  ({printable(model_plan.manifest)})"
        stream.write(paint(header, "1", color) + "\n")
        for change in model_plan.changes:
            symbol, text = describe(change)
            stream.write(f"  {paint(symbol, _COLORS[symbol], color)} {text}\n")
            if change.rollback:
                held = change.rollback
                until = str(held.get("held_to") or "")[:19] or "now"
                stream.write(
                    f"      {paint('ROLLBACK', _COLORS['PASS'], color)}: rollback to "
                    f"v{printable(str(held['version']))} (held it from "
                    f"{printable(str(held['held_from'])[:19])} to {printable(until)}); "
                    "gates not re-run\n"
                )
            if change.ungated:
                stream.write(
                    f"      {paint('UNGATED', _COLORS['UNGATED'], color)}: no policy gates "
                    f"{printable(str(change.target))}; it is promoted without checks\n"
                )
            override = change.override
            if override and change.failed:
                if change.overridden:
                    word, colour = "OVERRIDDEN", _COLORS["UNGATED"]
                    note = f"{override.get('reason')} (until {override.get('expires')}"
                    note += f", by {override.get('author') or 'unknown'})"
                    note = printable(note)
                else:
                    word, colour = "OVERRIDE EXPIRED", _COLORS["BLOCKED"]
                    expired = printable(str(override.get("expires")))
                    note = f"expired on {expired}: the gates block again"
                stream.write(f"      {paint(word, colour, color)}: {note}\n")
            for gate in change.gates:
                word = "PASS" if gate.passed else "FAIL"
                holder = ""
                if gate.holder is not None and gate.delta is not None:
                    holder = f"; holder {gate.holder:.6g}, delta {gate.delta:+.6g}"
                stream.write(
                    f"      {paint(word, _COLORS[word], color)} {printable(str(gate.policy))}: "
                    f"{printable(gate.name)}  ({printable(gate.detail)}{holder})\n"
                )
        for kind, found in sorted(model_plan.unmanaged.items()):
            shown = printable(
                ", ".join(
                    f"{k} -> v{v}" if kind == "aliases" else f"{k}={v!r}" for k, v in found.items()
                )
            )
            stream.write(
                f"  ? unmanaged {kind}: {shown} (not in the manifest; left alone; "
                f"prune: {{{kind}: true}} would delete them)\n"
            )
        if model_plan.blocked:
            stream.write(
                "  "
                + paint("BLOCKED", _COLORS["BLOCKED"], color)
                + ": a gate failed; apply changes nothing for this model.\n"
            )
        stream.write("\n")
    for change in plan.alerts:
        stream.write(
            paint("ALERT", _COLORS["BLOCKED"], color)
            + f": protected {printable(str(change.target))} of {printable(change.model)} was "
            "moved outside registry-ops; "
            "apply reverts it\n"
        )
    stream.write(summary(plan) + "\n")
