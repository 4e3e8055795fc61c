"""Renderers for ``registry-ops propose``: text and JSON of an
:class:`~registry_ops.gitops.proposals.Outcome`."""

from __future__ import annotations

import json
from typing import IO

from registry_ops.core.text import json_text
from registry_ops.gitops.proposals import (
    ALREADY_PROPOSED,
    PROPOSED,
    WOULD_PROPOSE,
    Outcome,
    plain,
)


def render_text(outcome: Outcome, stream: IO[str], color: bool = False) -> None:
    """One line per proposal and per candidate tried and rejected, then a summary."""
    for proposal in outcome.proposals:
        stream.write(f"{proposal.status:<17} {proposal.branch}  {proposal.summary()}\n")
    for rejection in outcome.rejected:
        stream.write(
            f"{'not proposed':<17} {plain(rejection.model)} {plain(rejection.target)} "
            f"v{rejection.version}: {plain(rejection.reason)}\n"
        )
    stream.write(summary(outcome) + "\n")


def render_json(outcome: Outcome, stream: IO[str], color: bool = False) -> None:
    """One JSON object (see ``Outcome.to_dict``): the proposals for a workflow."""
    stream.write(json_text(json.dumps(outcome.to_dict(), indent=2)) + "\n")


def summary(outcome: Outcome) -> str:
    """The final line."""
    made = outcome.count(WOULD_PROPOSE if outcome.dry_run else PROPOSED)
    already = outcome.count(ALREADY_PROPOSED)
    tail = f"; {already} already proposed" if already else ""
    if outcome.errors:
        tail += f"; {len(outcome.errors)} error{'s' * (len(outcome.errors) != 1)}"
    if not outcome.targets and not outcome.errors:
        return "Nothing to propose: no manifest gates an alias or stage."
    if not made:
        n = outcome.targets
        return (
            f"Nothing to propose: no newer READY version passes the gates of its target "
            f"({n} gated target{'s' * (n != 1)} checked{tail})."
        )
    plural = "s" * (made != 1)
    if outcome.dry_run:
        return f"Would propose {made} promotion{plural}{tail} (dry run: no branch created)."
    return (
        f"Proposed {made} promotion{plural} on new local branch{'es' * (made != 1)}{tail}; "
        "nothing was pushed."
    )
