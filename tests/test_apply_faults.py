"""A bad day mid-apply: the process killed at every write point, a dropped connection.

Each case prepares the same registry (two models; each moves champion and
Production from v1 to v2 and archives v1), runs ``apply --yes`` in a child that
is killed at write N (before or after it lands), then checks what the issue
asks: no target was left empty, a plain re-run converges, and every managed
target's holder carries complete provenance.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import git
import pytest
from mlflow.tracking import MlflowClient

from registry_ops.core.provenance import PROVENANCE_TAG
from registry_ops.pipeline.lease import LEASE_TAG, Lease
from tests.support.backends import HTTP_POSTGRES, HTTP_SQLITE, SQLITE, only
from tests.support.faults import count_writes, run_with_fault

TARGETS = (("alias", "champion"), ("stage", "Production"))


def manifest(model: str, version: int) -> str:
    return (
        "apiVersion: registry-ops/v1\nkind: ModelManifest\n"
        f"model: {model}\naliases: {{champion: {version}}}\n"
        f"stages: {{Production: {version}}}\n"
    )


def commit_manifests(root: Path, models: list[str], version: int) -> str:
    (root / "manifests").mkdir(parents=True, exist_ok=True)
    (root / "policies").mkdir(exist_ok=True)
    for i, model in enumerate(models):
        (root / "manifests" / f"m{i}.yaml").write_text(manifest(model, version))
    repo = git.Repo.init(root) if not (root / ".git").exists() else git.Repo(root)
    with repo.config_writer() as config:
        config.set_value("user", "name", "Ada").set_value("user", "email", "ada@example.com")
    repo.index.add([f"manifests/m{i}.yaml" for i in range(len(models))])
    return repo.index.commit(f"promote to v{version}").hexsha


def prepare(cli, uri: str, root: Path, models: list[str], artifact_root: str) -> str:  # type: ignore[no-untyped-def]
    """Two versions per model, v1 applied as champion and Production, manifests at v2."""
    from tests.support.seed import Seeder

    seeder = Seeder(uri, artifact_root)
    for model in models:
        seeder.version(model, val_accuracy=0.8)
        seeder.version(model, val_accuracy=0.9)
    commit_manifests(root, models, 1)
    assert cli("--tracking-uri", uri, "-C", str(root), "apply", "--yes").code == 0
    return commit_manifests(root, models, 2)


def check_case(uri: str, models: list[str], commit: str) -> list[str]:
    """Problems with the registry after a completed re-run ([] when all is well)."""
    client = MlflowClient(uri)
    problems = []
    for model in models:
        rm = client.get_registered_model(model)
        holders = {"alias:champion": [int(rm.aliases.get("champion", 0))]}
        versions = client.search_model_versions(f"name = '{model}'")
        holders["stage:Production"] = [
            int(v.version) for v in versions if v.current_stage == "Production"
        ]
        for target, numbers in holders.items():
            if numbers != [2]:
                problems.append(f"{model} {target} held by {numbers}, wanted [2]")
                continue
            tags = client.get_model_version(model, "2").tags
            record = json.loads(tags.get(PROVENANCE_TAG, "{}"))
            held = record.get("held", {})
            if target not in held:
                problems.append(f"{model} v2 has no provenance for {target}: {record}")
            if record.get("commit") != commit or not record.get("applied_by"):
                problems.append(f"{model} v2 provenance incomplete: {record}")
            if record.get("manifest", "").startswith("manifests/") is False:
                problems.append(f"{model} v2 provenance names no manifest: {record}")
        # A converged model needs no re-run writes, so a killed apply's lease may
        # stay behind; it must not block anyone (its holder process is gone).
        lease = Lease.from_tag(rm.tags.get(LEASE_TAG))
        if lease is not None and not lease.expired():
            problems.append(f"{model} carries a live lease after the re-run: {lease}")
    return problems


def never_empty(uri: str, models: list[str]) -> list[str]:
    """Targets left empty by the killed apply (each was held before it started)."""
    client = MlflowClient(uri)
    empty = []
    for model in models:
        if "champion" not in client.get_registered_model(model).aliases:
            empty.append(f"{model} alias:champion")
        versions = client.search_model_versions(f"name = '{model}'")
        if not any(v.current_stage == "Production" for v in versions):
            empty.append(f"{model} stage:Production")
    return empty


@pytest.fixture
def template(tmp_path: Path, cli, sqlite_template: Path) -> Iterator[tuple[Path, Path, str]]:  # type: ignore[no-untyped-def]
    """A prepared sqlite registry and repository, copied per case."""
    db = tmp_path / "template.db"
    shutil.copy(sqlite_template, db)
    root = tmp_path / "repo"
    commit = prepare(cli, f"sqlite:///{db}", root, ["fa", "fb"], (tmp_path / "art").as_uri())
    yield db, root, commit


@only(SQLITE)
def test_kill_at_every_write_point_then_rerun_converges(  # type: ignore[no-untyped-def]
    cli, backend, template, tmp_path: Path
):
    db, root, commit = template
    models = ["fa", "fb"]

    def fresh(case: str) -> str:
        path = tmp_path / f"{case}.db"
        shutil.copy(db, path)
        return f"sqlite:///{path}"

    probe = fresh("probe")
    writes = count_writes(lambda: cli("--tracking-uri", probe, "-C", str(root), "apply", "-y"))
    assert writes == 12  # 2 leases, 6 changes, 2 stamps (the new holders), 2 releases
    matrix: dict[str, str] = {}
    for mode in ("kill-before", "kill-after"):
        for at in range(1, writes + 1):
            uri = fresh(f"{mode}-{at}")
            log = str(tmp_path / f"{mode}-{at}.log")
            status = run_with_fault(
                ["--tracking-uri", uri, "-C", str(root), "apply", "--yes"], at, mode, log
            )
            problems = [] if status == -9 else [f"child was not killed (exit {status})"]
            problems += never_empty(uri, models)
            rerun = cli("--tracking-uri", uri, "-C", str(root), "apply", "--yes")
            if rerun.code != 0:
                problems.append(f"re-run exit {rerun.code}: {rerun.err.strip()}")
            again = cli("--tracking-uri", uri, "-C", str(root), "plan", "--detailed-exitcode")
            if again.code != 0:
                problems.append(f"not converged: {again.out.strip()}")
            problems += check_case(uri, models, commit)
            matrix[f"{mode}@{at}"] = "; ".join(problems) or "ok"
    failed = {k: v for k, v in matrix.items() if v != "ok"}
    assert not failed, json.dumps(failed, indent=1)
    assert len(matrix) == 2 * writes


@only(HTTP_SQLITE, HTTP_POSTGRES)
def test_kill_at_sampled_write_points_over_http(  # type: ignore[no-untyped-def]
    cli, backend, tmp_path: Path
):
    """The same over a real server, at the first write of each step of the apply."""
    problems: dict[str, list[str]] = {}
    for at in (1, 2, 4, 6, 8, 10, 12):  # of 12 writes: leases, changes, stamps, releases
        models = [backend.name(f"fa{at}"), backend.name(f"fb{at}")]
        root = tmp_path / f"repo{at}"
        commit = prepare(cli, backend.uri, root, models, backend.artifact_root)
        log = str(tmp_path / f"{at}.log")
        argv = ["--tracking-uri", backend.uri, "-C", str(root), "apply", "--yes"]
        status = run_with_fault(argv, at, "kill-after", log)
        found = [] if status == -9 else [f"child was not killed (exit {status})"]
        found += never_empty(backend.uri, models)
        rerun = cli(*argv)
        if rerun.code != 0:
            found.append(f"re-run exit {rerun.code}: {rerun.err.strip()}")
        found += check_case(backend.uri, models, commit)
        if found:
            problems[str(at)] = found
    assert not problems, json.dumps(problems, indent=1)


@only(SQLITE)
def test_dropped_connection_reports_what_landed(cli, backend, template, tmp_path: Path):  # type: ignore[no-untyped-def]
    db, root, commit = template
    path = tmp_path / "drop.db"
    shutil.copy(db, path)
    uri = f"sqlite:///{path}"
    log = tmp_path / "drop.log"
    # write 3 is the first change (after the two leases): it lands, its answer is lost
    status = run_with_fault(
        ["--tracking-uri", uri, "-C", str(root), "apply", "--yes"], 3, "drop-after", str(log)
    )
    out = log.read_text()
    assert status == 1, out
    assert "Traceback" not in out
    assert "cannot reach MLflow" in out and "the connection was dropped" in out
    assert "in flight    fa: alias champion: v1 -> v2 (landed)" in out
    assert "not applied  fa: stage Production" in out
    assert "re-running `registry-ops apply` applies only what is left and converges" in out
    # The lease was released on the way out: the re-run needs no force-unlock.
    assert cli("--tracking-uri", uri, "-C", str(root), "apply", "--yes").code == 0
    assert check_case(uri, ["fa", "fb"], commit) == []
