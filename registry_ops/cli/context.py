"""What every command shares: the global options, the endpoint and registry they name,
and the terminal (colour, warnings, a progress line).

Nothing here imports mlflow: the registry is connected to inside the commands
that talk to one, so ``validate`` and ``--help`` stay fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from registry_ops.core.text import printable
from registry_ops.render import formats

if TYPE_CHECKING:  # the real imports happen inside the commands that need them
    from registry_ops.core.model import Desired
    from registry_ops.pipeline.plan import Endpoint
    from registry_ops.registry import Registry


def color(ctx: click.Context, stream: IO[str]) -> bool:
    """Whether to colour what goes to ``stream``: ``--color``, else a terminal without
    NO_COLOR."""
    mode = ctx.find_root().params.get("color", "auto")
    if mode != "auto":
        return bool(mode == "always")
    if os.environ.get("NO_COLOR"):
        return False
    return stream.isatty()


def endpoint(ctx: click.Context) -> Endpoint:
    """The root and the registry the global options (or the environment) name."""
    from registry_ops.pipeline.plan import DEFAULT_TRACKING_URI, Endpoint

    params = ctx.find_root().params
    tracking = (
        params["tracking_uri"] or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    )
    registry = params["registry_uri"] or os.environ.get("MLFLOW_REGISTRY_URI") or None
    return Endpoint(root=Path(params["root"]), tracking_uri=tracking, registry_uri=registry)


def connect(where: Endpoint) -> Registry:
    """A registry client that notes retries on a terminal (and stays quiet in CI logs)."""

    def note(message: str) -> None:
        if sys.stderr.isatty():
            click.echo(f"registry-ops: {printable(message)}", err=True)

    return where.connect(on_retry=note)


def progress() -> Callable[[str], None] | None:
    """One self-overwriting status line on a terminal (live evaluation can take a while)."""
    if not sys.stderr.isatty():
        return None

    def show(message: str) -> None:
        sys.stderr.write("\r\033[K" + printable(message)[:150])
        sys.stderr.flush()

    return show


def warn(message: str) -> None:
    """One warning on stderr, made printable (warnings quote file and registry text)."""
    click.echo(f"warning: {printable(message)}", err=True)


def warn_all(desired: Desired) -> None:
    """The warnings loading the manifests gave."""
    for warning in desired.warnings:
        warn(warning)


def _root_option(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Global options typed after the subcommand override the ones before it."""
    if value is not None:
        ctx.find_root().params[param.name or ""] = value


def global_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Accept --tracking-uri, --registry-uri and -C/--root after the subcommand too."""
    for decorator in (
        click.option(
            "-C", "--root", "root", type=click.Path(file_okay=False), expose_value=False,
            callback=_root_option, help="Directory holding manifests/ and policies/.",
        ),
        click.option(
            "--registry-uri", "registry_uri", metavar="URI", expose_value=False,
            callback=_root_option, help="MLflow registry URI (as before the subcommand).",
        ),
        click.option(
            "--tracking-uri", "tracking_uri", metavar="URI", expose_value=False,
            callback=_root_option, help="MLflow tracking URI (as before the subcommand).",
        ),
    ):  # fmt: skip
        command = decorator(command)
    return command


def format_option(
    kind: str, default: str | None = "text", help_text: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--format``, choosing among the renderers registered for ``kind`` (passed to the
    command as ``fmt``)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(formats(kind)),
        default=default,
        show_default=default is not None,
        help=help_text,
    )


def load_annotated(root: str | Path, fmt: str | None) -> Desired:
    """Load the desired state; with ``fmt`` github, or unset in GitHub Actions, problems
    are also printed as ``::error`` annotations so they show on the pull request."""
    from registry_ops.desired.loader import load
    from registry_ops.errors import InvalidInput
    from registry_ops.render import github

    try:
        return load(root)
    except InvalidInput as exc:
        if fmt == "github" or (fmt is None and github.in_actions()):
            github.annotate_problems(exc.problems, sys.stdout)
            sys.stdout.flush()
        raise


def load_if_present(root: Path) -> Desired | None:
    """The desired state when the root has manifests; None when it has none."""
    from registry_ops.desired.loader import load

    if not (root / "manifests").is_dir():
        return None
    return load(root)
