"""``history`` and ``propose``: the git side of the registry, what changed and what could."""

from __future__ import annotations

import sys

import click

from registry_ops.cli.context import (
    color,
    connect,
    endpoint,
    format_option,
    global_options,
    progress,
    warn,
)
from registry_ops.core.redact import redact
from registry_ops.core.text import printable
from registry_ops.errors import EXIT_ERROR, EXIT_OK
from registry_ops.render import render


@click.command()
@global_options
@click.argument("model")
@click.option(
    "--at",
    "at",
    metavar="TIME",
    help="Say which version held each target at TIME: 2026-11-24 (the end of that day, "
    "UTC), 2026-11-24T10:00 (UTC unless an offset is given), or '2 days ago'.",
)
@format_option("history")
@click.pass_context
def history(ctx: click.Context, model: str, at: str | None, fmt: str) -> int:
    """Who changed MODEL's desired state, when, in which commit, joined with the apply log.

    Reads the git history of the manifest naming MODEL (renames followed), the
    runs of the MLflow experiment registry-ops/applies that changed it, and the
    provenance records on its versions. Holders no apply put there are shown as
    drift, also when a later apply reverted them, except those the registry
    already had when the manifest was first committed (adopted). Where no apply
    log covers a time, --at answers from MLflow's own timestamps. The Markdown form includes a
    Mermaid Gantt chart of which version held each target over time.
    """
    from registry_ops.gitops import history as history_mod

    when = None
    if at is not None:
        try:
            when = history_mod.parse_time(at)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param_hint="'--at'") from None
    where = endpoint(ctx)
    found = history_mod.collect(where.root, model, lambda: connect(where))
    if at is not None:  # relative to the moment the registry was read ("now" is its state)
        when = history_mod.parse_time(at, found.now)
    render("history", fmt, found, sys.stdout, color(ctx, sys.stdout), at=when)
    return EXIT_OK


@click.command()
@global_options
@click.argument("models", nargs=-1, metavar="[MODEL]...")
@format_option(
    "propose",
    help_text="json: the proposals (branch, model, version, targets and gates, commit) for a "
    "workflow.",
)
@click.option("--dry-run", is_flag=True, help="Find and report proposals; create no branch.")
@click.pass_context
def propose(ctx: click.Context, models: tuple[str, ...], fmt: str, dry_run: bool) -> int:
    """Propose promotions: commit each manifest change that passes its gates on a new branch.

    For each model, the newest READY version that passes the gates (run as plan
    runs them) of one or more of its gated aliases and stages, newer than what
    the manifest wants there (or fills an empty one), is written into the
    manifest for every target it passes, in place, in one commit on a new local
    branch registry-ops/propose/MODEL/vN made from HEAD, with each target's
    gate evidence in the commit message. Your checkout is left as it is and
    nothing is pushed. A version whose branch exists (locally or on a remote)
    is reported as already proposed. Exits 0 whether or not anything was
    proposed.
    """
    from registry_ops.gitops import propose as propose_mod

    where = endpoint(ctx)
    outcome = propose_mod.run(
        where, models, lambda: connect(where), warn, progress(), dry_run=dry_run
    )
    for warning in outcome.warnings:
        warn(warning)
    render("propose", fmt, outcome, sys.stdout, color(ctx, sys.stdout))
    for error in outcome.errors:
        click.echo(f"error: {printable(redact(error))}", err=True)
    return EXIT_ERROR if outcome.errors else EXIT_OK
