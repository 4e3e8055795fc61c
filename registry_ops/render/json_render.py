"""JSON renderer: the plan's own data, one object."""

from __future__ import annotations

import json
from typing import IO

from registry_ops.core.plan import Plan
from registry_ops.core.text import json_text
from registry_ops.pipeline.seal import signed


def render(plan: Plan, stream: IO[str], color: bool = False) -> None:
    """Write the plan as one JSON object (the shape saved plan files use too); bidi and
    format characters in registry text as ``\\u`` escapes (the same JSON value)."""
    stream.write(json_text(json.dumps(signed(plan), indent=2, ensure_ascii=False)) + "\n")
