"""Reading ``git log -p`` of one followed file: each commit with the file's whole
content as that commit left it. Plain text in, plain data out: no git here."""

from __future__ import annotations

from dataclasses import dataclass, replace

# Start of each commit's header in `git log` output; fields split by NUL.
COMMIT_MARK = "\x01"
# The header of each commit, in --format: hash, author, email, committer and author dates,
# subject.
LOG_FORMAT = COMMIT_MARK + "%H%x00%an%x00%ae%x00%cI%x00%aI%x00%s"
# Enough context lines that every hunk holds the whole file (manifests are <= 1 MiB).
WHOLE_FILE = "--unified=2000000"
# Content of a revision whose patch has no hunk, until the next older one fills it.
_NO_HUNK = "\x00no hunk\x00"


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


def parse_file_log(text: str, path: str) -> list[FileRevision]:
    """The revisions in ``git log --follow -p`` output of ``path``, newest first, run
    with :data:`LOG_FORMAT` and :data:`WHOLE_FILE`, so each hunk is the whole file.

    A revision without a hunk (pure rename, mode change, merge) kept its content:
    it is filled from the next older revision that has one.
    """
    revisions = _parse_log(text, path)
    for index in range(len(revisions) - 2, -1, -1):
        here = revisions[index]
        if here.content == _NO_HUNK:
            older = revisions[index + 1].content
            revisions[index] = replace(here, content=None if older == _NO_HUNK else older)
    if revisions and revisions[-1].content == _NO_HUNK:
        revisions[-1] = replace(revisions[-1], content=None)
    return revisions


def _parse_log(text: str, path: str) -> list[FileRevision]:
    """Each commit of the log; content :data:`_NO_HUNK` where its patch had no hunk."""
    revisions: list[FileRevision] = []
    for chunk in text.split("\n" + COMMIT_MARK):
        chunk = chunk.removeprefix(COMMIT_MARK)
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
