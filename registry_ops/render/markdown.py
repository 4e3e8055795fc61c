"""Markdown renderer: the plan as a pull-request comment and a job summary.

The comment starts with a hidden marker (:data:`MARKER`) so a workflow can
find the comment it posted before and update it instead of adding another
one on every push. Everything that came from the registry or a manifest
(model names, descriptions, tag keys and values, gate details, paths) goes
through :func:`escape`, so a hostile description cannot inject Markdown,
HTML, a table cell or an @-mention into the comment.

GitHub refuses comments longer than 65,536 characters. :func:`render_markdown`
keeps the output under a budget by cutting whole sections (the full text
plan first, then per-model sections from the end) and says where the rest
is: the job summary, which gets the same Markdown rendered with the larger
summary budget.
"""

from __future__ import annotations

import html
import math
import re
from typing import IO

from registry_ops.core.changes import Change
from registry_ops.core.gate_result import GateResult
from registry_ops.core.plan import ModelPlan, Plan
from registry_ops.core.text import printable
from registry_ops.render.sentences import describe, summary

#: First line of every plan comment: how a workflow finds its own comment.
MARKER = "<!-- registry-ops:plan -->"
#: GitHub's limit on an issue or pull-request comment body, in characters.
COMMENT_LIMIT = 65_536
#: What the comment may use: the limit less a margin for what a workflow adds.
COMMENT_BUDGET = 60_000
#: GitHub's limit on a step summary is 1 MiB; the same margin idea applies.
SUMMARY_BUDGET = 1_000_000
#: Items listed in each callout; a plan that blocks hundreds lists them in the sections.
CALLOUT_ITEMS = 25

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")
# ``@`` is spelled as an entity so registry text cannot mention (and notify) a
# user or team.
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "@": "&#64;"}


def escape(text: str) -> str:
    """Neutralise Markdown and HTML in text that came from the registry or a manifest.

    First :func:`~registry_ops.core.text.printable` (line breaks, which would end a
    table row, and control and bidi characters become visible escapes), then
    Markdown's special characters are backslashed.
    """
    text = _SPECIAL.sub(r"\\\1", printable(text))
    # Entities last, so their own ``#`` is not escaped into text.
    return "".join(_HTML.get(ch, ch) for ch in text)


def render(plan: Plan, stream: IO[str], color: bool = False) -> None:
    """Write the plan as a pull-request comment (under GitHub's comment limit)."""
    stream.write(render_markdown(plan, COMMENT_BUDGET))


def render_summary(plan: Plan, stream: IO[str], color: bool = False) -> None:
    """Write the plan for ``$GITHUB_STEP_SUMMARY``: the comment's Markdown, larger budget."""
    stream.write(render_markdown(plan, SUMMARY_BUDGET))


def render_markdown(plan: Plan, budget: int = COMMENT_BUDGET) -> str:
    """The Markdown document, at most ``budget`` characters, cut at section boundaries."""
    head = _head(plan)
    sections = [_model_section(m) for m in plan.models if m.changes]
    details = _details(plan) if plan.changes else ""
    whole = head + "".join(sections) + details
    if len(whole) <= budget:
        return whole
    # Too long: drop the full text plan first (it repeats the sections), then
    # whole model sections from the end, and say what is missing and where it is.
    kept: list[str] = []
    used = len(head)
    for index, section in enumerate(sections):
        note = _truncation_note(len(sections) - index, with_details=bool(details))
        if used + len(section) + len(note) > budget:
            break
        kept.append(section)
        used += len(section)
    note = _truncation_note(len(sections) - len(kept), with_details=bool(details))
    if len(head) + len(note) > budget:
        # Only pathological names get here (callouts of huge names): keep whole lines.
        head = head[: head.rfind("\n", 0, max(budget - len(note), 0)) + 1]
    return head + "".join(kept) + note


def _truncation_note(omitted: int, with_details: bool) -> str:
    parts = []
    if omitted:
        parts.append(f"{omitted} model section{'s' * (omitted != 1)}")
    if with_details:
        parts.append("the full text plan")
    left_out = " and ".join(parts) or "part of the plan"
    return (
        f"---\n\n:scissors: **Truncated to fit GitHub's comment limit**: {left_out} "
        "left out here. The full plan is in this workflow run's job summary "
        "(and its `plan.json` artifact).\n"
    )


# --- the parts ---------------------------------------------------------------------------


def _head(plan: Plan) -> str:
    out = [MARKER, "### registry-ops plan", "", f"**{escape(summary(plan))}**", ""]
    out.extend(_callouts(plan))
    return "\n".join(out) + "\n"


