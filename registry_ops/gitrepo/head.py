"""What HEAD holds: files as HEAD commits them, and whether a commit is in its history.

``apply`` of a saved plan compares the manifests and policies the plan was
made from with HEAD's, and stamps a commit the applied branch contains. Both
read the object database only, never the working tree: what HEAD commits is
what was merged.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry_ops.gitrepo.repo import at_head, top

# A symbolic link as git stores it: a blob whose content is the link's target.
_LINK_MODE = 0o120000
# Links followed per path before giving up (a loop, or a chain no one means).
MAX_LINKS = 8
# Full object names only: a plan's commit is passed to git as an argument, and a
# value such as "--all" must never reach it as an option.
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass(frozen=True)
class HeadFiles:
    """Files as HEAD commits them.

    ``content`` maps each path asked for (relative to the root) to its bytes at
    HEAD, None when HEAD holds no file there; ``names`` maps it to the path git
    knows it by (from the repository's top), for messages.
    """

    commit: str
    branch: str | None
    content: dict[str, bytes | None] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)


def head_files(root: str | Path, relpaths: Iterable[str]) -> HeadFiles | None:
    """``relpaths`` (POSIX, relative to ``root``) as HEAD commits them; None outside a
    repository or in one without commits.

    Symbolic links committed inside the repository are followed, as the loader
    follows them on disk. A path outside the repository is held by no commit: None.
    """
    with at_head(root) as found:
        if found is None:  # no commit yet: nothing is committed
            return None
        repo, head = found
        branch = None if repo.head.is_detached else repo.active_branch.name
        base = top(repo)
        here = Path(root).resolve()
        out = HeadFiles(commit=str(head.hexsha), branch=branch)
        for rel in relpaths:
            path = Path(posixpath.normpath((here / rel).as_posix()))
            if not path.is_relative_to(base):
                out.content[rel], out.names[rel] = None, path.as_posix()
                continue
            inside = path.relative_to(base).as_posix()
            out.names[rel] = inside
            out.content[rel] = _read(head.tree, inside)
        return out


def _read(tree: Any, path: str) -> bytes | None:
    """The content of ``path`` in ``tree``, following links inside it; None when absent."""
    import git

    parts = path.split("/")
    hops = 0
    index = 0
    while index < len(parts):
        prefix = "/".join(parts[: index + 1])
        try:
            item = tree / prefix
        except KeyError:
            return None
        if isinstance(item, git.Blob) and item.mode == _LINK_MODE:
            hops += 1
            if hops > MAX_LINKS:
                return None
            target = bytes(item.data_stream.read()).decode("utf-8", errors="replace")
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(prefix), target))
            if posixpath.isabs(target) or joined == ".." or joined.startswith("../"):
                return None  # out of the repository: no commit holds it
            parts = joined.split("/") + parts[index + 1 :]
            index = 0
            continue
        if index < len(parts) - 1 and not isinstance(item, git.Tree):
            return None
        index += 1
    if not isinstance(item, git.Blob):
        return None
    return bytes(item.data_stream.read())


def contains(root: str | Path, commit: str) -> bool | None:
    """Whether HEAD's history holds ``commit`` (HEAD itself included); None outside a
    repository or in one without commits.

    False for a commit this repository does not have (a pull request's test
    merge, a branch never fetched, history a shallow clone cut off): nothing
    here shows that the branch contains it.
    """
    with at_head(root) as found:
        if found is None:
            return None
        repo, head = found
        import git  # present: a repository was found

        if not _SHA.fullmatch(commit):
            return False
        if head.hexsha == commit:
            return True
        try:
            repo.git.merge_base("--is-ancestor", commit, head.hexsha)
        except git.GitCommandError:  # 1: not an ancestor; 128: an unknown commit
            return False
        return True
