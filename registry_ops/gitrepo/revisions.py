"""Files as past commits left them: one file's history, a file at a revision, and
which file held some text (``git grep``, git's pickaxe)."""

from __future__ import annotations

from pathlib import Path

from registry_ops.gitrepo.filelog import (
    COMMIT_MARK,
    LOG_FORMAT,
    WHOLE_FILE,
    FileRevision,
    parse_file_log,
)


def file_history(top: str | Path, path: str, rev: str = "HEAD") -> list[FileRevision]:
    """Every commit reachable from ``rev`` that changed ``path`` (following renames),
    newest first, each with the file's whole content as that commit left it.

    One ``git log --follow -p`` with a context as large as any manifest, so each
    commit's patch carries the complete new file: no per-commit ``git show``.
    A commit that only renamed the file (no hunk) keeps the content it had.
    """
    import git

    with git.Repo(top) as repo:
        try:
            raw = repo.git.log(
                rev, "--follow", "-M", "-p", WHOLE_FILE, "--format=" + LOG_FORMAT,
                "--no-color", "--no-ext-diff", "--no-textconv", "--diff-merges=first-parent",
                "--encoding=UTF-8", "--", path, stdout_as_string=False,
            )  # fmt: skip
        except git.GitCommandError:
            return []
    return parse_file_log(bytes(raw).decode("utf-8", errors="replace"), path)


def show_file(top: str | Path, rev: str, path: str) -> str | None:
    """The content of ``path`` at ``rev``; None when it does not exist there."""
    import git

    with git.Repo(top) as repo:
        try:
            data = repo.git.show(f"{rev}:{path}", stdout_as_string=False)
        except git.GitCommandError:
            return None
    return bytes(data).decode("utf-8", errors="replace")


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
                "-S", text, "-M", "--format=" + COMMIT_MARK + "%H", "--name-only",
                "--no-color", "--", directory,
            )  # fmt: skip
        except git.GitCommandError:
            return []
    pairs: list[tuple[str, str]] = []
    commit = ""
    for line in out.splitlines():
        if line.startswith(COMMIT_MARK):
            if pairs:
                break
            commit = line[1:]
        elif line.strip() and commit:
            pairs.append((commit, line.strip()))
    return pairs
