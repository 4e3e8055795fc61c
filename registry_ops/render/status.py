"""Renderers for ``registry-ops status``: text and JSON of a
:class:`~registry_ops.reports.status.StatusReport`."""

from __future__ import annotations

import json
from typing import IO

from registry_ops.core.text import json_text, printable
from registry_ops.reports.status import StatusReport


def render_text(report: StatusReport, stream: IO[str], color: bool = False) -> None:
    """A block per model: targets, their versions and metrics. (Names not registered
    are warned about on stderr by the CLI.) Names and paths are made printable."""
    for row in report.rows:
        where = f"  ({printable(row.manifest)})" if row.manifest else "  (no manifest)"
        stream.write(f"{printable(row.model)}{where}\n")
        if not row.holdings:
            stream.write("  no aliases, nothing in Production or Staging\n")
        targets = [printable(h.target) for h in row.holdings]
        width = max(map(len, targets), default=0)
        for target, h in zip(targets, row.holdings, strict=True):
            metrics = "  ".join(f"{printable(k)}={v:.4g}" for k, v in h.metrics.items())
            where = f"  ({printable(h.origin)})" if h.metrics else ""
            line = f"  {target.ljust(width)}  v{h.version:<4} {metrics}{where}"
            stream.write(line.rstrip() + "\n")
            for note in dict.fromkeys(s["note"] for s in h.sources.values() if s.get("note")):
                stream.write(f"  {''.ljust(width)}  note: {printable(str(note))}\n")
        plural = "s" if row.versions != 1 else ""
        stream.write(f"  {row.versions} version{plural}, {row.archived} archived\n\n")


def render_json(report: StatusReport, stream: IO[str], color: bool = False) -> None:
    """One JSON object: ``models`` (see ``ModelStatus.to_dict``) and ``missing``."""
    stream.write(json_text(json.dumps(report.to_dict(), indent=2)) + "\n")
