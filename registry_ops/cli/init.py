"""``init``: scaffold a team repository."""

from __future__ import annotations

from pathlib import Path

import click

from registry_ops.errors import EXIT_OK


@click.command()
@click.argument("directory", default=".", metavar="[DIR]", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def init(directory: str, force: bool) -> int:
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
