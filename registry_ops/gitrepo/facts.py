"""What git says about the tree a plan or apply runs from: its commit, what differs
from it, who wrote a line, what HEAD holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry_ops.gitrepo.repo import at_head, head_commit, open_repo, repository, top

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
    with at_head(root) as found:
        if found is None:
            return None
        repo, head = found
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


def changed_since(root: str | Path, ref: str) -> list[str] | None:
    """Files under ``root`` that differ between ``ref`` and the working tree (committed
    or not, untracked included), relative to ``root``; None outside git.

    Raises ValueError naming ``ref`` when git does not know it.
    """
    repo = open_repo(root)
    if repo is None:
        return None
    with repo:
        base = top(repo)
        here = Path(root).resolve()
        import git  # present: open_repo found a repository

        try:
            repo.commit(ref)
        except (git.BadName, ValueError, git.GitCommandError) as exc:
            raise ValueError(f"git does not know {ref!r}: {exc}") from None
        names = repo.git.diff("--name-only", ref, "--", str(here)).splitlines()
        names += repo.untracked_files
        out = []
        for name in names:
            path = (base / name).resolve()
            if path.is_relative_to(here):
                out.append(str(path.relative_to(here)))
        return sorted(set(out))


def unchanged_since(root: str | Path, commit: str, relpaths: list[str]) -> bool | None:
    """Whether ``relpaths`` (relative to ``root``) are the same on disk as at ``commit``;
    None when git cannot tell (no repository, unknown commit)."""
    try:
        changed = changed_since(root, commit)
    except ValueError:
        return None
    if changed is None:
        return None
    return not set(changed) & set(relpaths)


# What blame is worth in a shallow clone (actions/checkout fetches one commit by
# default) for a line older than the history fetched: git pins it on the oldest
# commit it has, whose author is whoever committed last, not who wrote the line.
UNKNOWN_AUTHOR = "unknown (shallow git history: fetch the full history to name the author)"


def line_author(root: str | Path, relpath: str, line: int) -> str | None:
    """Who last changed ``line`` of ``relpath`` (relative to ``root``), from git blame;
    None outside git or for a line not committed yet; :data:`UNKNOWN_AUTHOR` in a
    shallow clone when blame stops at the edge of the history fetched."""
    repo = open_repo(root)
    if repo is None:
        return None
    with repo:
        import git  # present: open_repo found a repository

        path = Path(root, relpath).resolve()
        try:
            inside = path.relative_to(top(repo))
            if repo.is_dirty(path=str(inside)) or str(inside) in repo.untracked_files:
                return None  # the text on disk is not what the commit says
            blamed = repo.blame("HEAD", str(inside), L=f"{line},{line}")
            for entry in blamed or []:
                if _at_shallow_edge(repo, entry[0].hexsha):
                    return UNKNOWN_AUTHOR
                author = entry[0].author
                return f"{author.name} <{author.email}>"
        except (git.GitCommandError, ValueError):
            return None
    return None


def _at_shallow_edge(repo: Any, sha: str) -> bool:
    """Whether ``sha`` is where a shallow clone's history stops (its parents were not
    fetched): a line blamed on it may be older than it. Never in a full clone."""
    if repo.git.rev_parse("--is-shallow-repository").strip() != "true":
        return False
    try:
        edge = (Path(repo.common_dir) / "shallow").read_text(encoding="ascii").split()
    except OSError:
        return True  # shallow, but where it stops is unreadable: trust no blame
    return sha in edge


def repo_relative(root: str | Path, relpath: str) -> tuple[Path, str] | None:
    """The repository's top directory and ``relpath`` (relative to ``root``) relative
    to it; None outside a repository."""
    repo = open_repo(root)
    if repo is None:
        return None
    with repo:
        base = top(repo)
    inside = Path(root, relpath).resolve().relative_to(base)
    return base, inside.as_posix()


def head_file(root: str | Path, relpath: str) -> tuple[str, bytes | None]:
    """``relpath`` (relative to ``root``) as the repository names it (POSIX, from its
    top), and its content at HEAD: None when HEAD does not hold it.

    Raises ValueError outside a repository, in one without commits, or for a path
    outside the repository.
    """
    import git

    with repository(root) as repo:
        head = head_commit(repo)
        base = top(repo)
        path = Path(root, relpath).resolve()
        if not path.is_relative_to(base):
            raise ValueError(f"{relpath} is outside the git repository at {base}")
        inside = path.relative_to(base).as_posix()
        try:
            blob = head.tree / inside
        except KeyError:
            return inside, None
        if not isinstance(blob, git.Blob):
            return inside, None
        return inside, bytes(blob.data_stream.read())
