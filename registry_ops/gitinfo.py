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


def line_author(root: str | Path, relpath: str, line: int) -> str | None:
    """Who last changed ``line`` of ``relpath`` (relative to ``root``), from git blame;
    None outside git or for a line not committed yet."""
    try:
        import git
    except ImportError:
        return None
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    with repo:
        path = Path(root, relpath).resolve()
        try:
            inside = path.relative_to(Path(repo.working_tree_dir or ".").resolve())
            if repo.is_dirty(path=str(inside)) or str(inside) in repo.untracked_files:
                return None  # the text on disk is not what the commit says
            blamed = repo.blame("HEAD", str(inside), L=f"{line},{line}")
        except (git.GitCommandError, ValueError):
            return None
        for entry in blamed or []:
            author = entry[0].author  # type: ignore[union-attr]
            return f"{author.name} <{author.email}>"
    return None
