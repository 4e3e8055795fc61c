"""One writer at a time: the per-model lease, force-unlock, and racing applies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from registry_ops.pipeline.lease import LEASE_TAG, UNLOCK_TAG, Lease
from tests.conftest import Workspace
from tests.support.backends import SQLITE, only


def foreign_lease(expires_in: float = 600, host: str = "ci-runner-7") -> str:
    now = datetime.now(UTC)
    lease = Lease(
        token="t" * 32,
        holder="grace",
        host=host,
        pid=4242,
        since=now.isoformat(timespec="seconds"),
        expires=(now + timedelta(seconds=expires_in)).isoformat(timespec="seconds"),
    )
    return lease.to_tag()


@pytest.fixture
def leased(backend, workspace):  # type: ignore[no-untyped-def]
    clf = backend.name("clf")
    backend.seeder.version(clf, val_accuracy=0.9)
    workspace.manifest(clf, "aliases: {champion: 1}\n")
    return clf


def test_a_live_lease_refuses_the_apply_and_names_its_holder(cli, backend, workspace, leased):  # type: ignore[no-untyped-def]
    theirs = foreign_lease()
    backend.client.set_registered_model_tag(leased, LEASE_TAG, theirs)
    result = cli(*backend.args(workspace.root, "apply", "--yes"))
    assert result.code == 1
    assert "another apply holds the lease" in result.err
    assert "grace on ci-runner-7 (pid 4242) since 20" in result.err
    assert "force-unlock" in result.err
    assert backend.aliases(leased) == {}
    # the other apply's lease is left alone
    assert backend.client.get_registered_model(leased).tags[LEASE_TAG] == theirs


def test_an_expired_lease_is_taken_over(cli, backend, workspace, leased):  # type: ignore[no-untyped-def]
    backend.client.set_registered_model_tag(leased, LEASE_TAG, foreign_lease(expires_in=-1))
    result = cli(*backend.args(workspace.root, "apply", "--yes"))
    assert result.code == 0, result.err
    assert backend.aliases(leased) == {"champion": 1}
    after = backend.client.get_registered_model(leased).tags.get(LEASE_TAG)
    assert Lease.from_tag(after) is None and '"released":true' in after


@only(SQLITE)
def test_a_lease_of_a_dead_process_on_this_host_is_expired(cli, backend, workspace, leased):  # type: ignore[no-untyped-def]
    from registry_ops.core.provenance import host

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    tag = json.loads(foreign_lease(host=host()))
    tag["pid"] = int(dead.stdout)
    backend.client.set_registered_model_tag(leased, LEASE_TAG, json.dumps(tag))
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0


def test_force_unlock_releases_and_leaves_a_trace(cli, backend, workspace, leased):  # type: ignore[no-untyped-def]
    backend.client.set_registered_model_tag(leased, LEASE_TAG, foreign_lease())
    result = cli(*backend.args(workspace.root, "force-unlock", leased, "--yes"))
    assert result.code == 0, result.err
    assert "Released the lease" in result.out and "grace on ci-runner-7" in result.out
    tags = backend.client.get_registered_model(leased).tags
    assert LEASE_TAG not in tags
    trace = json.loads(tags[UNLOCK_TAG])
    assert trace["lease"]["holder"] == "grace" and trace["by"]
    again = cli(*backend.args(workspace.root, "force-unlock", leased))
    assert again.code == 0 and "no apply lease" in again.out
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    missing = cli(*backend.args(workspace.root, "force-unlock", backend.name("ghost")))
    assert missing.code == 1 and "does not exist" in missing.err


def test_force_unlock_off_a_terminal_needs_yes_and_names_the_holder(
    cli, backend, workspace, leased
):  # type: ignore[no-untyped-def]
    theirs = foreign_lease()
    backend.client.set_registered_model_tag(leased, LEASE_TAG, theirs)
    refused = cli(*backend.args(workspace.root, "force-unlock", leased))  # stdin: no terminal
    assert refused.code == 1, refused.out + refused.err
    assert "without confirmation: stdin is not a terminal (pass --yes)" in refused.err
    assert "grace on ci-runner-7 (pid 4242)" in refused.err
    assert backend.client.get_registered_model(leased).tags[LEASE_TAG] == theirs
    done = cli(*backend.args(workspace.root, "force-unlock", leased, "--yes"))
    assert done.code == 0 and "held by grace on ci-runner-7" in done.out


def test_an_unreadable_lease_counts_as_held(cli, backend, workspace, leased):  # type: ignore[no-untyped-def]
    backend.client.set_registered_model_tag(leased, LEASE_TAG, "{not json")
    result = cli(*backend.args(workspace.root, "apply", "--yes"))
    assert result.code == 1 and "unreadable lease tag" in result.err


# --- racing applies ----------------------------------------------------------------


def _manifest(model: str, version: int) -> str:
    return f"aliases: {{champion: {version}}}\nstages: {{Production: {version}}}\n"


def _state(backend, model: str) -> tuple[object, ...]:  # type: ignore[no-untyped-def]
    versions = backend.client.search_model_versions(f"name = '{model}'")
    production = sorted(int(v.version) for v in versions if v.current_stage == "Production")
    return backend.aliases(model).get("champion"), tuple(production)


# The target is 20 pairs on every backend (REGISTRY_OPS_RACE_PAIRS=20 runs
# that); by default the servers run fewer to keep the suite's time reasonable.
PAIRS = {"sqlite": 8, "http-sqlite": 4, "http-postgres": 4}


def test_racing_applies_end_in_one_manifest_never_empty(cli, backend, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Pairs of real `registry-ops apply` processes race on one model. Each pair must
    overlap and end exactly one way: one apply wins (exit 0) and its manifest is what
    the registry holds, Production and champion both; the other saw the winner's live
    lease (exit 1, naming the winner's pid); no raw database error is shown."""
    pairs = int(os.environ.get("REGISTRY_OPS_RACE_PAIRS", PAIRS[backend.id]))
    # Both processes start together; a settle delay above the shipped 1 s keeps their
    # lease windows overlapping on a loaded machine, so that the race is real: two
    # applies that ran one after the other would fail the exact outcome below.
    env = {**os.environ, "REGISTRY_OPS_LEASE_SETTLE": "2.5"}
    outcomes: list[str] = []
    problems: list[str] = []
    for i in range(pairs):
        model = backend.name(f"race{i}")
        for _ in range(3):
            backend.seeder.version(model, val_accuracy=0.9)
        roots = []
        for side, version in (("a", 2), ("b", 3)):
            ws = Workspace(tmp_path / f"{i}{side}")
            ws.manifest(model, _manifest(model, version))
            roots.append(ws.root)
        start = Workspace(tmp_path / f"{i}start")
        start.manifest(model, _manifest(model, 1))
        assert cli(*backend.args(start.root, "apply", "--yes")).code == 0
        base = [sys.executable, "-m", "registry_ops", "--tracking-uri", backend.uri]
        procs = [
            subprocess.Popen([*base, "-C", str(root), "apply", "--yes"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for root in roots
        ]  # fmt: skip
        results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
        state = _state(backend, model)
        codes = [code for code, _, _ in results]
        outcomes.append(f"{sorted(codes)} -> {state}")
        for _, out, err in results:
            text = out + err
            if "Traceback" in text or "IntegrityError" in text or "sqlite3" in text:
                problems.append(f"pair {i}: raw error shown: {text[-500:]}")
        if sorted(codes) != [0, 1]:
            problems.append(f"pair {i}: exit codes {codes}, not one winner and one loser")
            continue
        winner, loser = codes.index(0), codes.index(1)
        version = (2, 3)[winner]
        if state != (version, (version,)):
            problems.append(f"pair {i}: the winner wanted v{version}, the registry holds {state}")
        told = results[loser][2]
        if not ("holds the lease" in told or "lost the lease" in told):
            problems.append(f"pair {i}: loser not told about the lease: {told[-300:]}")
        if f"(pid {procs[winner].pid})" not in told:
            problems.append(f"pair {i}: loser did not see the winner's lease: {told[-300:]}")
        left = Lease.from_tag(backend.client.get_registered_model(model).tags.get(LEASE_TAG))
        if left is not None:
            problems.append(f"pair {i}: a live lease was left behind: {left}")
    assert not problems, "\n".join(problems + outcomes)
    tally = {o: outcomes.count(o) for o in sorted(set(outcomes))}
    print(f"\n{backend.id}: {pairs} racing pairs, exit codes -> end state: {tally}")
