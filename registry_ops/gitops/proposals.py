"""What ``propose`` finds: the gated targets it looks at, the proposals (one per model
and version, with a move for each target it passes) and rejected candidates it reports,
and the branch each proposal is committed on."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from registry_ops.core.gate_result import GateResult
from registry_ops.core.text import printable

BRANCH_PREFIX = "registry-ops/propose"

PROPOSED = "proposed"
WOULD_PROPOSE = "would propose"  # --dry-run
ALREADY_PROPOSED = "already proposed"


@dataclass(frozen=True)
class Target:
    """One gated target of a manifest and the version the manifest wants for it."""

    model: str
    kind: str  # "alias" or "stage"
    name: str
    policy: str
    wanted: int | None  # for a stage listing several versions: the newest; None: empty
    # Candidates are newer than this: ``wanted``, or for an empty target the newest
    # version the manifest gives out (an older one would be a step back, not a fill).
    floor: int = 0

    @property
    def key(self) -> str:
        """``alias:NAME`` or ``stage:NAME``, as changes name their target."""
        return f"{self.kind}:{self.name}"


@dataclass
class Move:
    """One target a proposal gives its version, and the gates it passed for it."""

    target: Target
    holder: int | None = None  # the version holding the target in the registry now
    gates: list[GateResult] = field(default_factory=list)

    def wants(self) -> str:
        """What the manifest says of the target now, in words."""
        wanted = self.target.wanted
        return (
            f"{self.target.name} v{wanted}" if wanted is not None else f"{self.target.name} empty"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (one of a proposal's ``targets``)."""
        return {
            "target": self.target.name,
            "kind": self.target.kind,
            "policy": self.target.policy,
            "from_version": self.target.wanted,
            "holder_version": self.holder,
            "gates": [g.to_dict() for g in self.gates],
        }


@dataclass
class Proposal:
    """One version of one model found to pass the gates of one or more of its targets
    (one branch, one pull request), or found proposed already."""

    model: str
    manifest: str
    to_version: int
    branch: str
    status: str
    # Every target the version passes, in the manifest's order (aliases, then stages);
    # none for a proposal found already made (its branch says which).
    moves: list[Move] = field(default_factory=list)
    commit: str | None = None
    plan_digest: str | None = None

    @property
    def title(self) -> str:
        """The commit's subject, which becomes the pull request's title."""
        names = [m.target.name for m in self.moves]
        to = ""
        if names:
            listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
            to = f" to {listed}"
        return plain(f"Promote {self.model} v{self.to_version}{to}")

    def summary(self) -> str:
        """One line for the text output."""
        if self.status == ALREADY_PROPOSED:
            return f"{self.title} (branch exists at {(self.commit or '?')[:12]})"
        n = sum(len(m.gates) for m in self.moves)
        wants = ", ".join(m.wants() for m in self.moves)
        return f"{self.title} (manifest: {wants}; {n} gate{'s' * (n != 1)} passed)"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``propose --format json``)."""
        return {
            "status": self.status,
            "branch": self.branch,
            "model": self.model,
            "manifest": self.manifest,
            "to_version": self.to_version,
            "targets": [m.to_dict() for m in self.moves],
            "commit": self.commit,
            "plan_digest": self.plan_digest,
            "title": self.title,
        }


@dataclass(frozen=True)
class Rejection:
    """A candidate that was tried and not proposed, and why."""

    model: str
    target: str
    version: int
    reason: str


@dataclass
class Outcome:
    """Everything one ``propose`` run found."""

    proposals: list[Proposal] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    targets: int = 0  # gated targets looked at
    dry_run: bool = False

    def count(self, status: str) -> int:
        """How many proposals have ``status``."""
        return sum(1 for p in self.proposals if p.status == status)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``propose --format json``)."""
        return {
            "proposals": [p.to_dict() for p in self.proposals],
            "rejected": [
                {"model": r.model, "target": r.target, "version": r.version, "reason": r.reason}
                for r in self.rejected
            ],
            "errors": list(self.errors),
            "summary": {
                "targets_checked": self.targets,
                "proposed": self.count(PROPOSED),
                "would_propose": self.count(WOULD_PROPOSE),
                "already_proposed": self.count(ALREADY_PROPOSED),
                "errors": len(self.errors),
                "dry_run": self.dry_run,
            },
        }


def plain(text: str) -> str:
    """One line of text: line breaks, control and bidi characters shown as escapes
    (:func:`~registry_ops.core.text.printable`), outer blanks trimmed."""
    return printable(text).strip()


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def ref_part(text: str) -> str:
    """``text`` as one component of a git ref: letters, digits, ``._-`` only (safe in
    the workflow's shell loop too), with a short hash when anything had to change, so
    two names never share a branch."""
    part = re.sub(r"\.{2,}", ".", _UNSAFE.sub("-", text)).strip(".-")
    if part.endswith(".lock"):
        part = part[: -len(".lock")] + "-lock"
    if part != text:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        part = f"{part}-{digest}" if part else digest
    return part


def branch_name(model: str, version: int) -> str:
    """``registry-ops/propose/<model>/v<N>``, made safe for git: one branch (one pull
    request) per model and version, whatever targets it covers."""
    return f"{BRANCH_PREFIX}/{ref_part(model)}/v{version}"
