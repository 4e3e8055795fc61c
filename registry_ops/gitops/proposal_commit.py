"""A proposal's commit: the manifest with the value of each target it moves edited, on a
new branch made from HEAD, with a message that carries the evidence (each target's gates,
their results and numbers, the plan digest). The user's checkout (HEAD, index, working
tree) is never touched."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from registry_ops import gitrepo as gitinfo
from registry_ops.core.gate_result import GateResult
from registry_ops.desired import yamldoc
from registry_ops.gitops.manifest_edit import EditError, dotted, edit_version, value_path
from registry_ops.gitops.proposals import Outcome, Proposal, plain


def commit_proposal(
    proposal: Proposal, root: Path, registry_id: str, created_at: str, outcome: Outcome
) -> None:
    """Write the edit of every target's value in the manifest as it is at HEAD, as one
    commit on the proposal's branch; set ``proposal.commit``, or note in ``outcome`` why
    it was not proposed."""
    where = f"{proposal.manifest}: {proposal.title}"
    try:
        inside, committed = gitinfo.head_file(root, proposal.manifest)
        on_disk = (root / proposal.manifest).read_bytes()
        if committed is None:
            raise EditError(f"{proposal.manifest} is not committed; commit it first")
        if committed != on_disk:
            raise EditError(
                f"{proposal.manifest} has uncommitted changes and the proposal branch starts "
                "from HEAD; commit or discard them first"
            )
        edited, paths = committed, []
        for move in proposal.moves:
            # One value at a time, each found in the text as the previous edit left it
            # (two values on one line move each other's columns).
            path = value_path(edited, move.target)
            edited = edit_version(edited, path, proposal.to_version)
            paths.append(path)
        message = commit_message(proposal, paths, registry_id, created_at)
        proposal.commit = gitinfo.commit_on_new_branch(
            root, proposal.branch, {inside: edited}, message
        )
    except (EditError, ValueError, OSError) as exc:
        outcome.errors.append(f"{where}: not proposed: {exc}")


def _code(text: str) -> str:
    """``text`` as a Markdown code span: read literally on GitHub (no mention, link or
    HTML) and still plain in ``git log``."""
    return "`" + plain(text).replace("`", "'") + "`"


def _number(value: float, signed: bool = False) -> str:
    return f"{value:+.6g}" if signed else f"{value:.6g}"


def gate_line(gate: GateResult) -> str:
    """One gate as a list item: result, name, the numbers it compared, its detail."""
    name = f"{gate.policy}: {gate.name}" if gate.policy else gate.name
    numbers = [
        f"{label} {_number(value, signed=label == 'delta')}"
        for label, value in (
            ("candidate", gate.observed),
            ("holder", gate.holder),
            ("delta", gate.delta),
            ("threshold", gate.threshold),
        )
        if value is not None
    ]
    line = f"- {'pass' if gate.passed else 'FAIL'} {_code(name)}"
    if numbers:
        line += ": " + ", ".join(numbers)
    if gate.detail:
        line += f" ({_code(gate.detail)})"
    return line


def commit_message(
    proposal: Proposal, paths: Sequence[yamldoc.PathKey], registry_id: str, created_at: str
) -> str:
    """The proposal's commit message; the workflow makes its subject the pull request's
    title and its body the description. ``paths`` are where each move's value stands in
    the manifest, in the order of ``proposal.moves``."""
    lines = [
        proposal.title,
        "",
        f"Version {proposal.to_version} of {_code(proposal.model)} passes every gate of "
        "the policy of each target below.",
        "",
        f"- manifest: {_code(proposal.manifest)}",
        f"- registry: {_code(registry_id)}, read at {created_at}",
        f"- plan digest: {_code(proposal.plan_digest or '-')} (these changes planned and "
        "gated together against that registry)",
    ]
    for move, path in zip(proposal.moves, paths, strict=True):
        target = move.target
        holder = f"v{move.holder} holds it now" if move.holder is not None else "nobody holds it"
        if target.wanted is None:
            wants = "the manifest leaves it empty"
            edit = f"{'null' if target.kind == 'alias' else '[]'} -> {proposal.to_version}"
        else:
            wants = f"the manifest wants v{target.wanted}"
            edit = f"{target.wanted} -> {proposal.to_version}"
        lines += [
            "",
            f"{target.kind.capitalize()} {_code(target.name)}, policy {_code(target.policy)}: "
            f"{wants}, {holder}; {_code(dotted(path))}: {edit}",
            "",
            *(gate_line(g) for g in move.gates),
        ]
    lines += [
        "",
        "Proposed by `registry-ops propose`; the plan on this pull request re-reads the "
        "registry and runs the gates again.",
    ]
    return "\n".join(lines) + "\n"
