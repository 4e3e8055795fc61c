"""The shape of the code: the layer contract, module size, the public root, lint and types.

docs/architecture.md describes the layers; pyproject.toml declares them as
import-linter contracts, and these tests make the suite (and so CI) enforce
them, together with the pinned ruff and mypy (constraints.txt).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "registry_ops"
MAX_LINES = 400
ROOT_MODULES = 8


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed next to {sys.executable}: run scripts/setup.sh")
    return found


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_the_layer_contracts_hold() -> None:
    """Each layer imports only the ones below it; mlflow, git, click and torch each
    come in through one layer."""
    result = _run(_tool("lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_every_layer_is_declared() -> None:
    """A new subpackage must be placed in the contract, not slip past it."""
    declared = (REPO / "pyproject.toml").read_text()
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    missing = [p for p in packages if p != "quickstart" and f'"registry_ops.{p}' not in declared]
    assert not missing, f"subpackages missing from the layer contract: {missing}"


def test_no_module_is_over_400_lines() -> None:
    big = {
        str(path.relative_to(REPO)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not big, f"modules over {MAX_LINES} lines (split along their seams): {big}"


def test_the_package_root_holds_only_the_public_surface() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= ROOT_MODULES, modules
    assert {"__init__.py", "__main__.py", "errors.py"} <= set(modules)


def test_ruff_check_and_format() -> None:
    ruff = _tool("ruff")
    check = _run(ruff, "check", ".")
    assert check.returncode == 0, check.stdout[-4000:]
    fmt = _run(ruff, "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout[-4000:]


def test_mypy_strict_is_clean() -> None:
    result = _run(_tool("mypy"), "registry_ops")
    assert result.returncode == 0, result.stdout[-4000:]
