"""Which file is a model's manifest, across renames and moves, and its revisions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from registry_ops import gitrepo
from registry_ops.gitops.history.wanted import model_of

if TYPE_CHECKING:
    from registry_ops.gitrepo import FileRevision

MANIFESTS = "manifests"


def find_manifest(root: str | Path, model: str) -> tuple[Path, list[FileRevision]] | None:
    """The repository top and the history of the manifest naming ``model`` (at HEAD,
    else the last file that named it), newest first; None outside git or when no
    file ever named it."""
    located = gitrepo.repo_relative(root, MANIFESTS)
    if located is None:
        return None
    top, directory = located
    path = _path_naming(top, model, directory, "HEAD")
    if path is not None:
        return top, _follow(top, model, directory, path, "HEAD")
    for commit, candidate in gitrepo.last_paths_with(top, model, directory):
        for rev in (f"{commit}^", commit):
            text = gitrepo.show_file(top, rev, candidate)
            if text is not None and model_of(text) == model:
                return top, _follow(top, model, directory, candidate, commit)
    return None


def _path_naming(top: Path, model: str, directory: str, rev: str) -> str | None:
    """The file under ``directory`` whose ``model:`` line names ``model`` at ``rev``."""
    for line in gitrepo.grep_head(top, "^model:", directory, rev):
        path, _, rest = line.partition(":model:")
        if path and model_of("model:" + rest) == model:
            return path
    return None


def _follow(top: Path, model: str, directory: str, path: str, rev: str) -> list[FileRevision]:
    """The history of the model's manifest across renames and moves.

    ``git log --follow`` guesses renames by similarity, and manifests look
    alike: it can jump to another model's file. Its history is cut where the
    file stops naming the model, and picked up again from whichever file named
    it just before (one ``git grep`` per such boundary).
    """
    out: list[FileRevision] = []
    seen: set[str] = set()
    while True:
        kept = []
        for revision in gitrepo.file_history(top, path, rev):
            named = model_of(revision.content) if revision.content is not None else model
            if named not in (model, None):
                break  # followed into another model's file
            kept.append(revision)
        out.extend(kept)
        if not kept or kept[-1].commit in seen:
            return out
        seen.add(kept[-1].commit)
        rev = kept[-1].commit + "^"
        found = _path_naming(top, model, directory, rev)
        if found is None:
            return out
        path = found
