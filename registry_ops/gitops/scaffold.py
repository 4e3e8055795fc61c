"""``registry-ops init``: scaffold a team repository from package data.

The templates live in ``registry_ops/gitops/templates/repo`` so an installed
registry-ops (no git checkout) can write them. Names starting with ``dot-``
become dot files (``dot-github`` -> ``.github``): packaging tools skip
hidden files in package data, and the rename keeps them in the wheel.

The workflows and the composite action among the templates are copies of
this repository's own ``.github`` files (a test keeps them identical), so a
team gets exactly the pipeline this repository runs. The JSON Schemas are
copied from the installed package at scaffold time, so ``schemas/`` always
matches the registry-ops that wrote it and the manifests'
``yaml-language-server`` line resolves.

Two files are pinned to a :class:`~registry_ops.gitops.source.Source`, the
registry-ops that ran ``init`` unless ``--source``/``--ref`` name another:
the action's ``package`` input installs it, and the pre-commit config takes
the hook from its repository at its commit. With no git repository known,
the action installs the same version from the team's package index and the
hook runs the registry-ops on PATH (``templates/pre-commit-local.yaml``).
"""

from __future__ import annotations

import json
import re
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from registry_ops.errors import RegistryOpsError
from registry_ops.gitops.source import Source, detect

TEMPLATES = ("gitops", "templates")
REPO_TEMPLATE = (*TEMPLATES, "repo")
SCHEMAS = ("manifest.schema.json", "policy.schema.json", "plan.schema.json")
PRE_COMMIT = Path(".pre-commit-config.yaml")
ACTION = Path(".github/actions/registry-ops/action.yml")
#: The action template's ``package`` default, replaced with the pin.
PACKAGE_DEFAULT = "    default: registry-ops\n"
# What a YAML plain scalar may hold here without quotes (the value is also checked to
# load back as itself: "1234567" or "true" alone would not).
_PLAIN = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./:@~+=%-]*")


def _target_name(name: str) -> str:
    return "." + name.removeprefix("dot-") if name.startswith("dot-") else name


