"""``registry-ops propose`` on real git repositories and real MLflow: which version is
proposed, for which targets, the model's one branch and its in-place commit, the evidence
in its message, the user's checkout left alone, and a second run that proposes nothing
new."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import git
import pytest

from registry_ops.gitops.manifest_edit import EditError, edit_version
from registry_ops.gitops.proposals import branch_name, ref_part
from tests.conftest import Result, Workspace
from tests.support.backends import SQLITE, Backend, only

POLICY = """\
    - metric: val_accuracy    # an absolute floor
      min: 0.9
    - metric: val_accuracy    # no worse than the holder
      baseline: current
      min_absolute_change: 0
"""

MANIFEST = """\
# yaml-language-server: $schema=../registry_ops/schemas/manifest.schema.json
# The classifier the demo serves.
apiVersion: registry-ops/v1
kind: ModelManifest
model: {model}          # MLflow registered model name
description: Spirals classifier
aliases:
  champion: 1   # what we serve
  challenger: 1 # ungated: never proposed
stages:
  Production: [1]       # legacy consumers still read the stage
gates:
  champion: production
  Production: production
"""

CLI = Callable[..., Result]


def init_repo(root: Path) -> git.Repo:
    """A repository with everything under ``root`` committed on ``main``."""
    repo = git.Repo.init(root, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Ada Lovelace")
        config.set_value("user", "email", "ada@example.com")
    repo.git.add("--all")
    repo.git.commit("-qm", "manifests")
    return repo


def seed(backend: Backend, workspace: Workspace, *accuracies: float) -> str:
    """A model whose v1 holds champion and Production, and newer versions with these
    accuracies; the manifest and policy in ``workspace``, committed."""
    clf = backend.name("clf")
    backend.seeder.version(clf, val_accuracy=0.91)
    for accuracy in accuracies:
        backend.seeder.version(clf, val_accuracy=accuracy)
    backend.client.set_registered_model_alias(clf, "champion", "1")
    backend.client.set_registered_model_alias(clf, "challenger", "1")
    backend.client.transition_model_version_stage(clf, "1", "Production")
    workspace.policy("production", POLICY)
    workspace.write("manifests/clf.yaml", MANIFEST.format(model=clf))
    return clf


def checkout_state(repo: git.Repo) -> dict[str, object]:
    """Everything of the user's checkout a proposal must leave alone."""
    root = Path(repo.working_tree_dir or ".")
    return {
        "head": repo.head.commit.hexsha,
        "branch": repo.active_branch.name,
        "status": repo.git.status("--porcelain", "--untracked-files=all"),
        "staged": repo.git.diff("--cached"),
        "unstaged": repo.git.diff(),
        "files": {
            str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts
        },
    }


def branches(repo: git.Repo) -> dict[str, str]:
    return {h.name: h.commit.hexsha for h in repo.heads if h.name.startswith("registry-ops/")}


