"""Write manifests from live state, so an existing registry can be adopted.

An exported manifest states exactly what the registry holds now (aliases,
Production and Staging holders, description, tags), so ``plan`` right after
an export shows no changes. Tags other tools own (``mlflow.*``,
``databricks.*``) are left out: registry-ops never manages them.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from registry_ops.core.model import Desired
from registry_ops.core.state import ObservedModel
from registry_ops.core.text import printable
from registry_ops.errors import RegistryOpsError

if TYPE_CHECKING:  # the adapter imports mlflow
    from registry_ops.registry import Registry

# What a person wrote that the registry cannot tell: kept when --force rewrites a manifest.
KEPT = ("gates", "retention", "overrides", "protect", "prune")
MANIFESTS = "manifests"  # where a repository's manifests live, under its root


def header(directory: Path, root: Path) -> str:
    """The yaml-language-server modeline, pointing at the schema this repository has:
    ``schemas/`` (what ``init`` scaffolds), else the package's own copy."""
    for candidate in (root / "schemas", root / "registry_ops" / "schemas"):
        if (candidate / "manifest.schema.json").is_file():
            target = candidate / "manifest.schema.json"
            break
    else:
        target = root / "schemas" / "manifest.schema.json"
    relative = os.path.relpath(target.resolve(), directory.resolve())
    return f"# yaml-language-server: $schema={Path(relative).as_posix()}\n"


def manifest_data(model: ObservedModel) -> dict[str, Any]:
    """The manifest document describing ``model`` as it is."""
    data: dict[str, Any] = {
        "apiVersion": "registry-ops/v1",
        "kind": "ModelManifest",
        "model": model.name,
        "description": model.description or "",
    }
    tags = model.user_tags()
    if tags:
        data["tags"] = dict(sorted(tags.items()))
    if model.aliases:
        data["aliases"] = dict(sorted(model.aliases.items()))
    stages: dict[str, Any] = {}
    for stage in ("Production", "Staging"):
        holders = model.stage_holders(stage)
        if holders:
            stages[stage] = holders[0] if len(holders) == 1 else holders
    if stages:
        data["stages"] = stages
    return data


# File names are limited to 255 bytes on common file systems; a slug this long is cut
# and given a hash of the full name, so two long names that share a start stay apart.
MAX_SLUG_BYTES = 100


def filename(model_name: str) -> str:
    """A file name for a model: lower-case letters, digits and dashes (Unicode letters kept);
    a long name is cut to :data:`MAX_SLUG_BYTES` and ends in a short hash of the name."""
    text = unicodedata.normalize("NFKC", model_name).lower()
    slug = re.sub(r"[^\w.-]+", "-", text).strip("-._") or "model"
    if len(slug.encode()) > MAX_SLUG_BYTES:
        digest = hashlib.sha256(model_name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        cut = slug.encode()[: MAX_SLUG_BYTES - len(digest) - 1].decode(errors="ignore")
        slug = f"{cut.rstrip('-._')}-{digest}"
    return f"{slug}.yaml"


def render(model: ObservedModel, modeline: str = "", kept: dict[str, Any] | None = None) -> str:
    """The YAML text of an exported manifest (``kept``: keys carried over from the old one)."""
    data = manifest_data(model)
    data.update(kept or {})
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return modeline + body


def _kept(path: Path) -> dict[str, Any]:
    """Gates, retention, overrides, protect and prune of the manifest being replaced."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return {k: data[k] for k in KEPT if isinstance(data, dict) and k in data}


def _within(path: Path, directory: Path) -> bool:
    return path.resolve().is_relative_to(directory.resolve())


def write(
    models: list[ObservedModel],
    root: Path,
    directory: Path,
    existing: dict[str, str],
    force: bool,
) -> list[Path]:
    """Write one manifest per model into ``directory``.

    ``existing`` maps model -> the file (relative to ``root``) that manages it.

    When ``directory`` is (part of) ``manifests/`` and holds a model's managing
    manifest, that file is rewritten in place, only with ``force``, keeping what
    the registry cannot tell (gates, retention, overrides, protect, prune);
    otherwise nothing is written. Any other ``directory`` (``--out-dir``) is the
    only place written: a managed model gets a new file there (with what its
    manifest says that the registry cannot), its manifest is left as it is, and
    a second manifest of it under ``manifests/`` is refused.
    """
    targets: dict[str, Path] = {}
    clashes, twice = [], []
    taken: set[Path] = set()
    among_manifests = _within(directory, root / MANIFESTS)
    for model in models:
        managed = root / existing[model.name] if model.name in existing else None
        if managed is not None and among_manifests and _within(managed, directory):
            if not force:
                clashes.append(f"  {model.name}: already managed by {existing[model.name]}")
                continue
            path = managed
        else:
            path = directory / filename(model.name)
            stem, n = path.stem, 2
            while path in taken or (path.exists() and not force):
                path = directory / f"{stem}-{n}.yaml"
                n += 1
            if managed is not None and _within(path, root / MANIFESTS):
                twice.append(f"  {model.name}: already managed by {existing[model.name]}")
                continue
        taken.add(path)
        targets[model.name] = path
    if twice:
        raise RegistryOpsError(
            f"refusing to write a second manifest under {MANIFESTS}/ for a model one manages "
            f"(export to a directory outside {MANIFESTS}/, or without --out-dir):\n"
            + "\n".join(twice)
        )
    if clashes:
        raise RegistryOpsError(
            "refusing to overwrite manifests (pass --force to replace them):\n"
            + "\n".join(map(printable, clashes))
        )
    by_name = {m.name: m for m in models}
    texts = {}
    for name, path in targets.items():
        source = root / existing[name] if name in existing else None
        kept = _kept(source) if source is not None and source.is_file() else {}
        texts[path] = render(by_name[name], header(path.parent, root), kept)
    _write_all(texts, directory)
    return list(targets.values())


def _write_all(texts: dict[Path, str], directory: Path) -> None:
    """Write every file or none: each is written to a temporary file beside its target
    first, and only when all are written are they renamed into place. A directory made
    for them is removed again when anything fails."""
    made = not directory.exists()
    staged: dict[Path, Path] = {}
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path, text in texts.items():
            fd, name = tempfile.mkstemp(prefix=".export-", suffix=".tmp", dir=path.parent)
            staged[path] = Path(name)
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                stream.write(text)
        for path, draft in staged.items():
            draft.replace(path)
    except BaseException:
        for draft in staged.values():
            draft.unlink(missing_ok=True)
        if made:
            shutil.rmtree(directory, ignore_errors=True)
        raise


def export_models(
    registry: Registry,
    root: Path,
    models: Sequence[str],
    directory: Path,
    desired: Desired | None,
    force: bool,
) -> list[Path]:
    """``registry-ops export``: a manifest for each of ``models`` (all registered models
    when empty) in ``directory``, as :func:`write` writes them; the paths written.

    Raises:
        RegistryOpsError: a model named is not registered, or (without ``force``) one is
            managed by a manifest already.
    """
    observed = registry.read_state(list(models) if models else None)
    missing = [m for m in models if m not in observed.models]
    if missing:
        raise RegistryOpsError(f"not registered in MLflow: {printable(', '.join(missing))}")
    chosen = [observed.models[n] for n in (models or sorted(observed.models))]
    existing = {n: m.file for n, m in desired.manifests.items()} if desired else {}
    return write(chosen, root, directory, existing, force)
