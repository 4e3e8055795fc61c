"""Records any registry writer can forge decide nothing (with REGISTRY_OPS_PLAN_KEY set).

Real MLflow (a sqlite store; the alert case also over a real server), real git,
the real CLI. The attacker writes with a plain MlflowClient
(tests/support/forgery.py). Each case compares what ``plan`` decides (its
``--detailed-exitcode`` and the JSON plan) with and without the forged record,
and shows that without a key the records are used as before.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from registry_ops.core.authentic import PROVENANCE_KIND
from registry_ops.core.provenance import PROVENANCE_TAG
from registry_ops.core.records import KEY_ENV, RecordKey, Trust
from registry_ops.pipeline.lease import LEASE_TAG
from tests.support.backends import HTTP_SQLITE, SQLITE, only
from tests.support.faults import run_with_fault
from tests.support.forgery import (
    KEY,
    TeamRepo,
    decisions,
    forge_lease_record,
    forge_provenance,
)
from tests.support.seed import Seeder


def provenance(client: MlflowClient, model: str, version: int) -> dict[str, object]:
    return json.loads(client.get_model_version(model, str(version)).tags[PROVENANCE_TAG])  # type: ignore[no-any-return]


@only(SQLITE, HTTP_SQLITE)
def test_forged_provenance_and_lease_records_do_not_hide_an_alert(  # type: ignore[no-untyped-def]
    cli, backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(KEY_ENV, KEY)
    clf = backend.name("clf")
    for _ in range(3):
        backend.seeder.version(clf, acc=0.9)
    repo = TeamRepo(tmp_path / "repo")
    repo.manifest(clf, "aliases: {champion: 2}\nprotect: [champion]\n")
    repo.commit("v2 is champion")
    args = backend.args(repo.root)
    assert cli(*args, "apply", "--yes").code == 0
    client = backend.client
    genuine = client.get_model_version(clf, "2").tags[PROVENANCE_TAG]
    assert (
        RecordKey.from_env().check(PROVENANCE_KIND, clf, 2, json.loads(genuine)) is Trust.VERIFIED
    )

    client.set_registered_model_alias(clf, "champion", "3")  # out of band
    alert = decisions(cli, args)
    assert alert[0] == 5 and alert[1][0]["changes"][0]["alert"] is True

    # The attacker's version says an apply put it there after v2, and the lease record
    # says the last apply was of a commit the manifest changed after: no alert, on main.
    forge_provenance(client, clf, 3, "alias:champion")
    forge_lease_record(client, clf, "f" * 40)
    assert decisions(cli, args) == alert
    # v2's genuine record, copied onto v3, is bound to v2: it says nothing of v3.
    client.set_model_version_tag(clf, "3", PROVENANCE_TAG, genuine)
    assert decisions(cli, args) == alert

    history = cli(*args, "history", clf)
    assert history.code == 0, history.err
    assert "unverified provenance record on v3 (no valid MAC)" in history.out
    assert "Drift: 1" in history.out and "records are unauthenticated" not in history.out
    data = json.loads(cli(*args, "history", clf, "--format", "json").out)
    assert [(d["version"], d["source"]) for d in data["drift"]] == [(3, "drift")]
    assert [u["version"] for u in data["unverified"]] == [3]

    # Without a key the records are used as written, as before: the forged one hides
    # the move (an ordinary change), and history says once that nothing is authenticated.
    monkeypatch.delenv(KEY_ENV)
    forge_provenance(client, clf, 3, "alias:champion")
    assert decisions(cli, args)[0] == 2
    unkeyed = cli(*args, "history", clf)
    assert unkeyed.out.count("records are unauthenticated") == 1
    assert "unverified" not in unkeyed.out and "Drift: none" in unkeyed.out

    monkeypatch.setenv(KEY_ENV, KEY)  # apply reverts the move and re-stamps v2
    assert cli(*args, "apply", "--yes").code == 0
    assert backend.aliases(clf) == {"champion": 2}
    assert cli(*args, "plan", "--detailed-exitcode").code == 0


@only(SQLITE)
def test_a_forged_or_copied_lease_record_raises_no_false_alert(  # type: ignore[no-untyped-def]
    cli, backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(KEY_ENV, KEY)
    a, b = backend.name("a"), backend.name("b")
    for model in (a, b):
        for _ in range(2):
            backend.seeder.version(model, acc=0.9)
    repo = TeamRepo(tmp_path / "repo")
    repo.manifest(a, "aliases: {champion: 1}\nprotect: [champion]\n", name="a")
    repo.manifest(b, "aliases: {champion: 1}\n", name="b")
    repo.commit("v1 everywhere")
    args = backend.args(repo.root)
    assert cli(*args, "apply", "--yes").code == 0
    repo.manifest(a, "aliases: {champion: 2}\nprotect: [champion]\n", name="a")
    repo.manifest(b, "aliases: {champion: 2}\n", name="b")
    head = repo.commit("promote v2")
    assert cli(*args, "apply", "--yes", b).code == 0  # b's record: applied at HEAD

    promotion = decisions(cli, [*args])
    assert promotion[0] == 2 and promotion[1][0]["changes"][0]["reason"] == "manifest"
    # "The last apply was HEAD": the manifest looks unchanged since, so the promotion
    # would read as a revert of an out-of-band move of a protected target.
    forge_lease_record(backend.client, a, head)
    assert decisions(cli, args) == promotion
    copied = backend.client.get_registered_model(b).tags[LEASE_TAG]
    backend.client.set_registered_model_tag(a, LEASE_TAG, copied)  # genuine, for b
    assert decisions(cli, args) == promotion

    monkeypatch.delenv(KEY_ENV)  # without a key the copied record decides, as before
    assert decisions(cli, args)[0] == 5


@only(SQLITE)
def test_a_holder_no_record_vouches_for_passes_its_gates(  # type: ignore[no-untyped-def]
    cli, backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(KEY_ENV, KEY)
    clf = backend.name("clf")
    backend.seeder.version(clf, acc=0.95)
    backend.seeder.version(clf, acc=0.5)  # fails the gate
    repo = TeamRepo(tmp_path / "repo")
    repo.policy("prod", "  - metric: acc\n    min: 0.9\n")
    repo.manifest(clf, "aliases: {champion: 1}\ngates: {champion: prod}\n")
    repo.commit("v1 is champion")
    args = backend.args(repo.root)
    assert cli(*args, "apply", "--yes").code == 0

    # v2 is put on champion by hand, and a pull request names the holder: the plan
    # is a stamp-only change, and nobody ever gated v2.
    backend.client.set_registered_model_alias(clf, "champion", "2")
    repo.manifest(clf, "aliases: {champion: 2}\ngates: {champion: prod}\n")
    repo.commit("champion is v2")
    blocked = decisions(cli, args)
    change = blocked[1][0]["changes"][0]
    assert blocked[0] == 3 and change["reason"] == "provenance" and change["blocked"]
    assert change["gates"][0]["passed"] is False and change["gates"][0]["observed"] == 0.5
    forge_provenance(backend.client, clf, 2, "alias:champion")
    assert decisions(cli, args) == blocked  # "an apply put it there" decides nothing
    assert cli(*args, "apply", "--yes").code == 3
    assert provenance(backend.client, clf, 2)["applied_by"] == "ci-bot"  # nothing stamped

    monkeypatch.delenv(KEY_ENV)  # without a key the forged record blesses v2, as before
    assert decisions(cli, args)[0] == 0


@only(SQLITE)
def test_forged_held_entries_do_not_satisfy_requires_previous(  # type: ignore[no-untyped-def]
    cli, backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(KEY_ENV, KEY)
    clf = backend.name("clf")
    for _ in range(2):
        backend.seeder.version(clf, acc=0.9)
    repo = TeamRepo(tmp_path / "repo")
    repo.policy("ordered", "  - requires_previous: challenger\n")
    repo.manifest(clf, "aliases: {champion: 2}\ngates: {champion: ordered}\n")
    repo.commit("v2 straight to champion")
    args = backend.args(repo.root)
    refused = decisions(cli, args)
    assert refused[0] == 3
    forge_provenance(backend.client, clf, 2, "alias:challenger")
    assert decisions(cli, args) == refused
    monkeypatch.delenv(KEY_ENV)
    assert decisions(cli, args)[0] == 2  # as before: the record says v2 was challenger


@only(SQLITE)
def test_a_crash_before_the_stamp_converges_through_the_gates(  # type: ignore[no-untyped-def]
    cli, backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_template: Path
):
    monkeypatch.setenv(KEY_ENV, KEY)
    db = tmp_path / "template.db"
    shutil.copy(sqlite_template, db)
    seeder = Seeder(f"sqlite:///{db}", (tmp_path / "artifacts").as_uri())
    seeder.version("clf", acc=0.9)
    seeder.version("clf", acc=0.95)
    repo = TeamRepo(tmp_path / "repo")
    repo.policy(
        "prod",
        "  - metric: acc\n    min: 0.9\n"
        "  - metric: acc\n    baseline: current\n    min_absolute_change: 0.01\n",
    )
    repo.manifest("clf", "aliases: {champion: 1}\ngates: {champion: prod}\n")
    repo.commit("v1")
    assert cli("--tracking-uri", f"sqlite:///{db}", "-C", str(repo.root), "apply", "-y").code == 0
    repo.manifest("clf", "aliases: {champion: 2}\ngates: {champion: prod}\n")
    repo.commit("v2 beats v1")

    case = tmp_path / "case.db"  # a registry this process never opened, for the fork
    shutil.copy(db, case)
    args = ["--tracking-uri", f"sqlite:///{case}", "-C", str(repo.root)]
    # writes: the lease, the alias, v2's stamp, the release; die before the stamp
    assert run_with_fault([*args, "apply", "-y"], 3, "kill-before", str(tmp_path / "log")) == -9
    assert MlflowClient(f"sqlite:///{case}").get_registered_model("clf").aliases == {"champion": 2}

    stamp = json.loads(cli(*args, "plan", "--format", "json").out)["models"][0]["changes"]
    assert [(c["reason"], c["version"], c["blocked"]) for c in stamp] == [("provenance", 2, False)]
    relative = stamp[0]["gates"][1]
    assert relative["passed"] and relative["holder"] == 0.9  # v1, which the promotion displaced
    assert cli(*args, "apply", "-y").code == 0
    assert cli(*args, "plan", "--detailed-exitcode").code == 0
    record = provenance(MlflowClient(f"sqlite:///{case}"), "clf", 2)
    assert record["recovered"] is True
    assert RecordKey.from_env().check(PROVENANCE_KIND, "clf", 2, record) is Trust.VERIFIED