def test_proposes_the_newest_passing_version_on_a_branch_and_only_once(
    cli: CLI, backend: Backend, workspace: Workspace
) -> None:
    # v2 passes, v3 (the newest) fails the floor: v2 is proposed for both gated targets,
    # on one branch (one pull request): merging it leaves no sibling proposal stale.
    clf = seed(backend, workspace, 0.95, 0.5)
    original = (workspace.root / "manifests" / "clf.yaml").read_text()
    repo = init_repo(workspace.root)
    # the user is mid-work: a staged edit, an unstaged one, an untracked file
    (workspace.root / "notes.md").write_text("draft\n")
    repo.git.add("notes.md")
    (workspace.root / "notes.md").write_text("draft, edited\n")
    (workspace.root / "scratch.txt").write_text("untracked\n")
    before = checkout_state(repo)

    result = cli(*backend.args(workspace.root, "propose"))
    assert result.code == 0, result.err
    branch = f"registry-ops/propose/{clf}/v2"
    assert set(branches(repo)) == {branch}  # nothing for the ungated challenger
    assert (
        f"proposed          {branch}  Promote {clf} v2 to champion and Production "
        "(manifest: champion v1, Production v1; 4 gates passed)"
    ) in result.out
    assert f"not proposed      {clf} champion v3: fails" in result.out
    assert f"not proposed      {clf} Production v3: fails" in result.out
    assert "Proposed 1 promotion on new local branch; nothing was pushed." in result.out
    assert checkout_state(repo) == before

    commit = repo.commit(branch)
    assert [p.hexsha for p in commit.parents] == [before["head"]]
    assert [d.a_path for d in commit.parents[0].diff(commit)] == ["manifests/clf.yaml"]
    assert commit.author.name == "Ada Lovelace"
    content = (commit.tree / "manifests/clf.yaml").data_stream.read().decode()
    edited = original
    for old, new in (
        ("  champion: 1   # what we serve", "  champion: 2   # what we serve"),
        ("  Production: [1]       #", "  Production: [2]       #"),
    ):
        assert original.count(old) == 1
        edited = edited.replace(old, new)
    assert content == edited  # the two values; comments and layout kept

    title, _, body = str(commit.message).partition("\n\n")
    assert title == f"Promote {clf} v2 to champion and Production"
    assert "passes every gate of the policy of each target below" in body
    assert "- manifest: `manifests/clf.yaml`" in body
    assert (
        "Alias `champion`, policy `production`: the manifest wants v1, v1 holds it now; "
        "`aliases.champion`: 1 -> 2"
    ) in body
    assert (
        "Stage `Production`, policy `production`: the manifest wants v1, v1 holds it now; "
        "`stages.Production[0]`: 1 -> 2"
    ) in body
    assert body.count("- pass `production: val_accuracy") == 4  # both gates, both targets
    assert "candidate 0.95, threshold 0.9" in body
    assert "candidate 0.95, holder 0.91, delta +0.04, threshold 0.91" in body
    assert "- plan digest: `sha256:" in body

    # a second run: the branch exists, so nothing new; v3 (newer) is tried again, as it
    # may pass later, but nothing older than the proposal is
    tips = branches(repo)
    again = cli(*backend.args(workspace.root, "propose"))
    assert again.code == 0, again.err
    assert f"already proposed  {branch}  Promote {clf} v2 (branch exists at" in again.out
    assert again.out.count("not proposed") == 2 and "v3: fails" in again.out
    assert "Nothing to propose" in again.out and "1 already proposed" in again.out
    assert branches(repo) == tips
    assert checkout_state(repo) == before


@only(SQLITE)
def test_json_output_for_the_workflow(cli: CLI, backend: Backend, workspace: Workspace) -> None:
    clf = seed(backend, workspace, 0.93)
    repo = init_repo(workspace.root.parent)  # manifests/ below the repository's top
    result = cli(*backend.args(workspace.root, "propose", clf, "--format", "json"))
    assert result.code == 0, result.err
    data = json.loads(result.out)
    (proposal,) = data["proposals"]
    assert proposal["status"] == "proposed"
    assert proposal["branch"] == f"registry-ops/propose/{clf}/v2"
    assert (proposal["model"], proposal["to_version"]) == (clf, 2)
    assert proposal["manifest"] == "manifests/clf.yaml"
    assert proposal["title"] == f"Promote {clf} v2 to champion and Production"
    targets = {t["target"]: t for t in proposal["targets"]}
    assert list(targets) == ["champion", "Production"]
    champion = targets["champion"]
    assert (champion["kind"], champion["policy"]) == ("alias", "production")
    assert (champion["from_version"], champion["holder_version"]) == (1, 1)
    assert [g["passed"] for g in champion["gates"]] == [True, True]
    assert champion["gates"][0]["observed"] == 0.93
    assert targets["Production"]["kind"] == "stage"
    commit = repo.commit(proposal["branch"])
    assert proposal["commit"] == commit.hexsha
    assert [d.a_path for d in commit.parents[0].diff(commit)] == ["repo/manifests/clf.yaml"]
    assert proposal["plan_digest"].startswith("sha256:")
    assert data["summary"]["proposed"] == 1 and data["errors"] == []
    assert data["summary"]["targets_checked"] == 2

    again = json.loads(cli(*backend.args(workspace.root, "propose", "--format", "json")).out)
    (already,) = again["proposals"]
    assert (already["status"], already["commit"]) == ("already proposed", proposal["commit"])
    assert already["targets"] == []  # the branch says which


@only(SQLITE)
def test_a_failing_newer_candidate_leaves_an_older_passing_one(
    cli: CLI, backend: Backend, workspace: Workspace
) -> None:
    # v2 passes; v3 is better than the floor but worse than the holder; v4 has no metric
    clf = seed(backend, workspace, 0.96, 0.905)
    backend.seeder.version(clf, other=1.0)
    repo = init_repo(workspace.root)
    result = cli(*backend.args(workspace.root, "propose", "--format", "json"))
    assert result.code == 0, result.err
    data = json.loads(result.out)
    (proposal,) = data["proposals"]
    assert proposal["to_version"] == 2
    assert [t["target"] for t in proposal["targets"]] == ["champion", "Production"]
    rejected = {(r["target"], r["version"]): r["reason"] for r in data["rejected"]}
    assert "val_accuracy" in rejected[("champion", 4)]
    assert "val_accuracy" in rejected[("champion", 3)]
    assert "val_accuracy" in rejected[("Production", 3)]
    assert set(branches(repo)) == {f"registry-ops/propose/{clf}/v2"}


