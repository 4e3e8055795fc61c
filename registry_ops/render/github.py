"""GitHub Actions renderer: the plan as workflow commands (annotations).

``plan --format github`` prints ``::error`` for every blocked promotion,
``::warning`` for every ungated or overridden one, pointing at the line of
the manifest that names the target, and one ``::notice`` with the summary.
GitHub shows these on the pull request's diff and in the run's overview.

The plan itself carries the manifest's path but no line numbers (the JSON
plan's fields are fixed), so this renderer reads the manifest again through
:mod:`registry_ops.desired.yamldoc` to find the line. That read is careful: only a
regular YAML-named file of at most :data:`~registry_ops.desired.files.MAX_FILE_BYTES`
is parsed; anything else just loses the line, never the annotation.

Values are escaped by GitHub's rules (``%``, CR and LF in the message; also
``:`` and ``,`` in properties), so registry text cannot end an annotation
early or smuggle in a second workflow command. Before that they are made
:func:`~registry_ops.core.text.printable`, so a bidi control or an escape
sequence is shown, not obeyed, in the annotation too.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from registry_ops.core.changes import Change
from registry_ops.core.plan import Plan
from registry_ops.core.text import printable
from registry_ops.desired.yamldoc import YamlDoc, YamlSyntaxError, parse
from registry_ops.errors import Problem
from registry_ops.render.sentences import describe, summary

# Same cap as the loader's: a manifest is a few hundred bytes.
_MAX_BYTES = 1024 * 1024


def in_actions() -> bool:
    """Whether we run inside a GitHub Actions job (the runner sets this)."""
    return os.environ.get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    """Escape a workflow command's message: ``%``, CR and LF."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value: as data, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(
    kind: str,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    col: int | None = None,
    title: str | None = None,
) -> str:
    """One workflow command line, e.g. ``::error file=a.yaml,line=3,col=5,title=T::message``."""
    props = []
    if file:
        props.append(f"file={escape_property(printable(file))}")
        if line is not None:
            props.append(f"line={line}")
            if col is not None:
                props.append(f"col={col}")
    if title:
        props.append(f"title={escape_property(printable(title))}")
    head = f"::{kind} {','.join(props)}" if props else f"::{kind}"
    return f"{head}::{escape_data(printable(message))}\n"


def annotate_problems(problems: Iterable[Problem], stream: IO[str]) -> None:
    """Invalid manifests and policies as ``::error`` annotations at their file:line:col."""
    for problem in problems:
        stream.write(
            command(
                "error",
                f"{problem.path}: {problem.message}",
                file=workspace_path(problem.file),
                line=problem.line,
                col=problem.column,
                title="registry-ops validate",
            )
        )


def workspace_path(path: str) -> str:
    """``path`` as GitHub wants it in an annotation: relative to the workspace."""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if workspace and os.path.isabs(path):
        try:
            return os.path.relpath(path, workspace)
        except ValueError:  # another drive on Windows
            return path
    return os.path.normpath(path) if path else path


class ManifestLines:
    """Finds the line of a target (``aliases.champion``) in a manifest, reading each file once."""

    def __init__(self) -> None:
        self._docs: dict[str, YamlDoc | None] = {}

    def find(self, manifest: str, *path: str) -> tuple[int, int] | None:
        """``(line, column)`` of the first of ``path``'s keys present, else None."""
        if manifest not in self._docs:
            self._docs[manifest] = _parse(manifest)
        doc = self._docs[manifest]
        if doc is None:
            return None
        key = tuple(path)
        while key:
            if key in doc.key_marks:
                return doc.key_marks[key]
            key = key[:-1]
        return None


def _parse(manifest: str) -> YamlDoc | None:
    """The manifest's YamlDoc, or None when it cannot (or should not) be read."""
    from registry_ops.desired.files import is_yaml_name

    if not manifest or not is_yaml_name(manifest):
        return None
    try:
        info = os.stat(manifest)
        # A FIFO or device named like a manifest would block or never end.
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_BYTES:
            return None
        text = Path(manifest).read_text(encoding="utf-8-sig")
        return parse(text)
    except (OSError, UnicodeError, YamlSyntaxError):
        return None


def _target_path(change: Change) -> tuple[str, ...]:
    if change.alias is not None:
        return ("aliases", change.alias)
    if change.stage is not None:
        return ("stages", change.stage)
    return ()


def render(plan: Plan, stream: IO[str], color: bool = False) -> None:
    """Write one annotation per blocked, overridden or ungated promotion, then a notice."""
    lines = ManifestLines()
    for model_plan in plan.models:
        for change in model_plan.changes:
            kind, title, message = _annotation(change)
            if not kind:
                continue
            target = _target_path(change)
            # An override points at its own entry: that is the line a reviewer must judge.
            where = None
            if change.overridden and change.target_name is not None:
                where = lines.find(model_plan.manifest, "overrides", change.target_name)
            where = where or lines.find(model_plan.manifest, *target)
            stream.write(
                command(
                    kind,
                    message,
                    file=workspace_path(model_plan.manifest),
                    line=where[0] if where else None,
                    col=where[1] if where else None,
                    title=title,
                )
            )
    stream.write(command("notice", summary(plan), title="registry-ops plan"))


def _annotation(change: Change) -> tuple[str, str, str]:
    """``(kind, title, message)`` for a change worth an annotation, else empty strings."""
    sentence = f"{change.model}: {describe(change)[1]}"
    if change.blocked:
        failed = "; ".join(f"{g.name} ({g.detail})" for g in change.gates if not g.passed)
        note = ""
        if change.override and not change.override.get("active"):
            note = f" The override expired {change.override.get('expires')}."
        return (
            "error",
            f"registry-ops: {change.model} {change.target} blocked",
            f"{sentence}: blocked by gates: {failed}. Apply changes nothing for this model.{note}",
        )
    if change.overridden:
        override = change.override or {}
        failed = "; ".join(f"{g.name} ({g.detail})" for g in change.gates if not g.passed)
        return (
            "warning",
            f"registry-ops: {change.model} {change.target} overridden",
            f"{sentence}: gates failed ({failed}) but an override lets it through: "
            f"reason {override.get('reason')!r}, expires {override.get('expires')}.",
        )
    if change.ungated:
        return (
            "warning",
            f"registry-ops: {change.model} {change.target} ungated",
            f"{sentence}: no policy gates {change.target}; it is promoted without checks.",
        )
    return "", "", ""
