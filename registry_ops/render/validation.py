"""Renderer for ``registry-ops validate``: the one line saying what was checked."""

from __future__ import annotations

from typing import IO

from registry_ops.core.model import Desired


def render(desired: Desired, stream: IO[str], color: bool = False) -> None:
    """``OK: 2 manifests and 1 policy valid.`` (problems are errors, raised by loading)."""
    m, p = len(desired.manifests), len(desired.policies)
    stream.write(
        f"OK: {m} manifest{'s' * (m != 1)} and {p} polic{'ies' if p != 1 else 'y'} valid.\n"
    )
