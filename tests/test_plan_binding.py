"""A saved plan matches the repository and the moment it is applied in.

Each measured way around the seal, reproduced on a real git repository and a
sqlite registry: a policy tightened on main after the plan, a plan of a branch
never merged, a replay after the registry went A -> B -> A, a plan whose commit
HEAD's history does not hold, and an expired plan. Every refusal is exit 4,
says why, and leaves the registry exactly as it was.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from registry_ops.core.plan import Plan
from registry_ops.core.provenance import PROVENANCE_TAG
from registry_ops.core.records import RecordKey
from registry_ops.pipeline.lease import last_applied_commit, released_record
from tests.support.snapshot import registry_snapshot

KEY = "a long random signing key"
POLICY = "    - metric: val_accuracy\n      min: {min}\n"
MANIFEST = "description: {description}\naliases: {{champion: {version}}}\n"
GATED = "gates: {champion: production}\n"


class Git:
    """A real repository at ``root``: commit, branch, merge with the git CLI."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.run("init", "-q", "-b", "main")

    def run(self, *args: str) -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "Ada",
            "GIT_AUTHOR_EMAIL": "ada@example.com",
            "GIT_COMMITTER_NAME": "Ada",
            "GIT_COMMITTER_EMAIL": "ada@example.com",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        done = subprocess.run(
            ["git", *args], cwd=self.root, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def commit(self, message: str) -> str:
        self.run("add", "-A")
        self.run("commit", "-q", "--allow-empty", "-m", message)
        return self.run("rev-parse", "HEAD")


@pytest.fixture
def signed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plans are signed and only signed plans apply, as in the apply workflow."""
    monkeypatch.setenv("REGISTRY_OPS_PLAN_KEY", KEY)
    monkeypatch.setenv("REGISTRY_OPS_LEASE_SETTLE", "0.05")
    monkeypatch.delenv("REGISTRY_OPS_PLAN_MAX_AGE", raising=False)


@pytest.fixture
def repo(workspace, seeder, signed):  # type: ignore[no-untyped-def]
    """clf v1 (val_accuracy 0.93) and v2 (0.97); main promotes v1 under `min: 0.90`."""
    seeder.version("clf", val_accuracy=0.93)
    seeder.version("clf", val_accuracy=0.97)
    workspace.policy("production", POLICY.format(min="0.90"))
    workspace.manifest("clf", MANIFEST.format(description="A", version=1) + GATED)
    git = Git(workspace.root)
    git.commit("promote clf v1")
    return git


def run(cli, tracking_uri: str, root: Path, *args: str):  # type: ignore[no-untyped-def]
    return cli("--tracking-uri", tracking_uri, "-C", str(root), *args)


def save(cli, tracking_uri: str, root: Path, path: Path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    made = run(cli, tracking_uri, root, "plan", "--out", str(path))
    assert made.code == 0, made.err
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def refused(cli, tracking_uri: str, root: Path, path: Path, *extra: str):  # type: ignore[no-untyped-def]
    """Apply ``path``; it must be refused as stale without a write. Returns stderr."""
    before = registry_snapshot(tracking_uri)
    result = run(cli, tracking_uri, root, "apply", "--yes", *extra, str(path))
    assert result.code == 4, result.out + result.err
    assert "Traceback" not in result.err
    assert registry_snapshot(tracking_uri) == before
    return result.err


def test_a_policy_tightened_on_main_after_the_plan_refuses_it(  # type: ignore[no-untyped-def]
    cli, tracking_uri, workspace, repo, tmp_path
):
    path = tmp_path / "plan.json"
    data = save(cli, tracking_uri, workspace.root, path)
    assert data["status"] == "changes" and data["signature"]
    assert set(data["models"][0]["desired"]) == {"manifests/m.yaml", "policies/production.yaml"}
    workspace.policy("production", POLICY.format(min="0.95"))
    head = repo.commit("production needs 0.95 now")

    err = refused(cli, tracking_uri, workspace.root, path)
    assert f"than those at HEAD ({head[:12]} on main)" in err
    assert "clf: policies/production.yaml differs at HEAD" in err
    assert "manifests/m.yaml" not in err  # the manifest is the same
    assert "plan` again" in err
    # Planned again, HEAD's gate blocks the promotion: nothing was bypassed.
    again = run(cli, tracking_uri, workspace.root, "plan", "--detailed-exitcode")
    assert again.code == 3, again.out
    assert "val_accuracy >= 0.95" in again.out


def test_a_plan_of_a_branch_never_merged_does_not_apply_on_main(  # type: ignore[no-untyped-def]
    cli, tracking_uri, workspace, repo, tmp_path
):
    assert run(cli, tracking_uri, workspace.root, "apply", "--yes").code == 0
    repo.run("checkout", "-q", "-b", "unmerged")
    workspace.manifest("clf", MANIFEST.format(description="B", version=2) + GATED)
    repo.commit("promote clf v2 (never merged)")
    path = tmp_path / "plan.json"
    save(cli, tracking_uri, workspace.root, path)
    repo.run("checkout", "-q", "main")

    err = refused(cli, tracking_uri, workspace.root, path)
    assert "clf: manifests/m.yaml differs at HEAD" in err
    assert "branch that is not merged" in err

    # A branch whose desired state is main's (only other files changed) applies
    # what HEAD says: fine.
    repo.run("checkout", "-q", "-b", "docs")
    workspace.write("README.md", "notes\n")
    repo.commit("notes")
    workspace.manifest("clf", MANIFEST.format(description="B", version=2) + GATED)
    repo.commit("promote v2")
    repo.run("checkout", "-q", "main")
    repo.run("merge", "-q", "--ff-only", "docs")
    save(cli, tracking_uri, workspace.root, path)
    applied = run(cli, tracking_uri, workspace.root, "apply", "--yes", str(path))
    assert applied.code == 0, applied.err


def test_a_replayed_plan_is_refused_after_the_registry_went_a_b_a(  # type: ignore[no-untyped-def]
    cli, tracking_uri, workspace, repo, tmp_path
):
    root = workspace.root
    assert run(cli, tracking_uri, root, "apply", "--yes").code == 0  # registry: A
    workspace.manifest("clf", MANIFEST.format(description="B", version=2) + GATED)
    repo.commit("B")
    to_b = tmp_path / "to-b.json"
    save(cli, tracking_uri, root, to_b)
    assert run(cli, tracking_uri, root, "apply", "--yes", str(to_b)).code == 0  # B

    # Applying it a second time: refused for what it is, before its state check.
    err = refused(cli, tracking_uri, root, to_b)
    assert "clf: this plan was applied already (applied " in err

    workspace.manifest("clf", MANIFEST.format(description="A", version=1) + GATED)
    repo.commit("back to A")
    to_a = tmp_path / "to-a.json"
    save(cli, tracking_uri, root, to_a)
    assert run(cli, tracking_uri, root, "apply", "--yes", str(to_a)).code == 0  # A again
    record = released_record(
        registry_snapshot(tracking_uri)["clf"]["tags"]["registry_ops.lease"],
        "clf",
        RecordKey.from_env(),
    )
    assert record is not None
    assert record["plan_created_at"] == json.loads(to_a.read_text())["created_at"]

    # The old plan sees the state it saw, signed and sealed, and HEAD wants A: refused.
    err = refused(cli, tracking_uri, root, to_b)
    assert "clf: manifests/m.yaml differs at HEAD" in err
    # Even once HEAD wants B again, the old plan is older than the last one applied.
    workspace.manifest("clf", MANIFEST.format(description="B", version=2) + GATED)
    repo.commit("B again")
    err = refused(cli, tracking_uri, root, to_b)
    assert "clf: this plan was made before the last plan applied to it" in err
    assert "would undo what that plan applied" in err
    snapshot = registry_snapshot(tracking_uri)["clf"]
    assert snapshot["description"] == "A" and snapshot["aliases"] == {"champion": 1}
    # A fresh plan is never refused by that rule.
    assert run(cli, tracking_uri, root, "apply", "--yes").code == 0
    assert registry_snapshot(tracking_uri)["clf"]["aliases"] == {"champion": 2}


def test_a_plan_whose_commit_head_does_not_hold_stamps_heads_commit(  # type: ignore[no-untyped-def]
    cli, tracking_uri, workspace, repo, tmp_path
):
    """A pull request's plan records GitHub's test merge, a commit main never holds."""
    repo.run("checkout", "-q", "-b", "pr")
    workspace.write("README.md", "a pull request that touches no manifest\n")
    repo.commit("docs")
    repo.run("checkout", "-q", "--detach", "main")
    repo.run("merge", "-q", "--no-ff", "-m", "test merge of pr", "pr")
    test_merge = repo.run("rev-parse", "HEAD")
    path = tmp_path / "plan.json"
    assert save(cli, tracking_uri, workspace.root, path)["git"]["commit"] == test_merge
    repo.run("checkout", "-q", "main")
    repo.run("merge", "-q", "--no-ff", "-m", "Merge branch 'pr'", "pr")
    head = repo.run("rev-parse", "HEAD")
    assert head != test_merge

    applied = run(cli, tracking_uri, workspace.root, "apply", "--yes", str(path))
    assert applied.code == 0, applied.err
    notes = [line for line in applied.err.splitlines() if "HEAD's history does not hold" in line]
    assert notes == [
        f"note: the plan records commit {test_merge[:12]}, which HEAD's history does not hold; "
        f"its manifests and policies are HEAD's, so provenance and the apply log record HEAD, "
        f"{head[:12]}."
    ]
    snapshot = registry_snapshot(tracking_uri)["clf"]
    assert json.loads(snapshot["versions"][1]["tags"][PROVENANCE_TAG])["commit"] == head
    assert (
        last_applied_commit(snapshot["tags"]["registry_ops.lease"], "clf", RecordKey.from_env())
        == head
    )
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("registry-ops/applies")
    (logged,) = client.search_runs([experiment.experiment_id])
    assert logged.data.tags["registry_ops.commit"] == head
    # `history` resolves the applied commit.
    history = run(cli, tracking_uri, workspace.root, "history", "clf", "--format", "json")
    assert history.code == 0, history.err
    assert head in history.out and test_merge not in history.out


def test_a_saved_plan_expires(cli, tracking_uri, workspace, repo, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    path = tmp_path / "plan.json"
    save(cli, tracking_uri, workspace.root, path)
    monkeypatch.setenv("REGISTRY_OPS_PLAN_MAX_AGE", "1s")
    time.sleep(1.2)
    err = refused(cli, tracking_uri, workspace.root, path)
    assert re.search(r"the saved plan expired: it was made \d+s ago \(20\d\d-", err), err
    assert "saved plans apply for 1s (REGISTRY_OPS_PLAN_MAX_AGE or --max-age)" in err
    # The option wins over the environment.
    applied = run(cli, tracking_uri, workspace.root, "apply", "--yes", "--max-age", "1h", str(path))
    assert applied.code == 0, applied.err


def test_a_plan_without_the_digests_of_its_desired_state_is_refused(  # type: ignore[no-untyped-def]
    cli, tracking_uri, workspace, repo, tmp_path, monkeypatch
):
    """A plan made before plans recorded them: its seal checks out, its origin cannot."""
    monkeypatch.delenv("REGISTRY_OPS_PLAN_KEY")
    path = tmp_path / "plan.json"
    data = save(cli, tracking_uri, workspace.root, path)
    for model in data["models"]:
        del model["desired"]
    data["digest"] = Plan.from_dict(data).digest
    path.write_text(json.dumps(data))
    err = refused(cli, tracking_uri, workspace.root, path)
    assert "does not record which manifests and policies it was made from" in err
    assert "older registry-ops" in err and "clf" in err and "plan` again" in err
    # Nor does a plan that records some files but not the model's own manifest.
    data["models"][0]["desired"] = {}
    data["digest"] = Plan.from_dict(data).digest
    path.write_text(json.dumps(data))
    assert "older registry-ops" in refused(cli, tracking_uri, workspace.root, path)


def test_outside_git_the_files_on_disk_decide(  # type: ignore[no-untyped-def]
    cli, tracking_uri, workspace, seeder, signed, tmp_path
):
    seeder.version("clf", val_accuracy=0.93)
    seeder.version("clf", val_accuracy=0.97)
    workspace.policy("production", POLICY.format(min="0.90"))
    workspace.manifest("clf", MANIFEST.format(description="A", version=1) + GATED)
    path = tmp_path / "plan.json"
    save(cli, tracking_uri, workspace.root, path)
    # A comment and another layout mean the same: still the plan's desired state.
    workspace.policy("production", "    # tightened soon\n    - {metric: val_accuracy, min: 0.9}\n")
    applied = run(cli, tracking_uri, workspace.root, "apply", "--yes", str(path))
    assert applied.code == 0, applied.err

    workspace.manifest("clf", MANIFEST.format(description="A", version=2) + GATED)
    save(cli, tracking_uri, workspace.root, path)
    workspace.policy("production", POLICY.format(min="0.99"))
    err = refused(cli, tracking_uri, workspace.root, path)
    assert f"than those on disk in {workspace.root}" in err
    assert "clf: policies/production.yaml differs on disk" in err
    assert "changed since the plan was made" in err and "HEAD" not in err
    (workspace.root / "policies" / "production.yaml").unlink()
    err = refused(cli, tracking_uri, workspace.root, path)
    assert "clf: policies/production.yaml does not exist on disk" in err


def test_a_plan_of_uncommitted_files_is_refused_with_what_to_do(  # type: ignore[no-untyped-def]
    cli, tracking_uri, workspace, repo, tmp_path
):
    workspace.manifest("clf", MANIFEST.format(description="B", version=2) + GATED)
    path = tmp_path / "plan.json"
    assert save(cli, tracking_uri, workspace.root, path)["git"]["dirty"] is True
    err = refused(cli, tracking_uri, workspace.root, path)
    assert "clf: manifests/m.yaml differs at HEAD" in err
    assert "made from uncommitted files: commit them and plan again" in err


def test_layout_comments_and_line_endings_do_not_change_the_digest(tmp_path: Path) -> None:
    from registry_ops.pipeline.binding import Unreadable, digest_bytes, digest_text

    base = digest_text(
        "model: clf\naliases: {champion: 1}\noverrides: {x: {expires: 2026-01-02}}\n"
    )
    same = [
        "# a comment\naliases:\n  champion: 1   # still 1\nmodel: clf\n"
        "overrides: {x: {expires: '2026-01-02'}}\n",
    ]
    for text in same:
        assert digest_text(text) == base
    raw = "model: clf\r\naliases: {champion: 1}\r\noverrides: {x: {expires: 2026-01-02}}\r\n"
    assert digest_bytes(b"\xef\xbb\xbf" + raw.encode()) == base  # BOM and CRLF: a checkout's
    assert (
        digest_text("model: clf\naliases: {champion: 2}\noverrides: {x: {expires: 2026-01-02}}\n")
        != base
    )
    for broken in (b"\xff\xfe", b"a: [", b"{1: 2}"):
        with pytest.raises(Unreadable):
            digest_bytes(broken)


def test_head_files_and_ancestry_read_the_object_database(tmp_path: Path) -> None:
    from registry_ops.gitrepo import contains, head_files

    git = Git(tmp_path)
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "p.yaml").write_text("name: p\n")
    (tmp_path / "policies").symlink_to("real")
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "m.yaml").write_text("model: m\n")
    (tmp_path / "manifests" / "out.yaml").symlink_to("/etc/hostname")
    first = git.commit("one")
    (tmp_path / "manifests" / "m.yaml").write_text("model: changed on disk only\n")
    files = head_files(
        tmp_path / "manifests", ["m.yaml", "out.yaml", "none.yaml", "../policies/p.yaml"]
    )
    assert files is not None and files.commit == first and files.branch == "main"
    assert files.content == {
        "m.yaml": b"model: m\n",  # HEAD's, not the working tree's
        "out.yaml": None,  # a link out of the repository: no commit holds its target
        "none.yaml": None,
        "../policies/p.yaml": b"name: p\n",  # through a committed directory link
    }
    assert files.names["m.yaml"] == "manifests/m.yaml"
    git.run("checkout", "-q", "-b", "side")
    side = git.commit("side")
    git.run("checkout", "-q", "main")
    second = git.commit("two")
    assert contains(tmp_path, first) is True and contains(tmp_path, second) is True
    assert contains(tmp_path, side) is False
    assert contains(tmp_path, "0" * 40) is False and contains(tmp_path, "--all") is False
    assert contains(tmp_path.parent, first) is None and head_files(tmp_path.parent, []) is None


def test_durations() -> None:
    from registry_ops.pipeline.replay import parse_duration

    assert [parse_duration(t) for t in ("90", "90s", "15m", "24h", "2d", "1.5h")] == [
        90,
        90,
        900,
        86400,
        172800,
        5400,
    ]
    for bad in ("", "0", "-1h", "1w", "h", "24 hours"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_age_is_told_in_hours_and_a_plan_from_the_future_is_refused() -> None:
    from datetime import UTC, datetime, timedelta

    from registry_ops.errors import StalePlan
    from registry_ops.pipeline.replay import DEFAULT_MAX_AGE, check_age

    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def made(delta: timedelta) -> Plan:
        return Plan(models=[], created_at=(now - delta).isoformat(timespec="microseconds"))

    check_age(made(timedelta(hours=23, minutes=59)), DEFAULT_MAX_AGE, now)
    check_age(made(timedelta(minutes=-4)), DEFAULT_MAX_AGE, now)  # a clock a little ahead
    with pytest.raises(StalePlan, match=r"made 26h 5m ago .* apply for 24h"):
        check_age(made(timedelta(hours=26, minutes=5)), DEFAULT_MAX_AGE, now)
    with pytest.raises(StalePlan, match="made 10m in the future"):
        check_age(made(timedelta(minutes=-10)), DEFAULT_MAX_AGE, now)
    with pytest.raises(StalePlan, match="no creation time"):
        check_age(Plan(models=[], created_at=""), DEFAULT_MAX_AGE, now)
