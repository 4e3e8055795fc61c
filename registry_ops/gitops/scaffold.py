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
"""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from registry_ops import __version__
from registry_ops.errors import RegistryOpsError

TEMPLATES = ("gitops", "templates", "repo")
SCHEMAS = ("manifest.schema.json", "policy.schema.json", "plan.schema.json")
#: Where the pre-commit hook comes from. No public home is fixed yet, so the
#: scaffold names a placeholder a team replaces with its copy of registry-ops.
HOOK_REPO = "https://github.com/YOUR-ORG/registry-ops"


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


def files() -> dict[Path, str]:
    """Relative path -> content of everything ``init`` writes."""
    root = resources.files("registry_ops").joinpath(*TEMPLATES)
    out: dict[Path, str] = {}
    for path, source in _walk(root, Path()):
        text = source.read_text(encoding="utf-8")
        if path == Path(".pre-commit-config.yaml"):
            text = text.replace("{hook_repo}", HOOK_REPO).replace("{hook_rev}", f"v{__version__}")
        out[path] = text
    schemas = resources.files("registry_ops.schemas")
    for name in SCHEMAS:
        out[Path("schemas") / name] = schemas.joinpath(name).read_text(encoding="utf-8")
    return out


def scaffold(directory: Path, force: bool = False) -> list[Path]:
    """Write the scaffold into ``directory``; return the files written.

    Without ``force`` nothing is written when any file exists already: a
    half-written scaffold over someone's repository would be worse than none.
    """
    planned = files()
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


def next_steps(directory: Path) -> str:
    """What a team does after ``init``, printed on stderr."""
    return (
        f"Scaffolded a registry-ops repository in {directory}. Next:\n"
        "  1. Replace manifests/example-classifier.yaml with your models "
        "(`registry-ops export` writes them from a live registry) and run "
        "`registry-ops validate`.\n"
        "  2. Pin the registry-ops the workflows install: the `package` input of "
        ".github/actions/registry-ops/action.yml, and the hook's repo and rev in "
        ".pre-commit-config.yaml.\n"
        "  3. In GitHub: the secret MLFLOW_TRACKING_URI (read-only credentials), and two "
        "environments limited to the main branch: `registry-plan` holding REGISTRY_OPS_PLAN_KEY, "
        "and `registry` holding the key and write credentials, with required reviewers "
        "(see the header of .github/workflows/apply.yml)."
    )
