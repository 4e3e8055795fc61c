"""``registry-ops init``: a team repository that validates as soon as it is written."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from registry_ops.gitops.scaffold import files
from registry_ops.gitops.source import given
from tests.conftest import REPO, Result

EXPECTED = {
    ".github/workflows/plan.yml",
    ".github/workflows/apply.yml",
    ".github/workflows/drift.yml",
    ".github/workflows/propose.yml",
    ".github/actions/registry-ops/action.yml",
    ".pre-commit-config.yaml",
    "constraints.txt",
    "manifests/example-classifier.yaml",
    "policies/production.yaml",
    "policies/staging.yaml",
    "schemas/manifest.schema.json",
    "schemas/policy.schema.json",
    "schemas/plan.schema.json",
}


def written(result: Result, root: Path) -> set[str]:
    return {
        Path(line.removeprefix("wrote ")).relative_to(root).as_posix()
        for line in result.out.splitlines()
    }


def test_init_writes_a_repository_that_validates(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    root = tmp_path / "team"
    result = cli("init", str(root))
    assert result.code == 0, result.err
    assert written(result, root) == EXPECTED
    assert "Next:" in result.err
    check = cli("validate", "-C", str(root))
    assert check.code == 0, check.err
    assert check.out.startswith("OK: 1 manifest and 2 policies valid.")


def test_the_schema_modelines_resolve_and_the_examples_match_them(tmp_path: Path) -> None:
    root = tmp_path / "team"
    from registry_ops.gitops.scaffold import scaffold

    scaffold(root)
    for kind, directory in (("manifest", "manifests"), ("policy", "policies")):
        for path in (root / directory).glob("*.yaml"):
            first = path.read_text().splitlines()[0]
            assert first == f"# yaml-language-server: $schema=../schemas/{kind}.schema.json"
            schema = json.loads((path.parent / f"../schemas/{kind}.schema.json").read_text())
            Draft202012Validator(schema).validate(yaml.safe_load(path.read_text()))


def test_init_refuses_to_overwrite_and_writes_nothing(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    root = tmp_path / "team"
    (root / "manifests").mkdir(parents=True)
    mine = root / "manifests" / "example-classifier.yaml"
    mine.write_text("# ours\n")
    result = cli("init", str(root))
    assert result.code == 1
    assert "refusing to overwrite 1 existing file(s)" in result.err
    assert str(mine) in result.err and "--force" in result.err
    assert mine.read_text() == "# ours\n"
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == ["example-classifier.yaml"]


def test_init_force_overwrites(cli: Callable[..., Result], tmp_path: Path) -> None:
    root = tmp_path / "team"
    assert cli("init", str(root)).code == 0
    plan = root / ".github/workflows/plan.yml"
    plan.write_text("edited\n")
    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    (root / "constraints.txt").unlink()
    (root / "constraints.txt").symlink_to(outside)
    result = cli("init", str(root), "--force")
    assert result.code == 0, result.err
    assert written(result, root) == EXPECTED
    assert plan.read_text() == (REPO / ".github/workflows/plan.yml").read_text()
    # a link is replaced, never written through
    assert outside.read_text() == "keep\n"
    assert not (root / "constraints.txt").is_symlink()


def test_templates_do_not_drift_from_this_repositorys_files() -> None:
    """The scaffold ships exactly the pipeline this repository runs (the action's template
    too; the scaffold pins its ``package`` default: tests/test_source.py)."""
    scaffolded = files()
    for relative in (
        ".github/workflows/plan.yml",
        ".github/workflows/apply.yml",
        ".github/workflows/drift.yml",
        ".github/workflows/propose.yml",
        "constraints.txt",
    ):
        assert scaffolded[Path(relative)] == (REPO / relative).read_text(), relative
    action = ".github/actions/registry-ops/action.yml"
    template = (
        REPO / "registry_ops/gitops/templates/repo/dot-github/actions/registry-ops/action.yml"
    )
    assert template.read_text() == (REPO / action).read_text()
    for name in ("manifest", "policy", "plan"):
        schema = (REPO / "registry_ops/schemas" / f"{name}.schema.json").read_text()
        assert scaffolded[Path(f"schemas/{name}.schema.json")] == schema


def test_the_pre_commit_config_uses_this_repositorys_hook() -> None:
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "registry-ops-validate"
    assert hook["entry"] == "registry-ops validate"
    assert (hook["language"], hook["pass_filenames"]) == ("python", False)
    import re

    assert re.search(hook["files"], "manifests/clf.yaml")
    assert re.search(hook["files"], "policies/sub/p.yml")
    assert not re.search(hook["files"], "docs/manifests.yaml")
    pinned = given("https://github.com/acme/registry-ops", "v0.2.0")
    config = yaml.safe_load(files(pinned)[Path(".pre-commit-config.yaml")])
    (repo,) = config["repos"]
    assert [h["id"] for h in repo["hooks"]] == [hook["id"]]
    assert (repo["repo"], repo["rev"]) == ("https://github.com/acme/registry-ops", "v0.2.0")


def test_init_imports_neither_mlflow_nor_torch(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom registry_ops.cli import main\n"
        "try:\n    main(['init', sys.argv[1]])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "assert 'mlflow' not in sys.modules and 'torch' not in sys.modules, 'heavy import'\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "t")], check=True, capture_output=True
    )
