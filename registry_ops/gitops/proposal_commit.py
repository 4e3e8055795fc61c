"""A proposal's commit: the edited manifest on a new branch made from HEAD, with a
message that carries the evidence (each gate's result and numbers, the plan digest).
The user's checkout (HEAD, index, working tree) is never touched."""

from __future__ import annotations

from pathlib import Path

from registry_ops import gitrepo as gitinfo
from registry_ops.core.gate_result import GateResult
from registry_ops.desired import yamldoc
from registry_ops.gitops.manifest_edit import EditError, dotted, edit_version, value_path
from registry_ops.gitops.proposals import Outcome, Proposal, Target, plain


def commit_proposal(
    proposal: Proposal,
    target: Target,
    root: Path,
    registry_id: str,
    created_at: str,
    outcome: Outcome,
) -> None:
    """Write the one-value edit of the manifest as it is at HEAD on the proposal's branch;
    set ``proposal.commit``, or note in ``outcome`` why it was not proposed."""
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
        path = value_path(committed, target)
        edited = edit_version(committed, path, proposal.to_version)
        message = commit_message(proposal, path, registry_id, created_at)
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
    proposal: Proposal, path: yamldoc.PathKey, registry_id: str, created_at: str
) -> str:
    """The proposal's commit message; the workflow makes its subject the pull request's
    title and its body the description."""
    kind = "alias" if proposal.kind == "alias" else "stage"
    holder = (
        f"v{proposal.holder} holds it now"
        if proposal.holder is not None
        else "no version holds it now"
    )
    lines = [
        proposal.title,
        "",
        f"Version {proposal.to_version} of {_code(proposal.model)} passes every gate of "
        f"policy {_code(proposal.policy)} for the {kind} {_code(proposal.target)}: "
        f"the manifest wants v{proposal.from_version}, {holder}.",
        "",
        f"- manifest: {_code(proposal.manifest)}, {_code(dotted(path))}: "
        f"{proposal.from_version} -> {proposal.to_version}",
        f"- registry: {_code(registry_id)}, read at {created_at}",
        f"- plan digest: {_code(proposal.plan_digest or '-')} (this change planned and gated "
        "against that registry)",
        "",
        "Gates:",
        "",
        *(gate_line(g) for g in proposal.gates),
        "",
        "Proposed by `registry-ops propose`; the plan on this pull request re-reads the "
        "registry and runs the gates again.",
    ]
    return "\n".join(lines) + "\n"
