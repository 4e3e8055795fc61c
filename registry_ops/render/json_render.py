"""JSON renderer: the plan's own data, one object."""

from __future__ import annotations

import json
from typing import IO

from registry_ops.core.plan import Plan
from registry_ops.pipeline.seal import signed


def render(plan: Plan, stream: IO[str], color: bool = False) -> None:
    """Write the plan as one JSON object (the shape saved plan files use too)."""
    json.dump(signed(plan), stream, indent=2, ensure_ascii=False)
    stream.write("\n")
