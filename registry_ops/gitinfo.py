"""What git says about the tree a plan or apply runs from; the only module that imports git."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Only these decide what apply does; an edited README is not an uncommitted plan.
DESIRED_STATE_DIRS = ("manifests", "policies")


@dataclass(frozen=True)
class GitInfo:
    """The commit behind the manifests, and whether they differ from it.

    ``dirty`` is true when files under ``manifests/`` or ``policies/`` have
    changes, tracked or untracked, that the commit does not hold;
    ``uncommitted`` lists them (relative to the repository).
    """

    commit: str
    branch: str | None
    dirty: bool
    author: str | None
    uncommitted: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "commit": self.commit,
            "branch": self.branch,
            "dirty": self.dirty,
            "author": self.author,
            "uncommitted": list(self.uncommitted),
        }


def describe(root: str | Path) -> GitInfo | None:
    """Git facts for the repository containing ``root``; None outside a repository."""
    try:
        import git
    except ImportError:  # git executable missing: gitpython refuses to import
        return None
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    with repo:
        try:
            head = repo.head.commit
        except ValueError:  # a repository without commits yet
            return None
        branch = None if repo.head.is_detached else repo.active_branch.name
        dirs = [str(Path(root, d).resolve()) for d in DESIRED_STATE_DIRS]
        status = repo.git.status("--porcelain", "--untracked-files=all", "--", *dirs)
        changed = tuple(line[3:] for line in status.splitlines() if line.strip())
        return GitInfo(
            commit=head.hexsha,
            branch=branch,
            dirty=bool(changed),
            author=f"{head.author.name} <{head.author.email}>",
            uncommitted=changed,
        )
