"""`history MODEL`: git's desired state joined with the apply log and the registry.

Real git repositories (promotions, a rollback, a rename) and real MLflow on
every backend: the apply log is written by real applies, drift by a real
MlflowClient acting as someone in the MLflow UI.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import git
import pytest

from registry_ops import gitrepo as gitinfo
from registry_ops.gitops.history import desired_history, parse_time
from registry_ops.render.history import mermaid_text
from tests.support.backends import SQLITE, only


class Repo:
    """A team repository whose manifest for one model moves over time."""

    def __init__(self, root: Path, model: str, name: str = "clf.yaml") -> None:
        self.root, self.model, self.name = root, model, name
        (root / "manifests").mkdir(parents=True)
        (root / "policies").mkdir()
        self.repo = git.Repo.init(root)
        with self.repo.config_writer() as config:
            config.set_value("user", "name", "Ada").set_value("user", "email", "ada@example.com")

    def promote(self, version: int, message: str, author: str = "Ada") -> str:
        text = (
            "apiVersion: registry-ops/v1\nkind: ModelManifest\n"
            f"model: {json.dumps(self.model)}\naliases: {{champion: {version}}}\n"
            f"stages: {{Production: {version}}}\n"
        )
        (self.root / "manifests" / self.name).write_text(text)
        self.repo.index.add([f"manifests/{self.name}"])
        actor = git.Actor(author, f"{author.lower()}@example.com")
        return self.repo.index.commit(message, author=actor, committer=actor).hexsha


def at(cli, backend, root: Path, model: str, when: datetime | str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    text = when if isinstance(when, str) else when.isoformat()
    result = cli(*backend.args(root, "history", model, "--at", text, "--format", "json"))
    assert result.code == 0, result.err
    targets: dict[str, Any] = json.loads(result.out)["at"]["targets"]
    return targets


def holders(answer: dict[str, Any], target: str) -> dict[int, str]:
    return {h["version"]: h["source"] for h in answer[target]["holders"]}


def test_history_at_through_promotions_drift_and_a_rollback(  # type: ignore[no-untyped-def]
    cli, backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("GITHUB_ACTOR", "ada-ci")
    clf = backend.name("clf")
    for _ in range(4):
        backend.seeder.version(clf, val_accuracy=0.9)
    repo = Repo(tmp_path / "repo", clf)
    apply = backend.args(repo.root, "apply", "--yes")
    marks: dict[str, datetime] = {}
    shas: dict[str, str] = {}

    shas["v1"] = repo.promote(1, "first champion")
    assert cli(*apply).code == 0
    marks["v1"] = datetime.now(UTC)
    shas["v2"] = repo.promote(2, "promote v2", author="Bob")
    assert cli(*apply).code == 0
    marks["v2"] = datetime.now(UTC)
    backend.client.set_registered_model_alias(clf, "champion", "4")  # someone, by hand
    marks["drift"] = datetime.now(UTC)
    shas["v3"] = repo.promote(3, "promote v3")
    assert cli(*apply).code == 0  # also reverts the drift
    marks["v3"] = datetime.now(UTC)
    shas["back"] = repo.promote(2, "roll back to v2: v3 regressed")
    assert cli(*apply).code == 0
    marks["back"] = datetime.now(UTC)

    first = at(cli, backend, repo.root, clf, marks["v1"])
    assert holders(first, "alias:champion") == {1: "apply"}
    entry = first["alias:champion"]["holders"][0]
    assert entry["commit_info"]["commit"] == shas["v1"] and entry["apply"]["actor"] == "ada-ci"
    assert entry["commit_info"]["message"] == "first champion"

    # Nobody recorded when v4 was set by hand: from apply 2 until apply 3 found it,
    # the answer is v2 per the apply, and v4 as drift that may already have held it.
    second = at(cli, backend, repo.root, clf, marks["v2"])
    assert holders(second, "alias:champion") == {2: "apply", 4: "drift"}
    assert second["alias:champion"]["holders"][0]["version"] == 2
    assert holders(second, "stage:Production") == {2: "apply"}
    assert second["stage:Production"]["holders"][0]["commit_info"]["author"] == "Bob"

    window = at(cli, backend, repo.root, clf, marks["drift"])
    assert holders(window, "alias:champion") == {2: "apply", 4: "drift"}
    drift = next(h for h in window["alias:champion"]["holders"] if h["source"] == "drift")
    assert drift["reverted_by"] and "drift" in drift["note"] and not drift["start_known"]
    assert holders(window, "stage:Production") == {2: "apply"}  # nobody touched the stage

    third = at(cli, backend, repo.root, clf, marks["v3"])
    assert holders(third, "alias:champion") == {3: "apply"}
    assert third["alias:champion"]["holders"][0]["commit_info"]["commit"] == shas["v3"]

    back = at(cli, backend, repo.root, clf, marks["back"])
    assert holders(back, "alias:champion") == {2: "apply"} == holders(back, "stage:Production")
    rolled = back["alias:champion"]["holders"][0]
    assert rolled["commit_info"]["message"] == "roll back to v2: v3 regressed"
    assert back["alias:champion"]["desired"] == 2

    # Before anything was applied, nothing held a target.
    before = at(cli, backend, repo.root, clf, marks["v1"] - timedelta(days=1))
    assert all(not data["holders"] for data in before.values())

    # The whole history: what moved in git, the reverted drift, the rollback.
    full = cli(*backend.args(repo.root, "history", clf, "--format", "json"))
    data = json.loads(full.out)
    moves = [[m["target"], m["from"], m["to"], m["rollback"]] for d in data["desired"]
             for m in d["moves"] if m["target"] == "alias:champion"]  # fmt: skip
    assert moves == [
        ["alias:champion", 3, 2, True],
        ["alias:champion", 2, 3, False],
        ["alias:champion", 1, 2, False],
        ["alias:champion", None, 1, False],
    ]
    assert [d["source"] for d in data["drift"]] == ["drift"]
    assert data["drift"][0]["version"] == 4 and data["drift"][0]["reverted_by"]
    reasons = [c["reason"] for r in data["applies"] for c in r["changes"]
               if c["target"] == "alias:champion"]  # fmt: skip
    assert reasons == ["manifest", "drift", "manifest", "manifest"]

    text = cli(*backend.args(repo.root, "history", clf))
    assert text.code == 0
    assert "champion: v3 -> v2 (rollback)" in text.out
    assert "DRIFT" in text.out and "reverted by run" in text.out


@only(SQLITE)
def test_drift_still_in_the_registry_and_the_markdown_gantt(  # type: ignore[no-untyped-def]
    cli, backend, tmp_path: Path
):
    weird = backend.name("x|`y` <b>#1;%%\u00e9")  # MLflow refuses only '/' and ':'
    for _ in range(2):
        backend.seeder.version(weird, val_accuracy=0.9)
    repo = Repo(tmp_path / "repo", weird)
    repo.promote(1, "first | <script>alert(1)</script>")
    assert cli(*backend.args(repo.root, "apply", "--yes")).code == 0
    backend.client.set_registered_model_alias(weird, "champion", "2")

    now = at(cli, backend, repo.root, weird, "now")
    assert holders(now, "alias:champion") == {2: "drift"}
    assert now["alias:champion"]["desired"] == 1

    result = cli(*backend.args(repo.root, "history", weird, "--format", "markdown"))
    assert result.code == 0, result.err
    chart = re.search(r"```mermaid\n(.*?)```", result.out, re.S)
    assert chart is not None
    body = chart.group(1)
    assert body.startswith("gantt\n") and "dateFormat YYYY-MM-DD HH:mm:ss" in body
    assert "section alias champion" in body and "section stage Production" in body
    assert re.search(r"v2 drift :crit, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d, ", body)
    title = next(line for line in body.splitlines() if line.strip().startswith("title"))
    assert mermaid_text(weird) in title
    for raw in ("|", "`", "<", "%%", ";1", "\u00e9"):
        assert raw not in title.replace("#", "").split("of ", 1)[1].replace(
            mermaid_text(weird).replace("#", ""), ""
        )
    assert "`y`" not in body and "<b>" not in body and "%%" not in body
    outside = result.out.replace(chart.group(0), "")
    assert "<script>" not in outside and "&lt;script&gt;" in outside


def test_mermaid_text_escapes_everything_that_could_break_a_line() -> None:
    assert mermaid_text("v1 a-b_c.d") == "v1 a-b_c.d"
    # a line break (or a bidi control) is shown as its escape, whose backslash is an entity
    assert mermaid_text("a:b;c#d%e`f\ng") == "a#58;b#59;c#35;d#37;e#96;f#92;ng"
    assert mermaid_text("x\u202ey") == "x#92;u202ey"


def test_history_of_an_unknown_model_is_an_error(cli, backend, tmp_path: Path):  # type: ignore[no-untyped-def]
    repo = Repo(tmp_path / "repo", "other")
    repo.promote(1, "other model")
    result = cli(*backend.args(repo.root, "history", backend.name("nope")))
    assert result.code == 1 and "nothing known about" in result.err


# ---- git, as plain data ---------------------------------------------------------------


def test_file_history_follows_a_rename_with_each_commits_content(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo", "clf", name="old.yaml")
    first = repo.promote(1, "one")
    repo.promote(2, "two")
    repo.repo.index.move(["manifests/old.yaml", "manifests/clf.yaml"])
    renamed = repo.repo.index.commit("rename").hexsha
    repo.name = "clf.yaml"
    last = repo.promote(3, "three")
    revisions = gitinfo.file_history(repo.root, "manifests/clf.yaml")
    assert [r.message for r in revisions] == ["three", "rename", "two", "one"]
    assert [r.path for r in revisions] == [
        "manifests/clf.yaml", "manifests/clf.yaml", "manifests/old.yaml", "manifests/old.yaml",
    ]  # fmt: skip
    assert revisions[0].commit == last and revisions[-1].commit == first
    assert revisions[1].commit == renamed and revisions[1].content == revisions[2].content
    assert "champion: 3" in (revisions[0].content or "")
    desired = desired_history(revisions, "clf")
    assert [[m.text for m in d.moves] for d in desired] == [
        ["champion: v2 -> v3", "Production: v2 -> v3"],
        [],
        ["champion: v1 -> v2", "Production: v1 -> v2"],
        ["champion: - -> v1", "Production: - -> v1"],
    ]


def test_parse_time() -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert parse_time("2026-11-20", now) == datetime(2026, 11, 20, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_time("2026-11-20T10:00", now) == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert parse_time("2026-11-20T10:00+01:00", now) == datetime(2026, 11, 20, 9, tzinfo=UTC)
    assert parse_time("2 days ago", now) == now - timedelta(days=2)
    assert parse_time("an hour ago", now) == now - timedelta(hours=1)
    with pytest.raises(ValueError, match="not a time"):
        parse_time("last tuesday", now)
