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


def _open(root: str | Path) -> Any:
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


def describe(root: str | Path) -> GitInfo | None:
    """Git facts for the repository containing ``root``; None outside a repository."""
    repo = _open(root)
    if repo is None:
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


def changed_since(root: str | Path, ref: str) -> list[str] | None:
    """Files under ``root`` that differ between ``ref`` and the working tree (committed
    or not, untracked included), relative to ``root``; None outside git.

    Raises ValueError naming ``ref`` when git does not know it.
    """
    repo = _open(root)
    if repo is None:
        return None
    with repo:
        base = Path(repo.working_tree_dir or ".").resolve()
        here = Path(root).resolve()
        import git  # present: _open found a repository

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


def line_author(root: str | Path, relpath: str, line: int) -> str | None:
    """Who last changed ``line`` of ``relpath`` (relative to ``root``), from git blame;
    None outside git or for a line not committed yet."""
    repo = _open(root)
    if repo is None:
        return None
    with repo:
        import git  # present: _open found a repository

        path = Path(root, relpath).resolve()
        try:
            inside = path.relative_to(Path(repo.working_tree_dir or ".").resolve())
            if repo.is_dirty(path=str(inside)) or str(inside) in repo.untracked_files:
                return None  # the text on disk is not what the commit says
            blamed = repo.blame("HEAD", str(inside), L=f"{line},{line}")
        except (git.GitCommandError, ValueError):
            return None
        for entry in blamed or []:
            author = entry[0].author
            return f"{author.name} <{author.email}>"
    return None


# ---- the history of one file ----------------------------------------------------------

# Start of each commit's header in `git log` output; fields split by NUL.
_COMMIT_MARK = "\x01"
# Enough context lines that every hunk holds the whole file (manifests are <= 1 MiB).
_WHOLE_FILE = "--unified=2000000"


@dataclass(frozen=True)
class FileRevision:
    """One commit that changed a file, and the file as that commit left it.

    ``path`` is the file's path (relative to the repository) at that commit;
    ``content`` is None when the commit deleted it. ``date`` is the committer
    date (when the change landed), ``authored`` the author date.
    """

    commit: str
    author: str
    email: str
    date: str
    authored: str
    message: str
    path: str
    content: str | None


def repo_relative(root: str | Path, relpath: str) -> tuple[Path, str] | None:
    """The repository's top directory and ``relpath`` (relative to ``root``) relative
    to it; None outside a repository."""
    repo = _open(root)
    if repo is None:
        return None
    with repo:
        top = Path(repo.working_tree_dir or ".").resolve()
    inside = Path(root, relpath).resolve().relative_to(top)
    return top, inside.as_posix()


def grep_head(top: str | Path, pattern: str, directory: str, rev: str = "HEAD") -> list[str]:
    """``path:line`` matches of a POSIX basic ``pattern`` in ``directory`` at ``rev``
    (one ``git grep``); [] when nothing matches or ``rev`` does not exist."""
    import git

    with git.Repo(top) as repo:
        try:
            out = repo.git.grep("-I", "--no-color", "-e", pattern, rev, "--", directory)
        except git.GitCommandError:
            return []
    prefix = rev + ":"
    return [line[len(prefix) :] if line.startswith(prefix) else line for line in out.splitlines()]


def last_paths_with(top: str | Path, text: str, directory: str) -> list[tuple[str, str]]:
    """``(commit, path)`` of the newest commit under ``directory`` whose diff added or
    removed ``text`` (git's pickaxe), one pair per file it changed; [] when none did."""
    import git

    with git.Repo(top) as repo:
        try:
            out = repo.git.log(
                "-S", text, "-M", "--format=" + _COMMIT_MARK + "%H", "--name-only",
                "--no-color", "--", directory,
            )  # fmt: skip
        except git.GitCommandError:
            return []
    pairs: list[tuple[str, str]] = []
    commit = ""
    for line in out.splitlines():
        if line.startswith(_COMMIT_MARK):
            if pairs:
                break
            commit = line[1:]
        elif line.strip() and commit:
            pairs.append((commit, line.strip()))
    return pairs


def show_file(top: str | Path, rev: str, path: str) -> str | None:
    """The content of ``path`` at ``rev``; None when it does not exist there."""
    import git

    with git.Repo(top) as repo:
        try:
            data = repo.git.show(f"{rev}:{path}", stdout_as_string=False)
        except git.GitCommandError:
            return None
    return bytes(data).decode("utf-8", errors="replace")


def file_history(top: str | Path, path: str, rev: str = "HEAD") -> list[FileRevision]:
    """Every commit reachable from ``rev`` that changed ``path`` (following renames),
    newest first, each with the file's whole content as that commit left it.

    One ``git log --follow -p`` with a context as large as any manifest, so each
    commit's patch carries the complete new file: no per-commit ``git show``.
    A commit that only renamed the file (no hunk) keeps the content it had.
    """
    import git

    fmt = _COMMIT_MARK + "%H%x00%an%x00%ae%x00%cI%x00%aI%x00%s"
    with git.Repo(top) as repo:
        try:
            raw = repo.git.log(
                rev, "--follow", "-M", "-p", _WHOLE_FILE, "--format=" + fmt,
                "--no-color", "--no-ext-diff", "--no-textconv", "--diff-merges=first-parent",
                "--encoding=UTF-8", "--", path, stdout_as_string=False,
            )  # fmt: skip
        except git.GitCommandError:
            return []
    text = bytes(raw).decode("utf-8", errors="replace")
    revisions = _parse_log(text, path)
    # A revision without a hunk (pure rename, mode change, merge) kept its content:
    # fill it from the next older revision that has one.
    for index in range(len(revisions) - 2, -1, -1):
        here = revisions[index]
        if here.content == _NO_HUNK:
            older = revisions[index + 1].content
            revisions[index] = _replace_content(here, None if older == _NO_HUNK else older)
    if revisions and revisions[-1].content == _NO_HUNK:
        revisions[-1] = _replace_content(revisions[-1], None)
    return revisions


