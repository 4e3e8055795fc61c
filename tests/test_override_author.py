"""Who wrote an override, from git blame, and what a shallow clone cannot tell.

actions/checkout fetches one commit by default: blame then pins every line on
that commit, whose author is whoever committed last. The author of a line older
than the history fetched is unknown, and said so, rather than the wrong person.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import git
import pytest

from registry_ops.gitrepo import UNKNOWN_AUTHOR, line_author
from tests.conftest import Result, Workspace
from tests.support.backends import SQLITE, Backend, only

CLI = Callable[..., Result]


def _commit(repo: git.Repo, name: str, path: str, text: str) -> None:
    root = Path(repo.working_tree_dir or ".")
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(text)
    with repo.config_writer() as config:
        config.set_value("user", "name", name).set_value("user", "email", f"{name}@example.com")
    repo.git.add("--all")
    repo.git.commit("-qm", f"{name} edits {path}")


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """A repository where Ada wrote line 1 and Bob, two commits later, line 3."""
    repo = git.Repo.init(tmp_path / "origin", initial_branch="main")
    _commit(repo, "Ada", "manifests/m.yaml", "a: 1\n")
    _commit(repo, "Cy", "README.md", "unrelated\n")
    _commit(repo, "Bob", "manifests/m.yaml", "a: 1\nb: 2\nc: 3\n")
    return tmp_path / "origin"


def _clone(origin: Path, into: Path, depth: int | None) -> Path:
    args = ["--depth", str(depth)] if depth else []
    git.Repo.clone_from(origin.as_uri(), into, multi_options=args)
    return into


def test_a_full_history_names_each_line_s_author(history: Path, tmp_path: Path) -> None:
    full = _clone(history, tmp_path / "full", None)
    assert line_author(full, "manifests/m.yaml", 1) == "Ada <Ada@example.com>"
    assert line_author(full, "manifests/m.yaml", 3) == "Bob <Bob@example.com>"


def test_a_shallow_clone_says_unknown_for_lines_older_than_its_history(
    history: Path, tmp_path: Path
) -> None:
    one = _clone(history, tmp_path / "depth1", 1)
    # blame would name Bob (the last committer) for Ada's line
    assert line_author(one, "manifests/m.yaml", 1) == UNKNOWN_AUTHOR
    # Bob did write line 3, but a one-commit history cannot tell it from an older line
    assert line_author(one, "manifests/m.yaml", 3) == UNKNOWN_AUTHOR
    # with two commits fetched, Bob's commit has its parent: his line is his
    two = _clone(history, tmp_path / "depth2", 2)
    assert line_author(two, "manifests/m.yaml", 3) == "Bob <Bob@example.com>"
    assert line_author(two, "manifests/m.yaml", 1) == UNKNOWN_AUTHOR


@only(SQLITE)
def test_a_plan_in_a_shallow_checkout_does_not_name_the_last_committer(
    cli: CLI, backend: Backend, workspace: Workspace, tmp_path: Path
) -> None:
    clf = backend.name("clf")
    backend.seeder.version(clf, acc=0.5)
    workspace.policy("prod", "    - metric: acc\n      min: 0.9\n")
    expires = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    workspace.manifest(
        clf,
        "aliases: {champion: 1}\ngates: {champion: prod}\noverrides:\n  champion:\n"
        '    reason: "INC-4711: v1 restores the fallback path; full eval to follow"\n'
        f"    expires: {expires}\n",
    )
    repo = git.Repo.init(workspace.root, initial_branch="main")
    _commit(repo, "Ada", "manifests/m.yaml", (workspace.root / "manifests/m.yaml").read_text())
    _commit(repo, "Bob", "README.md", "a later, unrelated commit\n")
    checkout = _clone(workspace.root, tmp_path / "ci", 1)

    result = cli(*backend.args(checkout, "plan", "--format", "json"))
    assert result.code == 0, result.err
    (change,) = json.loads(result.out)["models"][0]["changes"]
    assert change["overridden"] is True
    assert change["override"]["author"] == UNKNOWN_AUTHOR
    text = cli(*backend.args(checkout, "plan")).out
    assert "Bob" not in text and "by unknown (shallow git history" in text