@only(SQLITE)
def test_nothing_is_proposed_for_an_ungated_target_or_without_a_better_version(
    cli: CLI, backend: Backend, workspace: Workspace
) -> None:
    clf = seed(backend, workspace, 0.99)
    text = MANIFEST.format(model=clf).replace("gates:\n  champion: production\n", "gates:\n")
    text = text.replace("  Production: production\n", "")
    workspace.write("manifests/clf.yaml", text.replace("gates:\n", ""))
    repo = init_repo(workspace.root)
    result = cli(*backend.args(workspace.root, "propose"))
    assert result.code == 0, result.err
    assert "Nothing to propose: no manifest gates an alias or stage." in result.out
    assert branches(repo) == {}

    # gated, but the only newer version fails: exit 0, and it says so
    clf2 = backend.name("weak")
    backend.seeder.version(clf2, val_accuracy=0.95)
    backend.seeder.version(clf2, val_accuracy=0.4)
    workspace.write(
        "manifests/weak.yaml",
        f"apiVersion: registry-ops/v1\nkind: ModelManifest\nmodel: {clf2}\n"
        "aliases: {champion: 1}\ngates: {champion: production}\n",
    )
    repo.git.add("--all")
    repo.git.commit("-qm", "weak")
    result = cli(*backend.args(workspace.root, "propose", clf2))
    assert result.code == 0, result.err
    assert f"not proposed      {clf2} champion v2: fails" in result.out
    assert "Nothing to propose: no newer READY version passes" in result.out
    assert "(1 gated target checked)" in result.out
    assert branches(repo) == {}


EMPTY = """\
apiVersion: registry-ops/v1
kind: ModelManifest
model: {model}
aliases:
  champion: 1
  challenger: null   # owned, empty until a version earns it
stages:
  Production: [1]
  Staging: []        # v1 moved up; the next one comes here
gates:
  challenger: production
  Staging: production
"""


@only(SQLITE)
def test_an_owned_empty_gated_target_is_filled(
    cli: CLI, backend: Backend, workspace: Workspace
) -> None:
    clf = seed(backend, workspace, 0.95)
    workspace.write("manifests/clf.yaml", EMPTY.format(model=clf))
    repo = init_repo(workspace.root)
    result = cli(*backend.args(workspace.root, "propose", "--format", "json"))
    assert result.code == 0, result.err
    data = json.loads(result.out)
    (proposal,) = data["proposals"]
    assert proposal["to_version"] == 2
    targets = {t["target"]: t for t in proposal["targets"]}
    assert list(targets) == ["challenger", "Staging"]
    assert targets["challenger"]["holder_version"] == 1  # the manifest would delete it
    for target in targets.values():
        assert target["from_version"] is None
        assert [g["passed"] for g in target["gates"]] == [True, True]
    commit = repo.commit(proposal["branch"])
    content = (commit.tree / "manifests/clf.yaml").data_stream.read().decode()
    assert content == (
        EMPTY.format(model=clf)
        .replace("  challenger: null   #", "  challenger: 2   #")
        .replace("  Staging: []        #", "  Staging: [2]        #")
    )
    message = str(commit.message)
    assert "Stage `Staging`, policy `production`: the manifest leaves it empty, nobody " in message
    assert "`stages.Staging`: [] -> 2" in message
    assert "`aliases.challenger`: null -> 2" in message


@only(SQLITE)
def test_one_commit_covers_every_target_and_a_version_takes_one_stage(
    cli: CLI, backend: Backend, workspace: Workspace
) -> None:
    # Two values on one line (their columns move with each edit), and Production and
    # Staging both passed: a version holds one stage, so Production is proposed.
    clf = seed(backend, workspace, 0.95)
    text = (
        f"apiVersion: registry-ops/v1\nkind: ModelManifest\nmodel: {clf}\n"
        "aliases: {champion: 1, challenger: 1}  # flow style\n"
        "stages: {Production: 1, Staging: []}\n"
        "gates: {champion: production, challenger: production, Production: production,"
        " Staging: production}\n"
    )
    workspace.write("manifests/clf.yaml", text)
    repo = init_repo(workspace.root)
    result = cli(*backend.args(workspace.root, "propose", "--format", "json"))
    assert result.code == 0, result.err
    data = json.loads(result.out)
    (proposal,) = data["proposals"]
    assert proposal["title"] == f"Promote {clf} v2 to challenger, champion and Production"
    assert [r for r in data["rejected"] if r["target"] == "Staging"] == [
        {
            "model": clf,
            "target": "Staging",
            "version": 2,
            "reason": "passes Production's gates too: a version holds one stage at a time, "
            "and it is proposed for Production",
        }
    ]
    commit = repo.commit(proposal["branch"])
    content = (commit.tree / "manifests/clf.yaml").data_stream.read().decode()
    assert content == text.replace(
        "champion: 1, challenger: 1", "champion: 2, challenger: 2"
    ).replace("Production: 1, Staging: []", "Production: 2, Staging: []")
    # what is proposed was planned as one change set: it validates and plans
    repo.git.checkout(proposal["branch"])
    plan = cli(*backend.args(workspace.root, "plan", "--format", "json"))
    assert plan.code == 0, plan.err
    assert json.loads(plan.out)["status"] == "changes"


