"""``init``: scaffold a team repository."""

from __future__ import annotations

from pathlib import Path

import click

from registry_ops.core.text import printable_lines
from registry_ops.errors import EXIT_OK


@click.command()
@click.argument("directory", default=".", metavar="[DIR]", type=click.Path(file_okay=False))
@click.option(
    "--source",
    "source_url",
    metavar="GIT_URL",
    help="The git repository of registry-ops to pin (a fork, a mirror); needs --ref.",
)
@click.option(
    "--ref",
    metavar="REF",
    help="The commit (full SHA) or tag to pin; alone, pins the detected repository at REF.",
)
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def init(directory: str, source_url: str | None, ref: str | None, force: bool) -> int:
    """Scaffold a team repository in DIR: manifests/, policies/, workflows, schemas.

    Writes an example manifest and policies, the GitHub Actions workflows
    (plan on pull requests, apply on merge, drift and propose on a schedule)
    with their composite action, a pre-commit config and the JSON Schemas
    the manifests' yaml-language-server line points at. If any of these
    files exists, nothing is written unless --force is given.

    The action and the pre-commit hook are pinned to the registry-ops that
    runs init, read from its install record: installed from git, or from a
    git checkout, they name that repository and commit; installed from a
    package index, the action installs the same version and the hook runs
    the registry-ops on PATH. --source and --ref pin another repository and
    ref instead.
    """
    from registry_ops.gitops import scaffold, source

    try:
        pinned = source.choose(source_url, ref)
    except source.BadSource as exc:
        raise click.UsageError(str(exc)) from None
    written = scaffold.scaffold(Path(directory), force=force, source=pinned)
    for path in written:
        click.echo(f"wrote {path}")
    # It names paths and the git origin and tag of the install: shown, never obeyed.
    click.echo(printable_lines(scaffold.next_steps(Path(directory), pinned)), err=True)
    return EXIT_OK