_NO_HUNK = "\x00no hunk\x00"


def _replace_content(revision: FileRevision, content: str | None) -> FileRevision:
    from dataclasses import replace

    return replace(revision, content=content)


def _parse_log(text: str, path: str) -> list[FileRevision]:
    """Parse ``git log -p`` output of one followed file (see :func:`file_history`)."""
    revisions: list[FileRevision] = []
    for chunk in text.split("\n" + _COMMIT_MARK):
        chunk = chunk.removeprefix(_COMMIT_MARK)
        if not chunk.strip():
            continue
        header, _, body = chunk.partition("\n")
        fields = header.split("\x00")
        if len(fields) < 6:
            continue
        commit, author, email, date, authored, message = fields[:6]
        current_path = path
        content: str | None = _NO_HUNK
        lines: list[str] = []
        in_hunk = False
        deleted = False
        for line in body.split("\n"):
            if line.startswith("diff --git "):
                in_hunk = False
                continue
            if not in_hunk:
                if line.startswith("+++ "):
                    target = line[4:].strip()
                    if target == "/dev/null":
                        deleted = True
                    else:
                        current_path = _strip_prefix(target)
                elif line.startswith("rename to "):
                    current_path = line[len("rename to ") :].strip()
                elif line.startswith("@@"):
                    in_hunk = True
                continue
            if line.startswith("@@"):
                continue
            if line.startswith((" ", "+")):
                lines.append(line[1:])
            elif line.startswith("\\"):  # "\ No newline at end of file"
                continue
        if deleted:
            content = None
        elif in_hunk or lines:
            content = "\n".join(lines) + ("\n" if lines else "")
        revisions.append(
            FileRevision(commit, author, email, date, authored, message, current_path, content)
        )
    return revisions


def _strip_prefix(diff_path: str) -> str:
    diff_path = diff_path.strip('"')  # git quotes unusual paths; we only need the name
    return diff_path[2:] if diff_path.startswith(("b/", "a/")) else diff_path


# ---- proposal branches: a commit on a new ref, the checkout left alone ----------------

# Who commits a proposal when neither git's environment nor its config names anyone
# (a CI runner's fresh checkout has no user.name).
FALLBACK_IDENTITY = ("registry-ops", "registry-ops@localhost")


def head_file(root: str | Path, relpath: str) -> tuple[str, bytes | None]:
    """``relpath`` (relative to ``root``) as the repository names it (POSIX, from its
    top), and its content at HEAD: None when HEAD does not hold it.

    Raises ValueError outside a repository, in one without commits, or for a path
    outside the repository.
    """
    import git

    with _repository(root) as repo:
        head = _head_commit(repo)
        top = Path(repo.working_tree_dir or ".").resolve()
        path = Path(root, relpath).resolve()
        if not path.is_relative_to(top):
            raise ValueError(f"{relpath} is outside the git repository at {top}")
        inside = path.relative_to(top).as_posix()
        try:
            blob = head.tree / inside
        except KeyError:
            return inside, None
        if not isinstance(blob, git.Blob):
            return inside, None
        return inside, bytes(blob.data_stream.read())


def find_branch(root: str | Path, branch: str) -> str | None:
    """The commit ``branch`` points at, as a local branch or a remote-tracking branch
    of any remote (a proposal pushed earlier); None when neither exists."""
    with _repository(root) as repo:
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
    import io

    import git
    from git.index.typ import BaseIndexEntry, IndexEntry
    from gitdb.base import IStream

    with _repository(root) as repo:
        head = _head_commit(repo)
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


def _repository(root: str | Path) -> Any:
    """The repository containing ``root`` (a context manager); ValueError outside one."""
    repo = _open(root)
    if repo is None:
        raise ValueError(f"{Path(root).resolve()} is not in a git repository (or git is missing)")
    return repo


def _head_commit(repo: Any) -> Any:
    try:
        return repo.head.commit
    except ValueError:
        raise ValueError("the git repository has no commit yet") from None


def _identity(repo: Any, role: str) -> Any:
    """Author or committer as git would pick it (environment, then config), else
    :data:`FALLBACK_IDENTITY` instead of git's guess from the login and host name."""
    import os

    import git

    reader = repo.config_reader()
    name = os.environ.get(f"GIT_{role}_NAME") or reader.get_value("user", "name", "")
    email = os.environ.get(f"GIT_{role}_EMAIL") or reader.get_value("user", "email", "")
    return git.Actor(str(name or FALLBACK_IDENTITY[0]), str(email or FALLBACK_IDENTITY[1]))
