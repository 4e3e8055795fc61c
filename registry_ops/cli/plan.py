"""``validate``, ``plan`` and ``show``: check the manifests, plan, render a saved plan."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from registry_ops.cli.context import (
    color,
    connect,
    endpoint,
    format_option,
    global_options,
    load_annotated,
    progress,
    warn_all,
)
from registry_ops.errors import (
    EXIT_ALERT,
    EXIT_BLOCKED,
    EXIT_CHANGES,
    EXIT_OK,
    RegistryOpsError,
)
from registry_ops.render import render

if TYPE_CHECKING:
    from registry_ops.core.model import Desired


@click.command()
@global_options
@format_option(
    "validate",
    default=None,
    help_text="github: also print each problem as a workflow annotation (default in GitHub "
    "Actions).",
)
@click.pass_context
def validate(ctx: click.Context, fmt: str | None) -> int:
    """Check manifests and policies (schema and cross-file rules); no MLflow contact."""
    desired = load_annotated(ctx.find_root().params["root"], fmt)
    warn_all(desired)
    render("validate", fmt or "text", desired, sys.stdout, color(ctx, sys.stdout))
    return EXIT_OK


@click.command()
@global_options
@click.argument("models", nargs=-1, metavar="[MODEL]...")
@format_option("plan")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    help="Also save the plan (JSON, sealed; signed when REGISTRY_OPS_PLAN_KEY is set) "
    "to this file, for `apply FILE`.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 for no changes, 2 for pending changes, 3 when a gate blocks, "
    "5 when a protected target was moved outside registry-ops.",
)
@click.option(
    "--changed-since",
    metavar="REF",
    help="Only the models whose manifest, or a policy they use, changed since the git "
    "REF (committed or not): what a pull request touches.",
)
@click.pass_context
def plan(
    ctx: click.Context,
    models: tuple[str, ...],
    fmt: str,
    out: str | None,
    detailed_exitcode: bool,
    changed_since: str | None,
) -> int:
    """Show what apply would change, with gate results for every promotion."""
    from registry_ops.pipeline import plan as planning

    where = endpoint(ctx)

    def load(root: Path) -> Desired:
        return load_annotated(root, "github" if fmt == "github" else None)

    if changed_since is not None:
        desired = load(where.root)
        models = planning.changed_models(desired, where.root, changed_since, models)
    if changed_since is not None and not models:
        click.echo(f"No manifest, or policy in use, changed since {changed_since}.", err=True)
        result = planning.empty_plan(where)
    else:
        desired, registry, observed = planning.prepare(where, models, lambda: connect(where), load)
        warn_all(desired)
        result = planning.make_plan(desired, models, where, registry, progress(), observed)
    render("plan", fmt, result, sys.stdout, color(ctx, sys.stdout))
    if out:
        with open(out, "w", encoding="utf-8") as stream:
            render("plan", "json", result, stream)
        click.echo(f"Saved plan to {out} ({result.digest[:19]}...).", err=True)
    if not detailed_exitcode:
        return EXIT_OK
    if result.alerts:
        return EXIT_ALERT
    return {"no_changes": EXIT_OK, "changes": EXIT_CHANGES, "blocked": EXIT_BLOCKED}[result.status]


@click.command()
@click.argument("plan_file", type=click.Path(dir_okay=False))
@format_option("plan")
@click.option(
    "--summary",
    is_flag=True,
    help="markdown only: the job-summary budget (1 MB) instead of the comment's (64 KiB).",
)
@click.pass_context
def show(ctx: click.Context, plan_file: str, fmt: str, summary: bool) -> int:
    """Render a saved plan again, checked like apply checks it (schema, digest, signature).

    A workflow makes one plan (`plan --out plan.json`) and shows it in several
    shapes: the pull-request comment (markdown), the job summary (markdown
    --summary: nothing cut) and annotations (github). Rendering the saved file,
    instead of planning again, shows exactly the plan that was sealed.
    """
    from registry_ops.pipeline.seal import load_plan
    from registry_ops.render.markdown import render_summary

    try:
        with open(plan_file, "rb") as stream:
            result = load_plan(stream, plan_file)
    except OSError as exc:
        raise RegistryOpsError(f"cannot read plan file {plan_file}: {exc.strerror}") from exc
    if fmt == "markdown" and summary:
        render_summary(result, sys.stdout)
    else:
        render("plan", fmt, result, sys.stdout, color(ctx, sys.stdout))
    return EXIT_OK
