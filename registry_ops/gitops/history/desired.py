"""The desired state from git: what moved between consecutive revisions of a
model's manifest (``champion: v2 -> v3``), who moved it, when and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from registry_ops.gitops.history.times import EPOCH, iso, parse_iso
from registry_ops.gitops.history.wanted import Unreadable, manifest_of, read_revision, targets

if TYPE_CHECKING:
    from registry_ops.gitrepo import FileRevision

# Parts of a manifest besides its targets whose change a commit is listed for;
# compared as written, since old revisions need not fit today's model.
_OTHER_KEYS = ("description", "tags", "gates", "retention", "overrides", "prune")


@dataclass(frozen=True)
class Move:
    """A target whose desired holder changed between two versions of the manifest."""

    target: str
    before: int | None
    after: int | None
    rollback: bool = False

    @property
    def text(self) -> str:
        """``champion: v2 -> v3`` (stages by name: ``Production: v2 -> v3``)."""
        name = self.target.partition(":")[2]
        note = " (rollback)" if self.rollback else ""
        return f"{name}: {_v(self.before)} -> {_v(self.after)}{note}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "target": self.target,
            "from": self.before,
            "to": self.after,
            "rollback": self.rollback,
        }


@dataclass(frozen=True)
class DesiredChange:
    """One commit that changed the model's manifest."""

    commit: str
    author: str
    email: str
    date: datetime
    message: str
    path: str
    targets: dict[str, int]
    moves: tuple[Move, ...]
    other: tuple[str, ...]
    present: bool  # the manifest names the model after this commit
    readable: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "commit": self.commit,
            "author": self.author,
            "email": self.email,
            "date": iso(self.date),
            "message": self.message,
            "path": self.path,
            "targets": dict(self.targets),
            "moves": [m.to_dict() for m in self.moves],
            "other": list(self.other),
            "present": self.present,
            "readable": self.readable,
        }


def _v(version: int | None) -> str:
    return "-" if version is None else f"v{version}"


def desired_history(revisions: list[FileRevision], model: str) -> list[DesiredChange]:
    """The commits (newest first) in which the model's desired state changed.

    A revision that cannot be read is listed (``readable`` false, no targets); the
    next readable one is compared with the last readable one before it.
    """
    out: list[DesiredChange] = []
    before: dict[str, Any] | None = None
    old: dict[str, int] = {}
    ever: dict[str, set[int]] = {}  # target -> versions the manifest gave it before
    for rev in reversed(revisions):  # oldest first
        doc: dict[str, Any] | None = None
        new: dict[str, int] = {}
        readable = True
        if rev.content is not None:
            try:
                data = read_revision(rev.content)
            except Unreadable:
                data, readable = None, False
            if data is not None and str(data.get("model")) == model:
                doc = data
                new = targets(manifest_of(data, rev.path))
        if doc is None and before is None and readable:
            continue  # the file named another model then
        moves = []
        for target in sorted(set(old) | set(new)):
            if old.get(target) != new.get(target):
                after = new.get(target)
                back = after is not None and after in ever.get(target, set())
                moves.append(Move(target, old.get(target), after, back))
        other = tuple(k for k in _OTHER_KEYS if (before or {}).get(k) != (doc or {}).get(k))
        out.append(
            DesiredChange(
                commit=rev.commit,
                author=rev.author,
                email=rev.email,
                date=parse_iso(rev.date) or EPOCH,
                message=rev.message,
                path=rev.path,
                targets=new,
                moves=tuple(moves),
                other=other,
                present=doc is not None,
                readable=readable,
            )
        )
        for target, version in new.items():
            ever.setdefault(target, set()).add(version)
        if readable:
            before, old = doc, new
    out.reverse()
    return out
