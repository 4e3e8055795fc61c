"""The ``registry-ops`` command line: options in, calls out, exit codes back.

One module per group of commands (:mod:`.plan`: validate, plan, show;
:mod:`.apply`: apply, force-unlock; :mod:`.history`: history, propose;
:mod:`.reports`: status, compare, export; :mod:`.init`), what they share in
:mod:`.context`. Here: the group with its global options, and :func:`main`,
the one place that maps every outcome to an exit code.

Heavy imports (mlflow via the adapter) happen inside the commands that talk
to a registry, so ``validate`` and ``--help`` stay fast.
"""

from __future__ import annotations

import sys
import traceback
from typing import NoReturn

import click

from registry_ops import __version__
from registry_ops.cli import apply, history, init, plan, reports
from registry_ops.core.redact import redact
from registry_ops.core.text import printable_lines
from registry_ops.errors import (
    EXIT_ERROR,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    RegistryOpsError,
)


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


for _command in (
    plan.validate,
    plan.plan,
    plan.show,
    apply.apply,
    apply.force_unlock,
    history.history,
    history.propose,
    reports.status,
    reports.compare,
    reports.export,
    init.init,
):
    cli.add_command(_command)


def _said(text: str) -> str:
    """An error message as printed: credentials redacted, and each line printable (MLflow's
    messages quote model names, and git's quote file names, as they are)."""
    return printable_lines(redact(text))


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
        click.echo(f"error: {_said(exc.format_message())}", err=True)
        code = exc.exit_code
    except RegistryOpsError as exc:
        click.echo(f"error: {_said(str(exc))}", err=True)
        code = exc.exit_code
    except OSError as exc:  # files the user named: unreadable, unwritable, missing
        click.echo(f"error: {_said(str(exc))}", err=True)
        code = EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        code = EXIT_INTERRUPTED
    except Exception:  # a bug: show it, but never a credential from a message or URI
        click.echo(_said(traceback.format_exc()), err=True)
        click.echo(
            f"error: internal error in registry-ops (exit {EXIT_INTERNAL}): the traceback "
            "above is a bug; please report it",
            err=True,
        )
        code = EXIT_INTERNAL
    sys.exit(code)
