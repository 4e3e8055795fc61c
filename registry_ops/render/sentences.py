"""The words the plan renderers share: a change's sentence and the plan's summary line.

Both carry registry text (names, tag values, descriptions), so both come out of
here already :func:`~registry_ops.core.text.printable`: one line each, no control
or bidi character, never a workflow command.
"""

from __future__ import annotations

from registry_ops.core.changes import Change
from registry_ops.core.plan import Plan
from registry_ops.core.text import printable


def describe(change: Change) -> tuple[str, str]:
    """``(symbol, sentence)`` for one change, shared by the text, Markdown and GitHub
    renderers (the change's action words it), made printable."""
    symbol, sentence = change.describe()
    return symbol, printable(sentence)


def summary(plan: Plan) -> str:
    """One line: how many changes, models, blocked promotions."""
    changes = plan.changes
    if not changes:
        n = len(plan.models)
        return f"No changes. The registry matches the manifests ({n} model{'s' * (n != 1)})."
    changed = [m for m in plan.models if m.changes]
    blocked = [m for m in plan.models if m.blocked]
    # Stamping provenance on a version that already holds its target changes nothing
    # anyone would review: count it apart.
    stamps = sum(1 for c in changes if c.reason == "provenance")
    real = len(changes) - stamps
    counted = f"{real} change{'s' * (real != 1)}"
    if stamps:
        counted += f" (+{stamps} provenance stamp{'s' * (stamps != 1)})"
    line = f"Plan: {counted} across {len(changed)} model{'s' * (len(changed) != 1)}"
    if blocked:
        names = ", ".join(printable(m.model) for m in blocked)
        line += f"; blocked by gates: {names}"
    overridden = sum(1 for c in changes if c.overridden)
    if overridden:
        line += f"; {overridden} promotion{'s' * (overridden != 1)} OVERRIDDEN"
    ungated = sum(1 for c in changes if c.ungated)
    if ungated:
        line += f"; {ungated} ungated promotion{'s' * (ungated != 1)}"
    return line + "."
