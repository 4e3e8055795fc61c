"""What ``propose`` finds: the gated targets it looks at, the proposals and rejected
candidates it reports, and the branch each proposal is committed on."""

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
    wanted: int  # for a stage listing several versions: the newest of them

    @property
    def key(self) -> str:
        """``alias:NAME`` or ``stage:NAME``, as changes name their target."""
        return f"{self.kind}:{self.name}"


@dataclass
class Proposal:
    """One promotion found to pass its gates (or found proposed already)."""

    model: str
    target: str
    kind: str
    manifest: str
    from_version: int
    to_version: int
    branch: str
    status: str
    policy: str
    holder: int | None = None  # the version holding the target in the registry now
    commit: str | None = None
    plan_digest: str | None = None
    gates: list[GateResult] = field(default_factory=list)

    @property
    def title(self) -> str:
        """The commit's subject, which becomes the pull request's title."""
        return plain(f"Promote {self.model} v{self.to_version} to {self.target}")

    def summary(self) -> str:
        """One line for the text output."""
        if self.status == ALREADY_PROPOSED:
            return f"{self.title} (branch exists at {(self.commit or '?')[:12]})"
        n = len(self.gates)
        return (
            f"{self.title} (manifest wants v{self.from_version}; {n} gate{'s' * (n != 1)} passed)"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``propose --format json``)."""
        return {
            "status": self.status,
            "branch": self.branch,
            "model": self.model,
            "target": self.target,
            "kind": self.kind,
            "manifest": self.manifest,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "holder_version": self.holder,
            "policy": self.policy,
            "commit": self.commit,
            "plan_digest": self.plan_digest,
            "title": self.title,
            "gates": [g.to_dict() for g in self.gates],
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


def branch_name(model: str, target: str, version: int) -> str:
    """``registry-ops/propose/<model>/<target>-v<N>``, made safe for git."""
    return f"{BRANCH_PREFIX}/{ref_part(model)}/{ref_part(target)}-v{version}"
