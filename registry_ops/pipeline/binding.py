"""A saved plan is bound to the manifests and policies it was made from.

``plan`` records, for each model it changes, a digest of that model's manifest
and of every policy its gates name (:func:`bind`); the digest seals them with
the rest of the plan. ``apply`` of a saved plan reads the same files as HEAD
commits them (the files on disk when the root is in no git repository) and
refuses the plan, exit 4, when any differs (:func:`check_desired`). So a plan
made before main tightened a policy, or on a branch that was never merged,
cannot land: it would apply a desired state main does not hold, and the next
plan would show nothing to undo. A plan whose files equal HEAD's applies what
HEAD says, wherever it was made; its provenance then records a commit the
applied branch contains (:func:`stamped_commit`).

The digest is over the parsed content, not the file's bytes: the canonical
JSON of the YAML data, as the loader reads it. A plan is made from a checkout
and checked against HEAD's committed blobs, and a checkout can differ from its
blobs in line endings (``core.autocrlf``) or a byte order mark while meaning
the same; comments and layout do not decide what apply does either. What the
loader reads does, so that is what is compared.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import posixpath
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from registry_ops import gitrepo
from registry_ops.core.model import Desired
from registry_ops.core.plan import ModelPlan, Plan
from registry_ops.desired.files import MAX_FILE_BYTES, ReadError, decode, read_text
from registry_ops.desired.yamldoc import YamlSyntaxError, parse
from registry_ops.errors import RegistryOpsError, StalePlan

# Only files of the desired state are bound (and read back at apply).
BOUND_DIRS = ("manifests", "policies")


class Unreadable(Exception):
    """A file cannot be read as a manifest or policy (the reason is the message)."""


def digest_text(text: str) -> str:
    """``sha256:`` of the canonical JSON of the YAML document in ``text``.

    Raises Unreadable when it is no YAML document, or holds what no valid
    manifest or policy holds (a key that is not a string).
    """
    try:
        data = parse(text).data
    except YamlSyntaxError as exc:
        raise Unreadable(str(exc)) from None
    canonical = json.dumps(
        _plain(data), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def digest_bytes(data: bytes) -> str:
    """:func:`digest_text` of a file's bytes, with the loader's limits (size, UTF-8)."""
    if len(data) > MAX_FILE_BYTES:
        raise Unreadable(f"larger than {MAX_FILE_BYTES:,} bytes")
    try:
        return digest_text(decode(data))
    except ReadError as exc:
        raise Unreadable(str(exc)) from None


def _plain(value: Any) -> Any:
    """The YAML data as JSON can hold it, one way only."""
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise Unreadable("a mapping key is not a string")
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, date):  # the loader reads a date and its ISO text alike
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # invalid in a policy; here it only has to differ from numbers
    if value is None or isinstance(value, str | int | float):
        return value
    raise Unreadable(f"a value of type {type(value).__name__}")


def _relative(root: Path, file: str) -> str:
    """``file`` (as the loader names it: through ``root``) relative to ``root``, POSIX."""
    rel = os.path.relpath(os.path.abspath(file), os.path.abspath(root))
    return Path(rel).as_posix()


def bind(model_plans: Sequence[ModelPlan], desired: Desired, root: Path) -> None:
    """Record on each model plan with changes the digests of its manifest and of the
    policies its gates name, read from ``root`` as planned.

    Models without changes get none: apply has nothing of theirs to do.
    """
    cache: dict[str, str] = {}
    for model_plan in model_plans:
        if not model_plan.changes:
            continue
        manifest = desired.manifests[model_plan.model]
        files = [Path(manifest.file).as_posix()]
        for name in sorted(set(manifest.gates.values())):
            policy = desired.policies.get(name)
            if policy is not None:
                files.append(_relative(root, policy.file))
        model_plan.desired = {rel: cache.get(rel) or _digest_on_disk(root, rel) for rel in files}
        cache.update(model_plan.desired)


def _digest_on_disk(root: Path, rel: str) -> str:
    try:
        return digest_text(read_text(root / rel))
    except (ReadError, OSError, Unreadable) as exc:
        raise RegistryOpsError(f"{rel}: cannot be read again to seal the plan: {exc}") from None


def _bound_path(rel: str) -> bool:
    """A path a plan may bind: under manifests/ or policies/, never out of the root."""
    parts = rel.split("/")
    return parts[0] in BOUND_DIRS and ".." not in parts and posixpath.normpath(rel) == rel


def check_desired(models: Sequence[ModelPlan], root: Path, plan: Plan) -> str | None:
    """Refuse (StalePlan) unless every file ``models`` were planned from is, at HEAD,
    what it was; return HEAD's commit (None when the root is in no repository, and
    the files on disk are compared instead).

    A model whose plan records no digest of its manifest was planned by an older
    registry-ops: refused too, since nothing says which desired state it applies.
    """
    if not models:
        return None
    # Its own manifest at least: a model plan never has changes without one.
    old = [m.model for m in models if Path(m.manifest).as_posix() not in (m.desired or {})]
    if old:
        raise StalePlan(
            "the saved plan does not record which manifests and policies it was made from "
            f"(it was made by an older registry-ops), for: {', '.join(old)}. Nothing shows it "
            "matches this repository: run `registry-ops plan` again."
        )
    wanted = sorted({rel for m in models for rel in m.desired or {}})
    head = gitrepo.head_files(root, [rel for rel in wanted if _bound_path(rel)])
    now = _digests(root, wanted, head)
    where = f"at HEAD ({head.commit[:12]}{_on(head.branch)})" if head else f"on disk in {root}"
    differ = []
    for model_plan in models:
        for rel, digest in sorted((model_plan.desired or {}).items()):
            found = now[rel]
            if found != digest:
                differ.append(f"  {model_plan.model}: {rel} {_how(found, head is not None)}")
    if differ:
        if head is None:
            hint = "They changed since the plan was made: run `registry-ops plan` again."
        elif (plan.git or {}).get("dirty"):
            hint = (
                "The plan was made from uncommitted files: commit them and plan again, or run "
                "`registry-ops apply` without a plan file."
            )
        else:
            hint = (
                "A plan made on a branch that is not merged, or before a later commit changed "
                "these files, would apply what HEAD does not say: run `registry-ops plan` again."
            )
        raise StalePlan(
            f"the saved plan was made from other manifests or policies than those {where}:\n"
            + "\n".join(differ)
            + f"\n{hint}"
        )
    return head.commit if head else None


def _on(branch: str | None) -> str:
    return f" on {branch}" if branch else ""


def _digests(root: Path, wanted: Sequence[str], head: gitrepo.HeadFiles | None) -> dict[str, str]:
    """Each path's digest now, or why there is none: ``missing`` / ``unreadable: ...``
    / ``refused``."""
    out: dict[str, str] = {}
    for rel in wanted:
        if not _bound_path(rel):
            out[rel] = "refused"
            continue
        try:
            if head is not None:
                data = head.content.get(rel)
                out[rel] = "missing" if data is None else digest_bytes(data)
            elif not (root / rel).exists():
                out[rel] = "missing"
            else:
                out[rel] = digest_text(read_text(root / rel))
        except (ReadError, OSError, Unreadable) as exc:
            out[rel] = f"unreadable: {exc}"
    return out


def _how(found: str, at_head: bool) -> str:
    there = "at HEAD" if at_head else "on disk"
    if found == "missing":
        return f"does not exist {there}"
    if found == "refused":
        return "is not a path under manifests/ or policies/"
    if found.startswith("unreadable: "):
        return f"cannot be read {there}: {found.removeprefix('unreadable: ')}"
    return f"differs {there} from the file the plan was made from"


def stamped_commit(plan: Plan, root: Path, head: str | None) -> tuple[str | None, str | None]:
    """The commit provenance and the apply log record for a saved plan, and the note
    to show when it is not the plan's own.

    The plan's commit, when HEAD's history holds it (or the root is in no
    repository). Otherwise HEAD's: a pull request's plan records the test merge
    GitHub made, which the branch never holds, and ``history`` and the drift rule
    must find the commit they are given. :func:`check_desired` has shown the
    files the plan changes from are HEAD's, so HEAD is what was applied.
    """
    planned = plan.commit
    if head is None or planned == head:
        return planned, None
    if planned and gitrepo.contains(root, planned):
        return planned, None
    said = f"commit {planned[:12]}" if planned else "no commit"
    return head, (
        f"note: the plan records {said}, which HEAD's history does not hold; its manifests "
        f"and policies are HEAD's, so provenance and the apply log record HEAD, {head[:12]}."
    )
