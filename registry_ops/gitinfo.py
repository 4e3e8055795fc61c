"""What git says about the tree a plan or apply runs from; the only module that imports git."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class GitInfo:
    """The commit behind the manifests, and whether the tree differs from it."""

    commit: str
    branch: str | None
    dirty: bool
    author: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "commit": self.commit,
            "branch": self.branch,
            "dirty": self.dirty,
            "author": self.author,
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
        return GitInfo(
            commit=head.hexsha,
            branch=branch,
            dirty=repo.is_dirty(untracked_files=False),
            author=f"{head.author.name} <{head.author.email}>",
        )