@only(SQLITE)
def test_a_version_in_the_other_stage_is_not_moved(
    cli: CLI, backend: Backend, workspace: Workspace
) -> None:
    clf = seed(backend, workspace, 0.95)
    backend.client.transition_model_version_stage(clf, "2", "Staging")
    text = MANIFEST.format(model=clf).replace(
        "  Production: [1]", "  Staging: 2\n  Production: [1]"
    )
    workspace.write("manifests/clf.yaml", text)
    repo = init_repo(workspace.root)
    result = cli(*backend.args(workspace.root, "propose", "--format", "json"))
    assert result.code == 0, result.err
    data = json.loads(result.out)
    (proposal,) = data["proposals"]
    assert proposal["to_version"] == 2
    assert [t["target"] for t in proposal["targets"]] == ["champion"]
    (reason,) = [r["reason"] for r in data["rejected"] if r["target"] == "Production"]
    assert reason.startswith("the manifest gives it Staging")
    assert set(branches(repo)) == {f"registry-ops/propose/{clf}/v2"}


@only(SQLITE)
def test_a_remote_branch_counts_as_proposed(
    cli: CLI, backend: Backend, workspace: Workspace
) -> None:
    # CI checks out without local proposal branches; the pushed ones are remote-tracking
    clf = seed(backend, workspace, 0.95)
    repo = init_repo(workspace.root)
    head = repo.head.commit.hexsha
    repo.git.update_ref(f"refs/remotes/origin/registry-ops/propose/{clf}/v2", head)
    result = cli(*backend.args(workspace.root, "propose", "--format", "json"))
    assert result.code == 0, result.err
    (proposal,) = json.loads(result.out)["proposals"]
    assert (proposal["status"], proposal["to_version"]) == ("already proposed", 2)
    assert branches(repo) == {}
    # a newer version that passes later gets a branch of its own
    backend.seeder.version(clf, val_accuracy=0.97)
    result = cli(*backend.args(workspace.root, "propose", "--format", "json"))
    (proposal,) = json.loads(result.out)["proposals"]
    assert (proposal["status"], proposal["to_version"]) == ("proposed", 3)
    assert set(branches(repo)) == {f"registry-ops/propose/{clf}/v3"}


@only(SQLITE)
def test_dry_run_creates_no_branch(cli: CLI, backend: Backend, workspace: Workspace) -> None:
    clf = seed(backend, workspace, 0.95)
    repo = init_repo(workspace.root)
    result = cli(*backend.args(workspace.root, "propose", "--dry-run"))
    assert result.code == 0, result.err
    assert f"would propose     registry-ops/propose/{clf}/v2  Promote {clf} v2 to" in result.out
    assert "Would propose 1 promotion (dry run: no branch created)." in result.out
    assert branches(repo) == {}


@only(SQLITE)
def test_uncommitted_manifest_is_not_proposed_from_and_outside_git_is_an_error(
    cli: CLI, backend: Backend, workspace: Workspace
) -> None:
    seed(backend, workspace, 0.95)
    outside = cli(*backend.args(workspace.root, "propose"))
    assert outside.code == 1 and "not in a git repository" in outside.err

    repo = init_repo(workspace.root)
    manifest = workspace.root / "manifests" / "clf.yaml"
    manifest.write_text(manifest.read_text().replace("Spirals classifier", "edited"))
    before = checkout_state(repo)
    result = cli(*backend.args(workspace.root, "propose"))
    assert result.code == 1
    assert "has uncommitted changes" in result.err
    assert "warning: uncommitted changes in manifests/clf.yaml" in result.err
    assert branches(repo) == {} and checkout_state(repo) == before


