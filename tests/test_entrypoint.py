"""The installed console script and ``python -m registry_ops``, as a user runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("registry-ops", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "registry_ops"]
    return subprocess.run(
        [*cmd, *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        env=dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true"),
        timeout=120,
    )


def test_console_script_validates_the_shipped_example() -> None:
    proc = run("validate")
    assert proc.returncode == 0, proc.stderr
    assert "2 manifests and 2 policies valid" in proc.stdout


@pytest.mark.parametrize("args", [["validate"], ["--help"], ["plan", "--help"]])
def test_validate_and_help_do_not_import_mlflow_or_torch(args: list[str]) -> None:
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['registry-ops', *{args!r}]\n"
        "try:\n    runpy.run_module('registry_ops', run_name='__main__')\n"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        "heavy = sorted(m for m in ('mlflow', 'torch') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    "args",
    [["--bogus"], ["plan", "--format", "yaml"], ["nonexistent-command"], ["plan", "--out"]],
)
def test_usage_errors_exit_64(args: list[str]) -> None:
    proc = run(*args)
    assert proc.returncode == 64, proc.stderr
    assert "Traceback" not in proc.stderr


def test_python_dash_m_matches_console_script() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "registry_ops", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert "registry-ops" in proc.stdout


def test_invalid_tree_exits_1_with_location(tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "x.yaml").write_text(
        "apiVersion: registry-ops/v1\nkind: ModelManifest\nmodel: x\naliases:\n  champion: [1]\n"
    )
    proc = run("-C", str(tmp_path), "validate")
    assert proc.returncode == 1
    assert (
        "x.yaml:5:13: $.aliases.champion: expected a version number, or null for an empty "
        "alias; got a list" in proc.stderr
    )
    assert "Traceback" not in proc.stderr


def test_missing_manifests_directory(tmp_path: Path) -> None:
    proc = run("-C", str(tmp_path), "validate")
    assert proc.returncode == 1
    assert "no manifests/ directory" in proc.stderr


def test_the_cli_reference_page_is_current() -> None:
    """docs/cli.md is what the commands' own help says (regenerate: see the page)."""
    from registry_ops.cli.reference import reference

    page = (REPO / "docs" / "cli.md").read_text()
    assert page == reference(), (
        "docs/cli.md is stale: python -m registry_ops.cli.reference > docs/cli.md"
    )
