"""Renderers for ``registry-ops compare``: text, JSON and Markdown.

Metrics are rows and versions columns, so the versions read side by side
however many metrics a run logged. Each renderer only reads the
:class:`~registry_ops.reports.compare.Comparison`; registry text (the model's
name, aliases, metric keys, run ids) is made printable in every format.
"""

from __future__ import annotations

import json
from typing import IO

from registry_ops.core.text import json_text, printable
from registry_ops.render.markdown import escape
from registry_ops.reports.compare import Column, Comparison

_WHY = {
    "champion": "the champion alias holder",
    "Production": "the Production stage holder",
    "first": "the first version compared: no champion alias or Production holder among them",
}


def _value(value: float) -> str:
    # 6 significant digits tell 0.9921 from 0.9919 without printing float noise.
    return f"{value:.6g}"


def _cell(column: Column, metric: str) -> str:
    """``0.966 (-0.026)``: the value and its delta; ``-`` when the run lacks the metric."""
    if metric not in column.metrics:
        return "-"
    text = _value(column.metrics[metric])
    if metric in column.deltas:
        text += f" ({column.deltas[metric]:+.4g})"
    return text


def _header(comparison: Comparison, column: Column) -> str:
    return column.label + (" (ref)" if column.version == comparison.reference else "")


def _intro(comparison: Comparison) -> str:
    n = len(comparison.columns)
    line = f"{n} version{'s' * (n != 1)}"
    if comparison.reference is not None and n > 1:
        why = _WHY.get(comparison.reference_by or "", "")
        line += f"; deltas against v{comparison.reference} ({why})"
    return line


def render_text(comparison: Comparison, stream: IO[str], color: bool = False) -> None:
    """An aligned table for a terminal: one row per metric, one column per version."""
    title = printable(comparison.model)
    stream.write((f"\033[1m{title}\033[0m" if color else title) + f": {_intro(comparison)}\n")
    note = comparison.note()
    if note:
        stream.write(f"note: {note}\n")
    if not comparison.columns:
        return
    rows = [["metric", *(printable(_header(comparison, c)) for c in comparison.columns)]]
    rows += [[printable(m), *(_cell(c, m) for c in comparison.columns)] for m in comparison.metrics]
    rows.append(["run", *(printable((c.run_id or "-")[:8]) for c in comparison.columns)])
    if any(c.model_id for c in comparison.columns):
        rows.append(
            ["logged model", *(printable((c.model_id or "-")[:10]) for c in comparison.columns)]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    stream.write("\n")
    for row in rows:
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        stream.write(line.rstrip() + "\n")
    if not comparison.metrics:
        stream.write("(no metrics logged on these versions' logged models or runs)\n")


def render_json(comparison: Comparison, stream: IO[str], color: bool = False) -> None:
    """One JSON object (see :meth:`Comparison.to_dict`); strict JSON, no NaN."""
    data = json.dumps(comparison.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)
    stream.write(json_text(data) + "\n")


def render_markdown(comparison: Comparison, stream: IO[str], color: bool = False) -> None:
    """A table for a pull-request comment; registry text (names, aliases) is escaped."""
    stream.write(f"### registry-ops compare: {escape(comparison.model)}\n\n")
    stream.write(f"{escape(_intro(comparison))}\n\n")
    note = comparison.note()
    if note:
        stream.write(f"_{escape(note)}_\n\n")
    if not comparison.columns:
        return
    headers = [escape(_header(comparison, c)) for c in comparison.columns]
    stream.write("| metric | " + " | ".join(headers) + " |\n")
    stream.write("| --- |" + " ---: |" * len(headers) + "\n")
    for metric in comparison.metrics:
        cells = [escape(_cell(c, metric)) for c in comparison.columns]
        stream.write(f"| {escape(metric)} | " + " | ".join(cells) + " |\n")
    runs = [escape((c.run_id or "-")[:8]) for c in comparison.columns]
    stream.write("| run | " + " | ".join(runs) + " |\n")
    if any(c.model_id for c in comparison.columns):
        models = [escape((c.model_id or "-")[:10]) for c in comparison.columns]
        stream.write("| logged model | " + " | ".join(models) + " |\n")
    if not comparison.metrics:
        stream.write("\n_no metrics logged on these versions' logged models or runs_\n")