@only(SQLITE)
def test_commits_without_a_git_identity(
    cli: CLI, backend: Backend, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a CI runner's checkout: no user.name anywhere
    clf = seed(backend, workspace, 0.95)
    repo = init_repo(workspace.root)
    with repo.config_writer() as config:
        config.remove_section("user")
    monkeypatch.setenv("HOME", str(workspace.root.parent))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "EMAIL"):
        monkeypatch.delenv(key, raising=False)
    assert cli(*backend.args(workspace.root, "propose", clf)).code == 0
    commit = repo.commit(f"registry-ops/propose/{clf}/v2")
    assert (commit.author.name, commit.committer.name) == ("registry-ops", "registry-ops")


# ---- the in-place edit ---------------------------------------------------------------

DOC = """\
model: m   # name
aliases:
  champion: 3    # served
  shadow: &v 4
  mirror: *v
stages:
  Production:
    - 2
    - 3  # newest
  Staging: !!int 5
"""


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        (("aliases", "champion"), "  champion: 3    # served", "  champion: 7    # served"),
        (("stages", "Production", 1), "    - 3  # newest", "    - 7  # newest"),
        (("stages", "Staging"), "  Staging: !!int 5", "  Staging: !!int 7"),
    ],
)
def test_edit_replaces_exactly_one_scalar(path: tuple[str | int, ...], old: str, new: str) -> None:
    assert edit_version(DOC.encode(), path, 7).decode() == DOC.replace(old, new)


def test_edit_keeps_crlf_and_bom_and_refuses_an_aliased_value() -> None:
    data = b"\xef\xbb\xbf" + DOC.replace("\n", "\r\n").encode()
    out = edit_version(data, ("aliases", "champion"), 12)
    assert out == data.replace(b"champion: 3 ", b"champion: 12 ")
    with pytest.raises(EditError, match="anchor"):
        edit_version(DOC.encode(), ("aliases", "shadow"), 9)
    flow = b"aliases: {champion: 3, b: 3}\nstages: {Production: [1, 3]}\n"
    assert edit_version(flow, ("stages", "Production", 1), 10) == flow.replace(b"3]", b"10]")


@pytest.mark.parametrize(
    ("text", "path", "edited"),
    [
        (
            "a:\n  challenger: null   # next\n",
            ("a", "challenger"),
            "a:\n  challenger: 5   # next\n",
        ),
        ("a:\n  challenger: ~\n  b: 4\n", ("a", "challenger"), "a:\n  challenger: 5\n  b: 4\n"),
        ("a:\n  challenger:\n  b: 4\n", ("a", "challenger"), "a:\n  challenger: 5\n  b: 4\n"),
        ("a:\n  challenger:   # x\n", ("a", "challenger"), "a:\n  challenger: 5   # x\n"),
        ("a: {challenger: , b: 4}\n", ("a", "challenger"), "a: {challenger: 5, b: 4}\n"),
        ("s:\n  Staging: []   # waits\n", ("s", "Staging"), "s:\n  Staging: [5]   # waits\n"),
        ("s: {Staging: [ ], P: 4}\n", ("s", "Staging"), "s: {Staging: [5], P: 4}\n"),
    ],
)
def test_edit_fills_an_empty_target(text: str, path: tuple[str, ...], edited: str) -> None:
    assert edit_version(text.encode(), path, 5).decode() == edited


def test_branch_names_are_safe_and_distinct() -> None:
    assert branch_name("clf", 3) == "registry-ops/propose/clf/v3"
    odd = {branch_name(n, 1) for n in ("a b", "a-b", "a/b", "a..b", "x.lock", "..")}
    assert len(odd) == 6
    repo_free = [b for b in odd if " " in b or ".." in b or b.endswith(".lock") or "/." in b]
    assert repo_free == []
    assert ref_part("team/clf") != ref_part("team-clf")
    for name in odd:
        git.Git().check_ref_format("--branch", name)  # raises if git refuses it


@only(SQLITE)
def test_a_prompt_is_named_as_a_prompt(cli: CLI, backend: Backend, workspace: Workspace) -> None:
    """MLflow's searches leave prompts out: propose asks, instead of calling it missing."""
    name = backend.name("prompt")
    backend.client.register_prompt(name, "Summarise {{text}}")
    workspace.policy("production", "    - metric: accuracy\n      min: 0.5\n")
    workspace.manifest(name, "aliases: {champion: 1}\ngates: {champion: production}\n")
    repo = init_repo(workspace.root)
    result = cli(*backend.args(workspace.root, "propose"))
    assert result.code == 1
    assert f"'{name}' is an MLflow prompt, not a registered model" in result.err
    assert "does not exist" not in result.err
    assert branches(repo) == {}
