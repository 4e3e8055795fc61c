"""Renderers: each takes a result and a stream and only reads the result.

:data:`RENDERERS` is the one table of output formats: for each kind of result
(a plan, a model's history, a comparison, ...) the renderer of each format the
CLI offers. Adding a format is one renderer registered here; the commands'
``--format`` choices come from :func:`formats`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import IO, Any, Protocol


class Renderer(Protocol):
    """Writes one result to a stream; ``color`` asks for ANSI colours (text only)."""

    def __call__(self, result: Any, stream: IO[str], color: bool = False, **options: Any) -> None:
        """Render ``result`` to ``stream``."""


@dataclass(frozen=True)
class _Lazy:
    """A renderer imported when first used: naming the formats (the CLI's choices, read
    by ``--help``) must not import every renderer and the result types they read."""

    module: str
    function: str

    def __call__(self, result: Any, stream: IO[str], color: bool = False, **options: Any) -> None:
        module = importlib.import_module(f"{__name__}.{self.module}")
        getattr(module, self.function)(result, stream, color, **options)


#: kind of result -> format -> renderer. The first format of each kind is the default.
RENDERERS: dict[str, dict[str, Renderer]] = {
    # registry_ops.core.plan.Plan (plan, show; --out saves the json form)
    "plan": {
        "text": _Lazy("text", "render"),
        "json": _Lazy("json_render", "render"),
        "markdown": _Lazy("markdown", "render"),
        "github": _Lazy("github", "render"),
    },
    # registry_ops.core.model.Desired, as validate reports it; github also makes
    # validate annotate the problems it finds (the CLI's loading does that)
    "validate": {
        "text": _Lazy("validation", "render"),
        "github": _Lazy("validation", "render"),
    },
    # registry_ops.gitops.history.History; option ``at``: the time asked about, or None
    "history": {
        "text": _Lazy("history", "render_text"),
        "json": _Lazy("history", "render_json"),
        "markdown": _Lazy("history", "render_markdown"),
    },
    # registry_ops.reports.compare.Comparison
    "compare": {
        "text": _Lazy("compare", "render_text"),
        "json": _Lazy("compare", "render_json"),
        "markdown": _Lazy("compare", "render_markdown"),
    },
    # registry_ops.reports.status.StatusReport
    "status": {
        "text": _Lazy("status", "render_text"),
        "json": _Lazy("status", "render_json"),
    },
    # registry_ops.gitops.proposals.Outcome
    "propose": {
        "text": _Lazy("propose", "render_text"),
        "json": _Lazy("propose", "render_json"),
    },
}


def formats(kind: str) -> tuple[str, ...]:
    """The formats ``kind`` can be rendered in, the default first."""
    return tuple(RENDERERS[kind])


def render(
    kind: str, fmt: str, result: Any, stream: IO[str], color: bool = False, **options: Any
) -> None:
    """Write ``result`` (a ``kind``) to ``stream`` in format ``fmt``."""
    RENDERERS[kind][fmt](result, stream, color, **options)


def renderer(fmt: str) -> Renderer:
    """The plan renderer registered under ``fmt``."""
    return RENDERERS["plan"][fmt]
