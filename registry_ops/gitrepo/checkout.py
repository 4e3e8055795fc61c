"""A checkout a package was installed from: its commit, where it came from, a name for it.

``registry-ops init`` pins the team repository to the registry-ops that wrote
it; when that registry-ops was installed from a local directory (``pip install
-e .`` in a clone), the clone says which commit, and its ``origin`` where the
commit lives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry_ops.gitrepo.repo import open_repo, top


@dataclass(frozen=True)
class Checkout:
    """A git work tree at a commit.

    ``origin`` is the ``origin`` remote's URL as git resolves it (``insteadOf``
    applied), None without one; it is given as configured, credentials and all.
    ``label`` names the commit for people (``git describe --tags --always``:
    ``v0.1.0``, ``v0.1.0-3-g1a2b3c4`` or a short SHA). ``dirty`` is true when
    tracked files differ from the commit. ``pushed`` is true when a branch of
    ``origin``, as last fetched here, contains the commit (the only way to know,
    offline, that whoever clones ``origin`` finds it).
    """

    top: Path
    commit: str
    origin: str | None
    label: str
    dirty: bool
    pushed: bool = False


def checkout(directory: str | Path) -> Checkout | None:
    """The checkout whose top directory is ``directory``; None when ``directory`` is not
    the top of a git work tree (a plain directory, a subdirectory of some repository),
    when the repository has no commit yet or git refuses to read it (one another user
    owns, say), or without a git executable."""
    try:
        repo = open_repo(directory)
    except OSError:
        return None
    if repo is None:
        return None
    with repo:
        import git  # present: open_repo found a repository

        try:
            return _read(repo, Path(directory).resolve())
        except (git.GitError, OSError):
            return None


def _read(repo: Any, directory: Path) -> Checkout | None:
    import git

    if repo.bare or top(repo) != directory:
        return None
    try:
        commit = str(repo.head.commit.hexsha)
    except ValueError:  # no commit yet
        return None
    try:
        origin: str | None = str(repo.git.remote("get-url", "origin")).strip() or None
    except git.GitCommandError:  # no remote named origin
        origin = None
    pushed = False
    if origin is not None:
        with_commit = repo.git.branch("-r", "--contains", commit, "--list", "origin/*")
        pushed = bool(str(with_commit).strip())
    try:
        label = str(repo.git.describe("--tags", "--always")).strip()
    except git.GitCommandError:
        label = ""
    return Checkout(
        top=directory,
        commit=commit,
        origin=origin,
        label=label or commit,
        dirty=repo.is_dirty(untracked_files=False),
        pushed=pushed,
    )
