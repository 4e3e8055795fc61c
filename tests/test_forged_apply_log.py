"""The apply log counts only runs an apply wrote; runs anyone else adds are shown, not used.

Real MLflow (a sqlite store and a real server), real git, the real CLI; the
forged runs are created with a plain MlflowClient in the experiment
``registry-ops/applies``, as any MLflow user can.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from registry_ops.core.records import KEY_ENV, RecordKey, Trust
from registry_ops.pipeline import audit
from registry_ops.pipeline.logrecord import TAG_MAC, TAG_REPORT, report_digest, run_trust
from tests.support.backends import HTTP_SQLITE, SQLITE, only
from tests.support.forgery import KEY, TeamRepo, add_run, now
from tests.test_audit import artifact, runs_of


def history(cli, args: list[str], model: str, fmt: str = "json") -> Any:  # type: ignore[no-untyped-def]
    result = cli(*args, "history", model, "--format", fmt)
    assert result.code == 0, result.err
    return json.loads(result.out) if fmt == "json" else result.out


def who_held(data: dict[str, Any]) -> list[tuple[str, int, str, str | None]]:
    return [(i["target"], i["version"], i["source"], i["run_id"]) for i in data["timeline"]]


@only(SQLITE, HTTP_SQLITE)
def test_forged_and_replayed_runs_are_unverified_and_change_nothing(  # type: ignore[no-untyped-def]
    cli, backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(KEY_ENV, KEY)
    clf = backend.name("clf")
    for _ in range(2):
        backend.seeder.version(clf, acc=0.9)
    repo = TeamRepo(tmp_path / "repo")
    repo.manifest(clf, "aliases: {champion: 1}\n")
    repo.commit("v1 is champion")
    args = backend.args(repo.root)
    assert cli(*args, "apply", "--yes").code == 0
    (genuine,) = runs_of(backend.uri, clf)
    tags, params = dict(genuine.data.tags), dict(genuine.data.params)
    assert run_trust(RecordKey.from_env(), genuine.info.run_id, tags, params) is Trust.VERIFIED
    report = artifact(backend.uri, genuine.info.run_id, "report.json", tmp_path)
    text = json.dumps(report, indent=2, sort_keys=True) + "\n"
    assert tags[TAG_REPORT] == report_digest(text)  # sha256sum of the artifact

    backend.client.set_registered_model_alias(clf, "champion", "2")  # out of band
    before = history(cli, args, clf)
    assert [(d["version"], d["source"]) for d in before["drift"]] == [(2, "drift")]

    # A run that says an apply by ci-bot of some commit gave v2 champion just now ...
    summary = {"status": "applied", "other": 0, "changes": [
        {"action": "set_alias", "target": "alias:champion", "from": 1, "to": 2,
         "reason": "manifest", "landed": True}]}  # fmt: skip
    claims = {
        **tags,
        audit.TAG_ACTOR: "ci-bot",
        audit.TAG_COMMIT: "f" * 40,
        audit.TAG_APPLIED_AT: now(),
        audit.model_tag(clf): json.dumps(summary),
    }
    forged = add_run(backend.client, claims, params)
    # ... and the genuine run's tags and params copied onto a new run (its MAC too).
    replayed = add_run(backend.client, tags, params)

    after = history(cli, args, clf)
    assert after["applies"] == before["applies"]
    assert who_held(after) == who_held(before) and after["drift"] == before["drift"]
    assert [(u["kind"], u["run_id"]) for u in after["unverified"]] == [
        ("apply-log run", forged),
        ("apply-log run", replayed),
    ]
    assert after["unverified"][0]["claims"]["actor"] == "ci-bot"
    text_out = history(cli, args, clf, "text")
    assert f"unverified apply-log run {forged} (no valid MAC): claims by ci-bot" in text_out
    assert "Drift: 1" in text_out
    markdown = history(cli, args, clf, "markdown")
    assert "Unverified records" in markdown and f"unverified apply-log run {replayed}" in markdown

    # Without a key every run counts, as before, and history says so once.
    monkeypatch.delenv(KEY_ENV)
    unkeyed = history(cli, args, clf)
    assert {r["run_id"] for r in unkeyed["applies"]} >= {forged, replayed}
    assert unkeyed["unverified"] == [] and unkeyed["drift"] == []
    notes = [n for n in unkeyed["notes"] if "unauthenticated" in n]
    assert len(notes) == 1 and "REGISTRY_OPS_PLAN_KEY is not set" in notes[0]


@only(SQLITE)
@pytest.mark.parametrize("keyed", [True, False], ids=["key", "no-key"])
def test_malformed_runs_are_skipped_not_a_crash(  # type: ignore[no-untyped-def]
    cli, backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keyed: bool
):
    if keyed:
        monkeypatch.setenv(KEY_ENV, KEY)
    clf = backend.name("clf")
    backend.seeder.version(clf, acc=0.9)
    repo = TeamRepo(tmp_path / "repo")
    repo.manifest(clf, "aliases: {champion: 1}\n")
    repo.commit("v1")
    args = backend.args(repo.root)
    assert cli(*args, "apply", "--yes").code == 0
    (genuine,) = runs_of(backend.uri, clf)
    key = audit.model_tag(clf)
    bad = [
        {key: "{not json"},
        {key: "[1, 2]"},
        {key: "[" * 5000},  # exhausts the JSON parser's recursion
        {key: json.dumps({"changes": "all of them"})},
        {key: json.dumps({"changes": [{"action": "set_alias", "target": 5, "to": 2}]})},
        {key: json.dumps({"changes": [{"action": "set_alias", "target": "alias:x", "to": "v2"}]})},
        {key: json.dumps({"changes": [], "other": "many"})},
        {key: json.dumps({"changes": []}), audit.TAG_APPLIED_AT: "yesterday"},
        {key: json.dumps({"changes": []}), TAG_MAC: "hmac-sha256:" + "0" * 64},
    ]
    ids = [add_run(backend.client, tags) for tags in bad]
    for fmt in ("json", "text", "markdown"):
        result = cli(*args, "history", clf, "--format", fmt)
        assert result.code == 0, (fmt, result.err)
    data = history(cli, args, clf)
    counted = {r["run_id"] for r in data["applies"]}
    assert [i["source"] for i in data["timeline"]] == ["apply"]
    if keyed:  # none of them carries a valid MAC: listed as unverified, never parsed
        assert counted == {genuine.info.run_id}
        assert [u["run_id"] for u in data["unverified"]] == ids
    else:  # all read as written: the last one is well-formed (its MAC field is moot)
        assert counted == {genuine.info.run_id, ids[-1]}
        skipped = [n for n in data["notes"] if n.startswith("skipped apply-log run")]
        assert [n.split()[3].rstrip(":") for n in skipped] == ids[:-1]
        assert all(n.endswith("(unreadable; not counted)") for n in skipped)
