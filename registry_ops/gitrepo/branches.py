"""Proposal branches: a commit on a new ref, the checkout left alone."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from registry_ops.gitrepo.repo import head_commit, repository

# Who commits a proposal when neither git's environment nor its config names anyone
# (a CI runner's fresh checkout has no user.name).
FALLBACK_IDENTITY = ("registry-ops", "registry-ops@localhost")


def find_branch(root: str | Path, branch: str) -> str | None:
    """The commit ``branch`` points at, as a local branch or a remote-tracking branch
    of any remote (a proposal pushed earlier); None when neither exists."""
    with repository(root) as repo:
        out: str = repo.git.for_each_ref(
            "--format=%(objectname) %(refname)", f"refs/heads/{branch}", "refs/remotes/"
        )
    for line in out.splitlines():
        sha, _, ref = line.partition(" ")
        if ref == f"refs/heads/{branch}":
            return str(sha)
        parts = ref.split("/", 3)  # refs, remotes, <remote>, <branch>
        if len(parts) == 4 and parts[3] == branch:
            return str(sha)
    return None


def commit_on_new_branch(
    root: str | Path, branch: str, files: dict[str, bytes], message: str
) -> str:
    """Commit ``files`` (repository-relative POSIX path -> content) on top of HEAD as
    the new local branch ``branch``; return the commit's SHA.

    Nothing of the checkout moves: HEAD, the index and the working tree stay as
    they are, and nothing else of the working tree enters the commit. The blobs,
    trees and commit are written to the object database from an in-memory index
    built from HEAD's tree, and the branch is created only if it does not exist
    (atomically: a concurrent creator makes this fail). Raises ValueError for an
    invalid or existing branch name, or outside a repository.
    """
    import git
    from git.index.typ import BaseIndexEntry, IndexEntry
    from gitdb.base import IStream

    with repository(root) as repo:
        head = head_commit(repo)
        try:
            repo.git.check_ref_format("--branch", branch)
        except git.GitCommandError:
            raise ValueError(f"{branch!r} is not a valid git branch name") from None
        index = git.IndexFile.new(repo, head.tree)
        for path, data in files.items():
            stored = repo.odb.store(IStream(git.Blob.type, len(data), io.BytesIO(data)))
            try:
                mode = (head.tree / path).mode
            except KeyError:
                mode = 0o100644
            entry = BaseIndexEntry((mode, stored.binsha, 0, path))
            index.entries[(path, 0)] = IndexEntry.from_base(entry)
        tree = index.write_tree()
        commit = git.Commit.create_from_tree(
            repo, tree, message, parent_commits=[head], head=False,
            author=_identity(repo, "AUTHOR"), committer=_identity(repo, "COMMITTER"),
        )  # fmt: skip
        try:
            # An empty old value: create the ref only if it does not exist yet.
            repo.git.update_ref(
                "-m", "registry-ops propose", f"refs/heads/{branch}", commit.hexsha, ""
            )
        except git.GitCommandError as exc:
            detail = str(exc.stderr).strip().removeprefix("stderr:").strip().strip("'")
            raise ValueError(f"cannot create branch {branch}: {detail}") from None
        return str(commit.hexsha)


def _identity(repo: Any, role: str) -> Any:
    """Author or committer as git would pick it (environment, then config), else
    :data:`FALLBACK_IDENTITY` instead of git's guess from the login and host name."""
    import git

    reader = repo.config_reader()
    name = os.environ.get(f"GIT_{role}_NAME") or reader.get_value("user", "name", "")
    email = os.environ.get(f"GIT_{role}_EMAIL") or reader.get_value("user", "email", "")
    return git.Actor(str(name or FALLBACK_IDENTITY[0]), str(email or FALLBACK_IDENTITY[1]))
