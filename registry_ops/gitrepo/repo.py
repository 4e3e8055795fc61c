"""Opening the repository a command runs in.

gitpython is imported here, lazily: importing it starts a ``git`` process to
find its version, which ``validate`` and ``--help`` must not pay for. Without
a git executable gitpython refuses to import, and every reader then answers
as it does outside a repository.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def open_repo(root: str | Path) -> Any:
    """The repository containing ``root`` (a context manager), or None outside one or
    without a git executable (gitpython then refuses to import)."""
    try:
        import git
    except ImportError:
        return None
    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


@contextmanager
def at_head(root: str | Path) -> Iterator[tuple[Any, Any] | None]:
    """The repository containing ``root`` and HEAD's commit, open for the block; None
    outside a repository, without git, or in a repository without commits yet."""
    repo = open_repo(root)
    if repo is None:
        yield None
        return
    with repo:
        try:
            head = repo.head.commit
        except ValueError:  # no commit yet
            yield None
            return
        yield repo, head


def repository(root: str | Path) -> Any:
    """The repository containing ``root`` (a context manager); ValueError outside one."""
    repo = open_repo(root)
    if repo is None:
        raise ValueError(f"{Path(root).resolve()} is not in a git repository (or git is missing)")
    return repo


def head_commit(repo: Any) -> Any:
    """HEAD's commit; ValueError in a repository without commits yet."""
    try:
        return repo.head.commit
    except ValueError:
        raise ValueError("the git repository has no commit yet") from None


def top(repo: Any) -> Path:
    """The repository's top directory (its work tree), resolved."""
    return Path(repo.working_tree_dir or ".").resolve()
