"""``status``, ``compare`` and ``export``: the live registry, read for people and for git."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from registry_ops.cli.context import (
    color,
    connect,
    endpoint,
    format_option,
    global_options,
    load_if_present,
)
from registry_ops.core.text import printable
from registry_ops.errors import EXIT_ERROR, EXIT_OK
from registry_ops.render import render


@click.command()
@global_options
@click.argument("models", nargs=-1, metavar="[MODEL]...")
@format_option("status")
@click.pass_context
def status(ctx: click.Context, models: tuple[str, ...], fmt: str) -> int:
    """Show who holds which alias and stage now, with key metrics."""
    from registry_ops.reports.status import report

    where = endpoint(ctx)
    desired = load_if_present(where.root)
    result = report(connect(where), models, desired)
    render("status", fmt, result, sys.stdout, color(ctx, sys.stdout))
    if fmt != "json":  # the JSON lists them under "missing"
        for name in result.missing:
            if name in result.prompts:
                said = (
                    "is an MLflow prompt, not a registered model; registry-ops does not "
                    "manage prompts"
                )
            else:
                said = "is not registered in MLflow"
            click.echo(f"warning: model '{printable(name)}' {said}", err=True)
    return EXIT_ERROR if result.missing and models else EXIT_OK


def _versions(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[int]:
    """VERSION arguments as numbers: ``3`` or ``v3`` (as the output labels them)."""
    from registry_ops.reports.compare import parse_version

    try:
        return [parse_version(v) for v in values]
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


@click.command()
@global_options
@click.argument("model")
@click.argument("versions", nargs=-1, metavar="[VERSION]...", callback=_versions)
@format_option("compare")
@click.option(
    "--metric",
    "-m",
    "metric_names",
    multiple=True,
    metavar="NAME",
    help="Show only this metric (repeatable; rows in the order given). Default: all.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="With no VERSION: how many versions to show (the newest, plus every holder).",
)
@click.pass_context
def compare(
    ctx: click.Context,
    model: str,
    versions: list[int],
    fmt: str,
    metric_names: tuple[str, ...],
    limit: int,
) -> int:
    """Compare versions' run metrics side by side, holders marked, with deltas.

    With no VERSION: every version holding an alias or the Production or
    Staging stage, and the newest others, up to --limit. Deltas are against
    the champion alias holder, else the Production holder, else the first
    version compared (among the versions compared).
    """
    from registry_ops.reports.compare import collect

    comparison = collect(connect(endpoint(ctx)), model, versions, metric_names, limit)
    render("compare", fmt, comparison, sys.stdout, color(ctx, sys.stdout))
    return EXIT_OK


@click.command()
@global_options
@click.argument("models", nargs=-1, metavar="[MODEL]...")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False),
    help="Where to write the manifests, and nothing else: the manifests that manage a model "
    "are left as they are. Default: ROOT/manifests.",
)
@click.option("--force", is_flag=True, help="Overwrite manifests that already manage a model.")
@click.pass_context
def export(ctx: click.Context, models: tuple[str, ...], out_dir: str | None, force: bool) -> int:
    """Write manifests from the live registry, to adopt models already in MLflow."""
    from registry_ops.reports.export import export_models

    where = endpoint(ctx)
    desired = load_if_present(where.root)
    directory = Path(out_dir) if out_dir else where.root / "manifests"
    written = export_models(connect(where), where.root, models, directory, desired, force)
    for path in written:
        click.echo(f"wrote {printable(str(path))}")
    click.echo(f"Exported {len(written)} model(s).", err=True)
    return EXIT_OK
