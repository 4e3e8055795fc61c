"""The ``registry-ops`` command line: options in, calls out, exit codes back.

Heavy imports (mlflow via the adapter) happen inside the commands that talk
to a registry, so ``validate`` and ``--help`` stay fast.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

import click

from registry_ops import __version__
from registry_ops.core.redact import redact
from registry_ops.errors import (
    EXIT_ALERT,
    EXIT_BLOCKED,
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    RegistryOpsError,
)
from registry_ops.render import FORMATS

if TYPE_CHECKING:  # the real imports happen inside the commands that need them
    from registry_ops.core.changes import Change
    from registry_ops.core.model import Desired
    from registry_ops.core.plan import Plan
    from registry_ops.core.provenance import Provenance
    from registry_ops.pipeline.apply import ApplyResult
    from registry_ops.pipeline.plan import Endpoint
    from registry_ops.registry import Registry


def _color(ctx: click.Context, stream: IO[str]) -> bool:
    mode = ctx.find_root().params.get("color", "auto")
    if mode != "auto":
        return bool(mode == "always")
    if os.environ.get("NO_COLOR"):
        return False
    return stream.isatty()


def _endpoint(ctx: click.Context) -> Endpoint:
    from registry_ops.pipeline.plan import DEFAULT_TRACKING_URI, Endpoint

    params = ctx.find_root().params
    tracking = (
        params["tracking_uri"] or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    )
    registry = params["registry_uri"] or os.environ.get("MLFLOW_REGISTRY_URI") or None
    return Endpoint(root=Path(params["root"]), tracking_uri=tracking, registry_uri=registry)


def _connect(ctx: click.Context, endpoint: Endpoint) -> Registry:
    """A registry client that notes retries on a terminal (and stays quiet in CI logs)."""

    def note(message: str) -> None:
        if sys.stderr.isatty():
            click.echo(f"registry-ops: {message}", err=True)

    return endpoint.connect(on_retry=note)


def _progress() -> Callable[[str], None] | None:
    """One self-overwriting status line on a terminal (live evaluation can take a while)."""
    if not sys.stderr.isatty():
        return None

    def show(message: str) -> None:
        sys.stderr.write("\r\033[K" + message[:150])
        sys.stderr.flush()

    return show


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


def _warn(desired: Desired) -> None:
    for warning in desired.warnings:
        click.echo(f"warning: {warning}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="registry-ops")
@click.option(
    "--tracking-uri",
    metavar="URI",
    help="MLflow tracking URI. Default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db.",
)
@click.option(
    "--registry-uri",
    metavar="URI",
    help="MLflow registry URI. Default: $MLFLOW_REGISTRY_URI, else the tracking URI.",
)
@click.option(
    "-C",
    "--root",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory holding manifests/ and policies/.",
)
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour the text output (auto: on a terminal, unless NO_COLOR is set).",
)
def cli(tracking_uri: str | None, registry_uri: str | None, root: str, color: str) -> None:
    """Reconcile the MLflow Model Registry with the manifests in git.

    \b
    Exit codes: 0 ok / no changes, 1 error, 2 changes pending (plan
    --detailed-exitcode), 3 a promotion is blocked by a gate, 4 a saved plan
    is stale, 5 a protected target was moved outside registry-ops (plan
    --detailed-exitcode), 64 usage error, 70 internal error (a bug in
    registry-ops).
    """


@cli.command()
@global_options
@click.option(
    "--format", "fmt", type=click.Choice(["text", "github"]), default=None,
    help="github: also print each problem as a workflow annotation (default in GitHub Actions).",
)  # fmt: skip
@click.pass_context
def validate(ctx: click.Context, fmt: str | None) -> int:
    """Check manifests and policies (schema and cross-file rules); no MLflow contact."""
    desired = _load_annotated(ctx.find_root().params["root"], fmt)
    _warn(desired)
    m, p = len(desired.manifests), len(desired.policies)
    click.echo(f"OK: {m} manifest{'s' * (m != 1)} and {p} polic{'ies' if p != 1 else 'y'} valid.")
    return EXIT_OK


@cli.command()
@global_options
@click.argument("models", nargs=-1, metavar="[MODEL]...")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
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
    from registry_ops.pipeline.plan import changed_models, empty_plan, make_plan, prepare
    from registry_ops.render import renderer

    endpoint = _endpoint(ctx)

    def load(root: Path) -> Desired:
        return _load_annotated(root, "github" if fmt == "github" else None)

    if changed_since is not None:
        desired = load(endpoint.root)
        models = changed_models(desired, endpoint.root, changed_since, models)
    if changed_since is not None and not models:
        click.echo(f"No manifest, or policy in use, changed since {changed_since}.", err=True)
        result = empty_plan(endpoint)
    else:
        connect = lambda: _connect(ctx, endpoint)  # noqa: E731
        desired, registry, observed = prepare(endpoint, models, connect, load)
        _warn(desired)
        result = make_plan(desired, models, endpoint, registry, _progress(), observed)
    renderer(fmt)(result, sys.stdout, _color(ctx, sys.stdout))
    if out:
        with open(out, "w", encoding="utf-8") as stream:
            renderer("json")(result, stream, False)
        click.echo(f"Saved plan to {out} ({result.digest[:19]}...).", err=True)
    if not detailed_exitcode:
        return EXIT_OK
    if result.alerts:
        return EXIT_ALERT
    return {"no_changes": EXIT_OK, "changes": EXIT_CHANGES, "blocked": EXIT_BLOCKED}[result.status]


@cli.command()
@click.argument("plan_file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
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
    from registry_ops.render import renderer
    from registry_ops.render.markdown import render_summary

    try:
        with open(plan_file, "rb") as stream:
            result = load_plan(stream, plan_file)
    except OSError as exc:
        raise RegistryOpsError(f"cannot read plan file {plan_file}: {exc.strerror}") from exc
    if fmt == "markdown" and summary:
        render_summary(result, sys.stdout)
    else:
        renderer(fmt)(result, sys.stdout, _color(ctx, sys.stdout))
    return EXIT_OK


@cli.command()
@global_options
@click.argument("args", nargs=-1, metavar="[PLAN_FILE] [MODEL]...")
@click.option("--yes", "-y", is_flag=True, help="Apply without asking for confirmation.")
@click.pass_context
def apply(ctx: click.Context, args: tuple[str, ...], yes: bool) -> int:
    """Apply a fresh plan, or a saved one (refused with exit 4 if the registry moved).

    A saved plan is applied only if its digest (and its signature, when
    REGISTRY_OPS_PLAN_KEY is set) checks out and it was made for this
    registry. Each model is changed under a lease, so two applies never
    write one model at once.
    """
    from registry_ops.core.provenance import Provenance
    from registry_ops.pipeline.apply import apply_plan
    from registry_ops.pipeline.plan import check_target, make_plan, narrow, prepare
    from registry_ops.pipeline.seal import load_plan
    from registry_ops.render import renderer

    endpoint = _endpoint(ctx)
    plan_file, names = (args[0], args[1:]) if args and Path(args[0]).is_file() else (None, args)
    if plan_file is None and args and args[0].endswith(".json"):
        raise RegistryOpsError(f"plan file not found: {args[0]}")
    desired = None
    if plan_file:
        with open(plan_file, "rb") as stream:
            result = load_plan(stream, plan_file)
        check_target(result, endpoint)
        result = narrow(result, names)
        registry = _connect(ctx, endpoint)
    else:
        desired, registry, observed = prepare(endpoint, names, lambda: _connect(ctx, endpoint))
        _warn(desired)
        result = make_plan(desired, names, endpoint, registry, _progress(), observed)

    renderer("text")(result, sys.stdout, _color(ctx, sys.stdout))
    runnable = [m for m in result.models if m.changes and not m.blocked]
    blocked = ", ".join(m.model for m in result.models if m.blocked)
    if not runnable:
        if blocked:
            click.echo(f"Nothing applied; blocked by gates: {blocked}.", err=True)
        return EXIT_BLOCKED if blocked else EXIT_OK
    count = sum(len(m.changes) for m in runnable)
    if not yes:
        if not sys.stdin.isatty():
            raise RegistryOpsError(
                "refusing to apply without confirmation: stdin is not a terminal (pass --yes)"
            )
        question = f"Apply {count} change{'s' * (count != 1)} to {len(runnable)} model(s)?"
        if not click.confirm(question, default=False):
            click.echo("Apply cancelled; nothing was changed.")
            return EXIT_ERROR
    git = result.git or {}
    if git.get("dirty"):
        files = ", ".join(git.get("uncommitted") or []) or "manifests/ or policies/"
        click.echo(
            f"WARNING: uncommitted changes in {files}: applying what is on disk; the versions "
            f"are stamped {str(git.get('commit'))[:12]}+uncommitted.",
            err=True,
        )
    provenance = Provenance.current(git.get("commit"), bool(git.get("dirty")), result.digest)
    manifests = [desired.manifests[m.model] for m in result.models] if desired else []
    outcome = apply_plan(result, registry, provenance, manifests, progress=_applied_line)
    _record_apply(result, outcome, provenance, registry)
    return _report(outcome, blocked)


def _report(outcome: ApplyResult, blocked: str) -> int:
    """Say what landed, what did not, and why; map it to an exit code."""
    n = outcome.change_count
    click.echo(f"Applied {n} change{'s' * (n != 1)} to {len(outcome.applied)} model(s).")
    for line in outcome.refused:
        click.echo(f"error: not applied, another apply holds the lease: {line}", err=True)
    if outcome.refused:
        click.echo(
            "  Wait for it to finish; if it crashed, its lease expires, or run "
            "`registry-ops force-unlock MODEL`.",
            err=True,
        )
    if outcome.error is not None:
        click.echo(f"error: apply stopped: {redact(outcome.error)}", err=True)
        for model in outcome.outcomes:
            if model.failed is None and not model.pending:
                continue
            for change in model.landed:
                click.echo(f"  landed       {change.model}: {_sentence(change)}", err=True)
            if model.failed is not None:
                state = {True: "landed", False: "not landed", None: "unknown"}[model.failed_landed]
                click.echo(
                    f"  in flight    {model.plan.model}: {_sentence(model.failed)} ({state})",
                    err=True,
                )
            for change in model.pending:
                click.echo(f"  not applied  {change.model}: {_sentence(change)}", err=True)
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


def _sentence(change: Change) -> str:
    from registry_ops.render import describe

    return describe(change)[1]


def _applied_line(change: Change) -> None:
    click.echo(f"  applied {change.model}: {_sentence(change)}")


def _record_apply(
    plan: Plan, outcome: ApplyResult, provenance: Provenance, registry: Registry
) -> None:
    """Record the apply in the apply log (MLflow experiment registry-ops/applies).

    Only an apply that changed something or failed part-way is recorded. A
    failure to record is a warning: the registry changes already happened,
    and the exit code stays the apply's own.
    """
    from registry_ops.pipeline import audit

    try:
        logged = audit.record_apply(plan, outcome, provenance, registry)
    except Exception as exc:  # noqa: BLE001 - never let the log change the apply's outcome
        reason = str(exc) if isinstance(exc, RegistryOpsError) else f"{type(exc).__name__}: {exc}"
        click.echo(
            f"warning: the apply was not recorded in the apply log ({audit.EXPERIMENT}): "
            f"{redact(reason)}\n  The registry changes reported here stand; each version "
            "touched carries its provenance tag.",
            err=True,
        )
        return
    if logged is not None:
        click.echo(
            f"Recorded in the apply log: run {logged.run_id} of experiment "
            f"{audit.EXPERIMENT} ({logged.outcome}).",
            err=True,
        )


@cli.command()
@global_options
@click.argument("model")
@click.option(
    "--at",
    "at",
    metavar="TIME",
    help="Say which version held each target at TIME: 2026-11-24 (the end of that day, "
    "UTC), 2026-11-24T10:00 (UTC unless an offset is given), or '2 days ago'.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.pass_context
def history(ctx: click.Context, model: str, at: str | None, fmt: str) -> int:
    """Who changed MODEL's desired state, when, in which commit, joined with the apply log.

    Reads the git history of the manifest naming MODEL (renames followed), the
    runs of the MLflow experiment registry-ops/applies that changed it, and the
    provenance records on its versions. Holders no apply put there are shown as
    drift, also when a later apply reverted them. The Markdown form includes a
    Mermaid Gantt chart of which version held each target over time.
    """
    from registry_ops.gitops import history as history_mod
    from registry_ops.render.history import renderer as history_renderer

    when = None
    if at is not None:
        try:
            when = history_mod.parse_time(at)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param_hint="'--at'") from None
    endpoint = _endpoint(ctx)
    found = history_mod.collect(endpoint.root, model, lambda: _connect(ctx, endpoint))
    if at is not None:  # relative to the moment the registry was read ("now" is its state)
        when = history_mod.parse_time(at, found.now)
    history_renderer(fmt)(found, sys.stdout, _color(ctx, sys.stdout), when)
    return EXIT_OK


@cli.command()
@global_options
@click.argument("models", nargs=-1, metavar="[MODEL]...")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="json: the proposals (branch, model, target, versions, commit, gates) for a workflow.",
)  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Find and report proposals; create no branch.")
@click.pass_context
def propose(ctx: click.Context, models: tuple[str, ...], fmt: str, dry_run: bool) -> int:
    """Propose promotions: commit each manifest change that passes its gates on a new branch.

    For every alias or stage that a policy gates, the newest READY version newer
    than the one the manifest wants that passes the gates (run as plan runs
    them) is written into the manifest, in place, on a new local branch
    registry-ops/propose/MODEL/TARGET-vN made from HEAD, with the gate
    evidence in the commit message. Your checkout is left as it is and nothing
    is pushed. A proposal whose branch exists (locally or on a remote) is
    reported as already proposed. Exits 0 whether or not anything was proposed.
    """
    import json

    from registry_ops.gitops import propose as propose_mod
    from registry_ops.pipeline.plan import prepare

    endpoint = _endpoint(ctx)
    propose_mod.check_repository(endpoint.root)
    desired, registry, observed = prepare(endpoint, models, lambda: _connect(ctx, endpoint))
    _warn(desired)
    outcome = propose_mod.propose(
        desired, models, endpoint, registry, observed, _progress(), dry_run=dry_run
    )
    for warning in outcome.warnings:
        click.echo(f"warning: {warning}", err=True)
    if fmt == "json":
        json.dump(outcome.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        propose_mod.render_text(outcome, sys.stdout)
    for error in outcome.errors:
        click.echo(f"error: {redact(error)}", err=True)
    return EXIT_ERROR if outcome.errors else EXIT_OK


@cli.command("force-unlock")
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

    endpoint = _endpoint(ctx)
    registry = _connect(ctx, endpoint)
    question = f"Release the apply lease on {model}?"
    if not yes and sys.stdin.isatty() and not click.confirm(question, default=False):
        click.echo("Cancelled; the lease is kept.")
        return EXIT_ERROR
    released = unlock(registry, model)
    if released is None:
        click.echo(f"{model} has no apply lease; nothing to release.")
    else:
        click.echo(f"Released the lease on {model} held by {released.describe()}.")
    return EXIT_OK


@cli.command()
@global_options
@click.argument("models", nargs=-1, metavar="[MODEL]...")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_context
def status(ctx: click.Context, models: tuple[str, ...], fmt: str) -> int:
    """Show who holds which alias and stage now, with key metrics."""
    import json

    from registry_ops.reports import status as status_mod

    endpoint = _endpoint(ctx)
    desired = _maybe_load(endpoint.root)
    registry = _connect(ctx, endpoint)
    if models:
        names = list(dict.fromkeys(models))
    elif desired is not None and desired.manifests:
        names = sorted(desired.manifests)
    else:
        names = None
    observed = registry.read_state(names)
    names = names or sorted(observed.models)
    missing = [n for n in names if n not in observed.models]
    book = registry.read_metrics(status_mod.holder_versions(names, observed))
    rows = status_mod.collect(names, observed, book, desired)
    if fmt == "json":
        json.dump({"models": [r.to_dict() for r in rows], "missing": missing}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        status_mod.render_text(rows, sys.stdout)
        for name in missing:
            click.echo(f"warning: model '{name}' is not registered in MLflow", err=True)
    return EXIT_ERROR if missing and models else EXIT_OK


def _versions(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[int]:
    """VERSION arguments as numbers: ``3`` or ``v3`` (as the output labels them)."""
    from registry_ops.reports.compare import parse_version

    try:
        return [parse_version(v) for v in values]
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


@cli.command()
@global_options
@click.argument("model")
@click.argument("versions", nargs=-1, metavar="[VERSION]...", callback=_versions)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
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
    """Compare versions' metrics side by side, holders marked, with deltas.

    With no VERSION: every version holding an alias or the Production or
    Staging stage, and the newest others, up to --limit. Deltas are against
    the champion alias holder, else the Production holder, else the first
    version compared (among the versions compared).
    """
    from registry_ops.render.compare import renderer as compare_renderer
    from registry_ops.reports.compare import collect

    endpoint = _endpoint(ctx)
    comparison = collect(_connect(ctx, endpoint), model, versions, metric_names, limit)
    compare_renderer(fmt)(comparison, sys.stdout, _color(ctx, sys.stdout))
    return EXIT_OK


def _maybe_load(root: Path) -> Desired | None:
    """The desired state when the root has manifests; None when it has none."""
    from registry_ops.desired.loader import load

    if not (root / "manifests").is_dir():
        return None
    return load(root)


@cli.command()
@global_options
@click.argument("models", nargs=-1, metavar="[MODEL]...")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False),
    help="Where to write the manifests. Default: ROOT/manifests.",
)
@click.option("--force", is_flag=True, help="Overwrite manifests that already manage a model.")
@click.pass_context
def export(ctx: click.Context, models: tuple[str, ...], out_dir: str | None, force: bool) -> int:
    """Write manifests from the live registry, to adopt models already in MLflow."""
    from registry_ops.reports import export as export_mod

    endpoint = _endpoint(ctx)
    desired = _maybe_load(endpoint.root)
    observed = _connect(ctx, endpoint).read_state(list(models) if models else None)
    missing = [m for m in models if m not in observed.models]
    if missing:
        raise RegistryOpsError(f"not registered in MLflow: {', '.join(missing)}")
    chosen = [observed.models[n] for n in (models or sorted(observed.models))]
    existing = {n: m.file for n, m in desired.manifests.items()} if desired else {}
    directory = Path(out_dir) if out_dir else endpoint.root / "manifests"
    written = export_mod.write(chosen, endpoint.root, directory, existing, force)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"Exported {len(written)} model(s).", err=True)
    return EXIT_OK


def _load_annotated(root: str | Path, fmt: str | None) -> Desired:
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


@cli.command()
@click.argument("directory", default=".", metavar="[DIR]", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.pass_context
def init(ctx: click.Context, directory: str, force: bool) -> int:
    """Scaffold a team repository in DIR: manifests/, policies/, workflows, schemas.

    Writes an example manifest and policies, the GitHub Actions workflows
    (plan on pull requests, apply on merge, drift and propose on a schedule)
    with their composite action, a pre-commit config and the JSON Schemas
    the manifests' yaml-language-server line points at. If any of these
    files exists, nothing is written unless --force is given.
    """
    from registry_ops.gitops import scaffold

    written = scaffold.scaffold(Path(directory), force=force)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(scaffold.next_steps(Path(directory)), err=True)
    return EXIT_OK


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: run the CLI and map every outcome to an exit code in one place."""
    try:
        code = cli.main(args=argv, prog_name="registry-ops", standalone_mode=False)
        code = code if isinstance(code, int) else EXIT_OK
    except click.exceptions.UsageError as exc:
        exc.show()
        code = EXIT_USAGE
    except click.exceptions.Abort as exc:
        # click turns Ctrl-C into Abort: keep the shell's convention for it
        if isinstance(exc.__cause__, KeyboardInterrupt):
            click.echo("Interrupted.", err=True)
            code = EXIT_INTERRUPTED
        else:
            click.echo("Aborted.", err=True)
            code = EXIT_ERROR
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        click.echo(f"error: {redact(exc.format_message())}", err=True)
        code = exc.exit_code
    except RegistryOpsError as exc:
        click.echo(f"error: {redact(str(exc))}", err=True)
        code = exc.exit_code
    except OSError as exc:  # files the user named: unreadable, unwritable, missing
        click.echo(f"error: {redact(str(exc))}", err=True)
        code = EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        code = EXIT_INTERRUPTED
    except Exception:  # a bug: show it, but never a credential from a message or URI
        click.echo(redact(traceback.format_exc()), err=True)
        click.echo(
            f"error: internal error in registry-ops (exit {EXIT_INTERNAL}): the traceback "
            "above is a bug; please report it",
            err=True,
        )
        code = EXIT_INTERNAL
    sys.exit(code)