def _callouts(plan: Plan) -> list[str]:
    """Blocked, overridden and ungated promotions, above everything else."""
    blocked = [c for c in plan.changes if c.blocked]
    overridden = [c for c in plan.changes if c.overridden]
    ungated = [c for c in plan.changes if c.ungated]
    lines: list[str] = []
    if blocked:
        lines += ["> [!CAUTION]", "> **Blocked by gates**: apply changes nothing for these models."]
        for change in blocked[:CALLOUT_ITEMS]:
            failed = ", ".join(escape(g.name) for g in change.gates if not g.passed)
            lines.append(f"> - {_where(change)}: failed {failed}{_expired(change)}")
        lines += _more(len(blocked))
    if overridden:
        lines += ["> [!WARNING]", "> **Overridden**: promoted although a gate failed."]
        for change in overridden[:CALLOUT_ITEMS]:
            lines.append(f"> - {_where(change)}: {_override_text(change)}")
        lines += _more(len(overridden))
    if ungated:
        lines += ["> [!WARNING]", "> **Ungated**: no policy gates these promotions."]
        lines += [f"> - {_where(change)}" for change in ungated[:CALLOUT_ITEMS]]
        lines += _more(len(ungated))
    return lines


def _more(count: int) -> list[str]:
    """The end of a callout: how many items it did not list (they are in the sections)."""
    extra = count - CALLOUT_ITEMS
    return ([f"> - ... and {extra} more, listed below"] if extra > 0 else []) + [""]


def _where(change: Change) -> str:
    return f"**{escape(change.model)}**: {escape(describe(change)[1])}"


def _override_text(change: Change) -> str:
    override = change.override or {}
    reason = escape(str(override.get("reason") or "no reason given"))
    text = f"override: “{reason}”"
    if override.get("expires"):
        text += f", expires {escape(str(override['expires']))}"
    if override.get("author"):
        text += f", by {escape(str(override['author']))}"
    return text


def _expired(change: Change) -> str:
    """An override that exists but no longer applies is worth saying why it did not help."""
    override = change.override
    if not override or override.get("active"):
        return ""
    return f" (override expired {escape(str(override.get('expires') or ''))})"


def _model_section(model_plan: ModelPlan) -> str:
    flag = " :no_entry: **blocked**" if model_plan.blocked else ""
    out = [f"#### {escape(model_plan.model)}{flag}", ""]
    out += [f"Manifest: {escape(model_plan.manifest)}", ""]
    out += ["| | change | gates |", "| --- | --- | --- |"]
    for change in model_plan.changes:
        symbol, text = describe(change)
        out.append(f"| {escape(symbol)} | {escape(text)} | {_gate_cell(change)} |")
    out.append("")
    for change in model_plan.changes:
        out += _promotion_block(change)
    return "\n".join(out) + "\n"


def _gate_cell(change: Change) -> str:
    """A one-word verdict in the change table; the gate table below has the detail."""
    if change.rollback:
        return "rollback (gates exempt)"
    if change.ungated:
        return "**ungated**: no policy gates this target"
    if not change.gates:
        return "-"
    passed = sum(1 for g in change.gates if g.passed)
    if change.blocked:
        return f"**FAIL** ({passed}/{len(change.gates)} passed)"
    if change.overridden:
        return f"OVERRIDDEN ({passed}/{len(change.gates)} passed)"
    return f"pass ({passed}/{len(change.gates)})"


def _promotion_block(change: Change) -> list[str]:
    # Promotions, and stamp-only changes of a holder no record vouches for, run gates.
    if not (change.gates or change.rollback):
        return []
    out = [f"**{escape(describe(change)[1])}**", ""]
    if change.rollback:
        rollback = change.rollback
        out += [
            f"Rollback to v{escape(str(rollback.get('version', change.version)))} (held it from "
            f"{escape(str(rollback.get('held_from') or '?'))} to "
            f"{escape(str(rollback.get('held_to') or '?'))}): exempt from the gates by its policy.",
            "",
        ]
    if change.overridden:
        out += [f"OVERRIDDEN: {_override_text(change)}", ""]
    if change.gates:
        out += [
            "| gate | candidate | holder | delta | threshold | result |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        out += [_gate_row(g, change) for g in change.gates]
        out.append("")
    return out


def _gate_row(gate: GateResult, change: Change) -> str:
    name = escape(f"{gate.policy}: {gate.name}" if gate.policy else gate.name)
    # Gates without a number (tags, age) show what they found instead.
    candidate = _number(gate.observed) if gate.observed is not None else escape(gate.detail)
    if gate.passed:
        result = "pass"
    elif change.overridden:
        result = "OVERRIDDEN"
    else:
        result = "**FAIL**"
    cells = [
        name,
        candidate or "-",
        _number(gate.holder),
        _number(gate.delta, signed=True),
        _number(gate.threshold),
        result,
    ]
    return "| " + " | ".join(cells) + " |"


def _number(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return escape(str(value))
    return f"{value:+.6g}" if signed else f"{value:.6g}"


def _details(plan: Plan) -> str:
    """The text plan in a collapsed block, HTML-escaped inside ``<pre>``."""
    from io import StringIO

    from registry_ops.render import text

    buffer = StringIO()
    text.render(plan, buffer, False)
    # Inside <pre> Markdown is off and only HTML matters: escaping &, < and >
    # keeps registry text from closing the block or opening a tag; @ stays
    # an entity so it cannot mention anyone.
    body = html.escape(buffer.getvalue(), quote=False).replace("@", "&#64;")
    return f"<details><summary>Full plan (text)</summary>\n\n<pre>\n{body}</pre>\n\n</details>\n"
