"""What one revision of a manifest wanted, read leniently.

``history`` reads every revision git holds of a model's manifest, and old ones
may be invalid under today's schema (a key since renamed, a version written as
text) or not YAML at all; history must still show what each wanted. So nothing
here validates: the text is parsed with the repository reader's safe YAML
(:mod:`registry_ops.desired.yamldoc`, with the loader's size limit: history
reads whatever was ever merged, hostile files included), and whatever of it
still fits today's model becomes a :class:`~registry_ops.core.model.ModelManifest`.
A value that does not fit (``champion: null``, a version that is no number) is
left out rather than refused, so the rest of the revision still counts.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from registry_ops.core.model import ModelManifest
from registry_ops.desired.files import MAX_FILE_BYTES
from registry_ops.desired.yamldoc import parse

# Holding these is not holding a target: archived versions and versions without a stage.
NOT_TARGETS = ("stage:Archived", "stage:None")

# Where a document is cut into separately cached parses (a key at column 0), and the one
# line that says which model a file is for.
_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:", re.M)
_MODEL_LINE = re.compile(r"^model:.*$", re.M)


class Unreadable(Exception):
    """A revision that is not YAML, not safe to load, too large, or not a mapping."""


def read_revision(text: str) -> dict[str, Any] | None:
    """The YAML of one manifest revision as written; None for an empty document.

    Raises :class:`Unreadable` where the repository reader would refuse the file
    before looking at its content.
    """
    if len(text.encode("utf-8", errors="replace")) > MAX_FILE_BYTES:
        raise Unreadable(f"larger than {MAX_FILE_BYTES:,} bytes")
    try:
        data = _by_blocks(text.removeprefix("\ufeff"))
    except Exception as exc:  # noqa: BLE001 - a broken revision is data, however it broke
        raise Unreadable(str(exc)) from None
    if data is not None and not isinstance(data, dict):
        raise Unreadable("not a mapping")
    return data


def model_of(text: str) -> str | None:
    """The model a manifest names (its top-level ``model:`` line), None if none.

    Only that line is read, not the document: it also reads a ``git grep`` match
    (``model: clf`` alone), and it tells which model a revision whose YAML is
    broken elsewhere was for, so following a file's history does not take it for
    another model's file.
    """
    match = _MODEL_LINE.search(text)
    if match is None:
        return None
    try:
        loaded = _parse_block(match.group(0))
    except Exception:  # noqa: BLE001 - not YAML: no model
        return None
    value = loaded.get("model") if isinstance(loaded, dict) else None
    return None if value is None else str(value)


def manifest_of(data: dict[str, Any], file: str) -> ModelManifest:
    """The model, aliases and stages ``data`` names, as today's model holds them.

    A section that is not a mapping counts as empty; an alias or stage whose
    version is not a version number (nor a list of them) is left out. A version
    written as digits in quotes (``"3"``) still counts: MLflow names versions so.
    """
    aliases: dict[str, int | None] = {}
    for name, value in _section(data, "aliases").items():
        version = _version(value)
        if version is not None:
            aliases[str(name)] = version
    stages: dict[str, tuple[int, ...]] = {}
    for name, value in _section(data, "stages").items():
        if isinstance(value, list):
            stages[str(name)] = tuple(v for v in map(_version, value) if v is not None)
        elif (version := _version(value)) is not None:
            stages[str(name)] = (version,)
    return ModelManifest(model=str(data.get("model")), file=file, aliases=aliases, stages=stages)


def targets(manifest: ModelManifest) -> dict[str, int]:
    """Target (``alias:NAME``, ``stage:NAME``) -> the version the manifest gives it:
    every alias, and every stage given exactly one version (Archived is no target)."""
    out = {
        f"alias:{name}": version
        for name, version in manifest.aliases.items()
        if version is not None  # owned and empty (null): no version wanted
    }
    for name, versions in manifest.stages.items():
        target = f"stage:{name}"
        if len(versions) == 1 and target not in NOT_TARGETS:
            out[target] = versions[0]
    return out


def clear_cache() -> None:
    """Forget the parsed blocks (a benchmark measures a cold parse, as a new process has)."""
    _parse_block.cache_clear()


def _section(data: dict[str, Any], key: str) -> dict[Any, Any]:
    section = data.get(key)
    return section if isinstance(section, dict) else {}


def _version(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


@lru_cache(maxsize=8192)
def _parse_block(block: str) -> Any:
    return parse(block).data


def _by_blocks(text: str) -> Any:
    """The document's YAML, read one top-level key at a time with each block's parse
    cached: across a file's history most blocks repeat (the description, tags,
    gates), so 1,000 versions cost little more than their distinct blocks. Falls
    back to one whole-document parse for anything that is not plain top-level keys
    (anchors across keys, several documents, a directive), which also says what is
    wrong with a broken one."""
    starts = [(m.start(), m.group(1)) for m in _TOP_KEY.finditer(text)]
    doc: dict[str, Any] = {}
    head = text[: starts[0][0]] if starts else text
    plain = bool(starts) and all(
        not line.strip() or line.lstrip().startswith("#") for line in head.splitlines()
    )
    for index, (start, key) in enumerate(starts if plain else []):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(text)
        block = text[start:end]
        if "&" in block or "*" in block or "\n---" in block:
            plain = False
            break
        try:
            loaded = _parse_block(block)
        except Exception:  # noqa: BLE001 - let the whole-document parse say what is wrong
            plain = False
            break
        if not isinstance(loaded, dict) or set(loaded) != {key}:
            plain = False
            break
        doc[key] = loaded[key]
    return doc if plain else parse(text).data
