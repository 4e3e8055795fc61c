"""Renderers for ``registry-ops status``: text and JSON of a
:class:`~registry_ops.reports.status.StatusReport`."""

from __future__ import annotations

import json
from typing import IO

from registry_ops.reports.status import StatusReport


def render_text(report: StatusReport, stream: IO[str], color: bool = False) -> None:
    """A block per model: targets, their versions and metrics. (Names not registered
    are warned about on stderr by the CLI.)"""
    for row in report.rows:
        where = f"  ({row.manifest})" if row.manifest else "  (no manifest)"
        stream.write(f"{row.model}{where}\n")
        if not row.holdings:
            stream.write("  no aliases, nothing in Production or Staging\n")
        width = max((len(h.target) for h in row.holdings), default=0)
        for h in row.holdings:
            metrics = "  ".join(f"{k}={v:.4g}" for k, v in h.metrics.items())
            where = f"  ({h.origin})" if h.metrics else ""
            line = f"  {h.target.ljust(width)}  v{h.version:<4} {metrics}{where}"
            stream.write(line.rstrip() + "\n")
            for note in dict.fromkeys(s["note"] for s in h.sources.values() if s.get("note")):
                stream.write(f"  {''.ljust(width)}  note: {note}\n")
        plural = "s" if row.versions != 1 else ""
        stream.write(f"  {row.versions} version{plural}, {row.archived} archived\n\n")


def render_json(report: StatusReport, stream: IO[str], color: bool = False) -> None:
    """One JSON object: ``models`` (see ``ModelStatus.to_dict``) and ``missing``."""
    json.dump(report.to_dict(), stream, indent=2)
    stream.write("\n")
