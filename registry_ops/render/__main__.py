"""Render a saved plan again: ``python -m registry_ops.render FORMAT PLAN_FILE``.

A workflow makes one plan (``plan --out plan.json``) and needs it in several
shapes: the pull-request comment (``plan``'s own output), the job summary
(``markdown --summary``: the same Markdown with the summary's larger size
budget, so nothing is cut) and annotations (``github``). Rendering the saved
file, instead of planning again, shows exactly the plan that was sealed. The
file is checked like ``apply`` checks it (schema, digest, signature).
"""

from __future__ import annotations

import argparse
import sys

from registry_ops.errors import EXIT_ERROR, EXIT_OK, RegistryOpsError
from registry_ops.pipeline.seal import load_plan
from registry_ops.render import FORMATS, renderer
from registry_ops.render.markdown import render_summary


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, render, and return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m registry_ops.render", description=__doc__)
    parser.add_argument("format", choices=FORMATS)
    parser.add_argument("plan_file")
    parser.add_argument(
        "--summary",
        action="store_true",
        help="markdown only: the job-summary budget (1 MB) instead of the comment's (64 KiB)",
    )
    args = parser.parse_args(argv)
    try:
        with open(args.plan_file, "rb") as stream:
            plan = load_plan(stream, args.plan_file)
    except (OSError, RegistryOpsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.format == "markdown" and args.summary:
        render_summary(plan, sys.stdout)
    else:
        renderer(args.format)(plan, sys.stdout, False)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