def _walk(node: Traversable, relative: Path) -> list[tuple[Path, Traversable]]:
    """Every template file below ``node``, as (path in the new repository, source)."""
    found: list[tuple[Path, Traversable]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name == "__pycache__":
            continue
        path = relative / _target_name(child.name)
        if child.is_dir():
            found.extend(_walk(child, path))
        else:
            found.append((path, child))
    return found


def yaml_scalar(value: str) -> str:
    """``value`` as a YAML scalar that loads back as this very string: plain when it
    safely can be, else double-quoted (JSON's quoting is valid YAML)."""
    try:
        plain = bool(_PLAIN.fullmatch(value)) and yaml.safe_load(value) == value
    except yaml.YAMLError:
        plain = False
    return value if plain else json.dumps(value)


def _expect_once(text: str, old: str, where: str) -> None:
    """A template without exactly one ``old`` is a bug in registry-ops."""
    count = text.count(old)
    if count != 1:
        raise RuntimeError(f"template {where}: expected {old!r} once, found it {count} times")


def pre_commit_config(source: Source) -> str:
    """The pre-commit config: registry-ops's hook at the pinned commit, else a local hook
    running the registry-ops on PATH."""
    templates = resources.files("registry_ops").joinpath(*TEMPLATES)
    if source.url is None or source.commit is None:
        return templates.joinpath("pre-commit-local.yaml").read_text(encoding="utf-8")
    text = templates.joinpath("repo", "dot-pre-commit-config.yaml").read_text(encoding="utf-8")
    rev = yaml_scalar(source.commit)
    if source.label != source.commit and source.label.isprintable():
        rev += f"  # {source.label}"
    values = {"repo": yaml_scalar(source.url), "rev": rev}
    for name in values:
        _expect_once(text, f"{{{name}}}", str(PRE_COMMIT))
    # One pass: a value holding "{rev}" is written as it is, never filled in again.
    return re.sub(r"\{(repo|rev)\}", lambda m: values[m[1]], text)


def pinned_action(template: str, source: Source) -> str:
    """The composite action with its ``package`` input defaulting to the pin."""
    requirement = source.requirement
    _expect_once(template, PACKAGE_DEFAULT, str(ACTION))
    text = template.replace(PACKAGE_DEFAULT, f"    default: {yaml_scalar(requirement)}\n")
    loaded: Any = yaml.safe_load(text)
    if loaded["inputs"]["package"]["default"] != requirement:
        raise RuntimeError(f"template {ACTION}: the package default did not take {requirement!r}")
    return text


def files(source: Source | None = None) -> dict[Path, str]:
    """Relative path -> content of everything ``init`` writes, pinned to ``source``
    (default: the running registry-ops, from its install record)."""
    source = detect() if source is None else source
    root = resources.files("registry_ops").joinpath(*REPO_TEMPLATE)
    out: dict[Path, str] = {}
    for path, template in _walk(root, Path()):
        text = template.read_text(encoding="utf-8")
        if path == PRE_COMMIT:
            text = pre_commit_config(source)
        elif path == ACTION:
            text = pinned_action(text, source)
        out[path] = text
    schemas = resources.files("registry_ops.schemas")
    for name in SCHEMAS:
        out[Path("schemas") / name] = schemas.joinpath(name).read_text(encoding="utf-8")
    return out


def scaffold(directory: Path, force: bool = False, source: Source | None = None) -> list[Path]:
    """Write the scaffold, pinned to ``source`` (see :func:`files`), into ``directory``;
    return the files written.

    Without ``force`` nothing is written when any file exists already: a
    half-written scaffold over someone's repository would be worse than none.
    """
    planned = files(source)
    existing = [p for p in planned if (directory / p).exists() or (directory / p).is_symlink()]
    if existing and not force:
        listing = "\n".join(f"  {directory / p}" for p in existing)
        raise RegistryOpsError(
            f"refusing to overwrite {len(existing)} existing file(s) (pass --force to replace "
            f"them):\n{listing}"
        )
    written = []
    for relative, text in planned.items():
        path = directory / relative
        if path.is_symlink():
            # --force replaces the link itself, never the file it points at.
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def pinned(source: Source) -> str:
    """What the scaffold pins and where that came from, for people."""
    if source.url is None or source.commit is None:
        lines = [
            f"Pinned registry-ops by version, {source.version}: {source.found}, no git "
            "repository of it is known.",
            f"  The action installs {source.pin} from the package index pip is configured "
            "with (your team's), and the pre-commit hook runs the registry-ops on PATH.",
            "  To pin a git repository of registry-ops instead: "
            "`registry-ops init --source GIT_URL --ref REF`.",
        ]
    else:
        label = "" if source.label == source.commit else f" ({source.label})"
        lines = [
            f"Pinned registry-ops to {source.url} at {source.short}{label}: {source.found}.",
            f"  The action installs {source.pin}; the pre-commit hook comes "
            "from that repository at that commit.",
        ]
        if not source.url.startswith(("https://", "http://")):
            lines.append(
                "  A runner fetches only what it can reach: for a URL it cannot (a local "
                "path, ssh without a key), pin one it can with "
                "`registry-ops init --source GIT_URL --ref REF`."
            )
    if source.package is not None:
        lines.append(f"  Given instead, the action installs {source.package}.")
    return "\n".join(lines)


def next_steps(directory: Path, source: Source) -> str:
    """What ``init`` pinned, and what a team does next; printed on stderr."""
    return (
        f"Scaffolded a registry-ops repository in {directory}.\n"
        f"{pinned(source)}\n"
        "Next:\n"
        "  1. Replace manifests/example-classifier.yaml with your models "
        "(`registry-ops export` writes them from a live registry) and run "
        "`registry-ops validate`.\n"
        "  2. In GitHub: the secret MLFLOW_TRACKING_URI (read-only credentials), and two "
        "environments limited to the main branch: `registry-plan` holding REGISTRY_OPS_PLAN_KEY, "
        "and `registry` holding the key and write credentials, with required reviewers "
        "(see the header of .github/workflows/apply.yml)."
    )
