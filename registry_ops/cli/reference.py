"""The command-line reference (docs/cli.md), written from the commands themselves.

``python -m registry_ops.cli.reference > docs/cli.md`` regenerates it; a test
fails while the committed page differs from what the commands say.
"""

from __future__ import annotations

import sys

import click

from registry_ops.cli import cli

HEADER = """\
# Command-line reference

Generated from `registry-ops --help` and each command's `--help` by
`python -m registry_ops.cli.reference > docs/cli.md`. Exit codes and the
product contract: the README and docs/trust.md.
"""


def _help(command: click.Command, name: str, parent: click.Context | None = None) -> str:
    # The contexts the CLI itself makes (the group's settings, -h included), so the
    # page does not depend on whether a command already ran in this process.
    ctx = click.Context(
        command,
        info_name=name,
        parent=parent,
        terminal_width=100,
        max_content_width=100,
        **(cli.context_settings if parent is None else {}),
    )
    return command.get_help(ctx)


def reference() -> str:
    """The whole page, Markdown."""
    root = click.Context(cli, info_name="registry-ops", **cli.context_settings)
    out = [HEADER, "## registry-ops", "", "```", _help(cli, "registry-ops"), "```", ""]
    for name in sorted(cli.commands):
        command = cli.commands[name]
        out += [f"## registry-ops {name}", "", "```", _help(command, name, root), "```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(reference())
