"""Read ``manifests/`` and ``policies/`` into validated, typed objects.

Every file is parsed with a safe YAML loader, checked against its JSON Schema
and then cross-checked with the others. Problems are collected across all
files and raised together as one :class:`InvalidInput`.

Manifests arrive through pull requests, so the input is treated as possibly
hostile as well as possibly mistaken:

- Which files are read: every entry below ``manifests/`` and ``policies/``
  whose name ends in ``.yaml`` or ``.yml``, in any letter case. Such an
  entry must be a readable regular file (or a link to one); a broken link, a
  FIFO, a socket, a device or a directory with a YAML name is an error, so a
  manifest can never silently drop out of the run. Entries with other names
  (``README.md``, ``.gitkeep``, notes) are ignored without a word: they are
  normal in these folders, and warning about each would teach people to
  ignore warnings.
- Links are followed only when they resolve inside the root given with
  ``-C``; a YAML-named link to a file outside it, or any link to a
  directory outside it (or ``manifests``/``policies`` themselves linking
  out), is an error naming the entry, so a pull request cannot make the
  tool read (and apply) files from elsewhere on the runner. A directory
  reached twice (a link loop) is an error too.
- Special files are never read: the scan refuses them from ``stat``, and
  the read itself opens without blocking and checks ``fstat`` again (a FIFO
  swapped in between would otherwise block forever). Files larger than
  :data:`registry_ops.desired.files.MAX_FILE_BYTES` are refused before they are read.
- Text must be UTF-8. A UTF-8 byte order mark is accepted and dropped (YAML
  allows it and Windows editors write it); a UTF-16 or UTF-32 one is refused.
- YAML limits (nesting depth, alias expansion, cycles, one document per
  file) are enforced by :mod:`registry_ops.desired.yamldoc` before any Python object
  is built.
- Tag keys and values, descriptions and names must be YAML strings: YAML 1.1
  reads ``NO`` as false, ``0755`` as 493, ``1:30`` as 90 and ``1.10`` as 1.1,
  so a bare boolean, number, null or date where a string belongs is an error
  that shows the text as written and how to quote it. Every mapping key must
  be a string for the same reason (``yes:``, ``~:`` and ``2024:`` are not).
- Gate thresholds must be finite (NaN compares false with everything, so a
  NaN bound would pass every candidate), ``min`` may not exceed ``max`` (checked
  with each gate kind's own rules, :mod:`registry_ops.gates.kinds`), a
  policy needs at least one gate, and every target in a manifest's
  ``gates`` must be one of its aliases or stages (else the promotion it
  meant to gate would run ungated).
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

from registry_ops.core.model import Desired, Location, ModelManifest, Policy
from registry_ops.desired.documents import read_document
from registry_ops.desired.files import link_text, scan
from registry_ops.desired.manifests import (
    check_manifest,
    check_overrides,
    check_reserved_tags,
    manifest_from,
)
from registry_ops.desired.policies import policy_from
from registry_ops.desired.problems import Collector, shown_at
from registry_ops.desired.yamldoc import YamlDoc
from registry_ops.errors import InvalidInput


def load(root: str | Path = ".", today: date | None = None) -> Desired:
    """Load and validate everything under ``root``; raise InvalidInput with every problem."""
    root_path = Path(root)
    out = Collector()
    manifests_dir, policies_dir = root_path / "manifests", root_path / "policies"
    manifest_files = _files(manifests_dir, root_path, out, required=True)
    policy_files = _files(policies_dir, root_path, out, required=False)
    if manifest_files is None:
        raise InvalidInput(out.problems)

    policies: dict[str, Policy] = {}
    policy_where: dict[str, Location] = {}
    # Policies whose file has errors, by name: a manifest naming one is told
    # why it is missing instead of "unknown policy".
    broken: dict[str, str] = {}
    for path in policy_files or ():
        file = out.display(path)
        doc, valid = read_document(path, file, "policy", out)
        if doc is None or not valid:
            data = doc.data if doc else None
            name = data.get("name") if isinstance(data, dict) else None
            broken[name if isinstance(name, str) else path.stem] = file
            continue
        policy = policy_from(doc, file)
        loc = _loc(doc, file, ("name",))
        if policy.name in policies:
            first = policy_where[policy.name]
            out.add_at(
                loc, "$.name", f"policy '{policy.name}' is already defined in {shown_at(first)}"
            )
            continue
        policies[policy.name] = policy
        policy_where[policy.name] = loc

    manifests: dict[str, ModelManifest] = {}
    warnings: list[str] = []
    for path in manifest_files:
        file = out.display(path)
        doc, valid = read_document(path, file, "manifest", out)
        if doc is None or not valid:
            continue
        manifest = manifest_from(doc, file, str(path.relative_to(root_path)))
        if manifest.model in manifests:
            first = manifests[manifest.model].where("model")
            out.add_at(
                manifest.where("model"),
                "$.model",
                f"model '{manifest.model}' is already managed by {shown_at(first)}",
            )
            continue
        manifests[manifest.model] = manifest
        check_manifest(manifest, policies, broken, out)
        warnings += check_overrides(manifest, out, today or datetime.now(UTC).date())
        warnings += check_reserved_tags(manifest)

    if out.problems:
        raise InvalidInput(out.problems)
    return Desired(str(root_path), manifests, policies, tuple(warnings))


def _files(directory: Path, root: Path, out: Collector, required: bool) -> list[Path] | None:
    """The YAML files of ``manifests/`` or ``policies/``; None when the directory is unusable."""
    name, file = directory.name, out.display(directory)
    if not os.path.lexists(directory):
        if required:
            out.add(file, None, "$", f"no {name}/ directory here")
            return None
        return []
    if os.path.islink(directory):
        try:
            target = directory.resolve(strict=True)
        except (OSError, RuntimeError):
            out.add(file, None, "$", f"broken symbolic link (points to {link_text(directory)})")
            return None
        if not target.is_relative_to(root.resolve()):
            out.add(
                file,
                None,
                "$",
                f"symbolic link to {link_text(directory)}, outside the repository root "
                f"{root.resolve()}: refusing to follow it",
            )
            return None
    if not directory.is_dir():
        out.add(file, None, "$", f"{name}/ must be a directory")
        return None
    found = scan(directory, root)
    for path, reason in found.problems:
        out.add(out.display(path), None, "$", reason)
    return found.files


def _loc(doc: YamlDoc, file: str, path: tuple[str | int, ...]) -> Location:
    mark = doc.mark(path)
    return Location(file, *mark) if mark else Location(file)
