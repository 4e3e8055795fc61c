"""``apply`` and ``force-unlock``: change the registry, and free a model a crashed apply
left leased."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from registry_ops.cli.context import color, connect, endpoint, global_options, progress, warn
from registry_ops.core.redact import redact
from registry_ops.core.text import printable, printable_lines
from registry_ops.errors import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK, RegistryOpsError
from registry_ops.pipeline.replay import DEFAULT_MAX_AGE, parse_duration, shown
from registry_ops.render import render

if TYPE_CHECKING:
    from registry_ops.core.changes import Change
    from registry_ops.pipeline.apply_run import ApplyReport


def _max_age(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


@click.command()
@global_options
@click.argument("args", nargs=-1, metavar="[PLAN_FILE] [MODEL]...")
@click.option("--yes", "-y", is_flag=True, help="Apply without asking for confirmation.")
@click.option(
    "--max-age",
    metavar="DURATION",
    envvar="REGISTRY_OPS_PLAN_MAX_AGE",
    show_envvar=True,
    callback=_max_age,
    help="Refuse a saved plan older than this (3600, 90m, 24h, 7d). "
    f"Default: {shown(DEFAULT_MAX_AGE)}.",
)
@click.pass_context
def apply(ctx: click.Context, args: tuple[str, ...], yes: bool, max_age: float | None) -> int:
    """Apply a fresh plan, or a saved one (refused with exit 4 if it is stale).

    A saved plan is applied only if its digest (and its signature, when
    REGISTRY_OPS_PLAN_KEY is set) checks out and it was made for this
    registry. It is stale (exit 4) when the registry or the evidence its
    gates read moved, when HEAD's manifests or policies for the models it
    changes differ from those it was made from (a plan of a branch never
    merged, or made before a later commit), when it or a newer plan was
    applied already, or when it is older than --max-age. Each model is
    changed under a lease, so two applies never write one model at once.
    """
    from registry_ops.pipeline.apply_run import prepare_apply, run_apply

    where = endpoint(ctx)
    pending = prepare_apply(where, args, lambda: connect(where), warn, progress(), max_age)
    render("plan", "text", pending.plan, sys.stdout, color(ctx, sys.stdout))
    blocked = ", ".join(map(printable, pending.blocked))
    if not pending.runnable:
        if blocked:
            click.echo(f"Nothing applied; blocked by gates: {blocked}.", err=True)
        return EXIT_BLOCKED if blocked else EXIT_OK
    if not yes:
        if not sys.stdin.isatty():
            raise RegistryOpsError(
                "refusing to apply without confirmation: stdin is not a terminal (pass --yes)"
            )
        count, models = pending.change_count, len(pending.runnable)
        question = f"Apply {count} change{'s' * (count != 1)} to {models} model(s)?"
        if not click.confirm(question, default=False):
            click.echo("Apply cancelled; nothing was changed.")
            return EXIT_ERROR
    warning = pending.uncommitted_warning()
    if warning:
        click.echo(printable(warning), err=True)
    if pending.commit_note:
        click.echo(pending.commit_note, err=True)
    report = run_apply(pending, progress=_applied_line)
    if report.log_note:
        click.echo(printable_lines(report.log_note), err=True)
    return _report(report)


def _applied_line(change: Change) -> None:
    from registry_ops.render.sentences import describe

    click.echo(f"  applied {printable(change.model)}: {describe(change)[1]}")


def _report(report: ApplyReport) -> int:
    """Say what landed, what did not, and why; map it to an exit code."""
    outcome, blocked = report.outcome, ", ".join(map(printable, report.blocked))
    n = outcome.change_count
    click.echo(f"Applied {n} change{'s' * (n != 1)} to {len(outcome.applied)} model(s).")
    for line in outcome.refused:
        click.echo(
            f"error: not applied, another apply holds the lease: {printable(line)}", err=True
        )
    if outcome.refused:
        click.echo(
            "  Wait for it to finish; if it crashed, its lease expires, or run "
            "`registry-ops force-unlock MODEL`.",
            err=True,
        )
    if outcome.error is not None:
        click.echo(f"error: apply stopped: {printable_lines(redact(outcome.error))}", err=True)
        for row in report.unfinished:
            click.echo(f"  {row.state:<12} {printable(row.model)}: {printable(row.text)}", err=True)
        click.echo(
            "Every change is idempotent: re-running `registry-ops apply` applies only what "
            "is left and converges.",
            err=True,
        )
        return outcome.error_code
    if blocked:
        click.echo(f"Not applied, blocked by gates: {blocked}.", err=True)
    if outcome.refused:
        return EXIT_ERROR
    return EXIT_BLOCKED if blocked else EXIT_OK


@click.command("force-unlock")
@global_options
@click.argument("model")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def force_unlock(ctx: click.Context, model: str, yes: bool) -> int:
    """Release the apply lease on MODEL left by a crashed apply.

    Only do this when no apply is running on MODEL: the lease is what keeps
    two applies from writing the same model at once.
    """
    from registry_ops.pipeline.unlock import force_unlock as unlock
    from registry_ops.pipeline.unlock import held

    registry = connect(endpoint(ctx))
    lease = held(registry, model)
    name = printable(model)
    if lease is None:
        click.echo(f"{name} has no apply lease; nothing to release.")
        return EXIT_OK
    holder = printable(lease.describe())
    if not yes:
        # Breaking a live lease lets two applies write one model: as apply does, ask,
        # and off a terminal (CI, a script) refuse rather than assume.
        if not sys.stdin.isatty():
            raise RegistryOpsError(
                f"refusing to release the apply lease on {name} (held by {holder}) without "
                "confirmation: stdin is not a terminal (pass --yes)"
            )
        question = f"Release the apply lease on {name}, held by {holder}?"
        if not click.confirm(question, default=False):
            click.echo("Cancelled; the lease is kept.")
            return EXIT_ERROR
    released = unlock(registry, model, expected=lease)
    if released is None:
        click.echo(f"{name} has no apply lease any more; nothing to release.")
    else:
        click.echo(f"Released the lease on {name} held by {printable(released.describe())}.")
    return EXIT_OK
