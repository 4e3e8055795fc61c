"""How many requests and how long does ``registry-ops apply`` take for 100 promotions?

Seeds MODELS registered models with VERSIONS versions each (every version
with its own finished run carrying ``val_accuracy`` and ``val_loss``) behind
a real local ``mlflow server`` (sqlite backend, one worker, 127.0.0.1 only).
In the seeded registry the ``champion`` alias and the ``Production`` stage sit
on version VERSIONS-1 and version VERSIONS is new. The manifests promote
version VERSIONS in PROMOTE models (spread over the name range): alias
moved, new Production holder, old holder archived, i.e. three changes a
model, each promotion gated by a ``production`` policy that reads run metrics.

It then runs the real CLI as a subprocess, twice:

1. ``python -m registry_ops --tracking-uri URI -C ROOT apply --yes``: wall
   time (interpreter start and imports included), peak RSS, and every HTTP
   request the server received, by endpoint, counted from the server's own
   access log (see ``benchmarks/common.py``);
2. the same apply again, which must find nothing to do and write nothing.

The manifests are committed to a git repository, so provenance stamps carry
a real commit as they would in CI.

    python benchmarks/apply_benchmark.py [--models 1000] [--versions 3]
        [--promote 100] [--repeat 1] [--workdir DIR] [--checkout DIR]

``--checkout DIR`` runs the CLI from another copy of the project (say
``git archive COMMIT | tar -x -C DIR``) to measure before and after a change.

Exit status: 0 when every target passes, 1 otherwise.
"""

from __future__ import annotations

import os

# Before anything imports mlflow: no telemetry, only loopback traffic.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

import argparse  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # for benchmarks.common, tests.support, an uninstalled package
    sys.path.insert(0, str(REPO))

from benchmarks.common import (  # noqa: E402
    AccessLog,
    Measured,
    Requests,
    SeedModel,
    bulk_seed,
    descendants_cpu,
    fmt_mib,
    fmt_s,
    run_measured,
    scratch_dir,
    sqlite_uri,
    table,
    verdict,
    verify_seed,
)

EXPERIMENT = "apply-benchmark"
ALIAS, STAGE, POLICY = "champion", "Production", "production"
CHANGES_PER_PROMOTION = 3  # set_alias, new Production holder, archive of the old one

# Targets from the issue.
TARGET_REQUESTS_PER_CHANGE = 4.0
TARGET_WALL_S = 15.0
TARGET_CONVERGED_WRITES = 0


@dataclass(frozen=True)
class Layout:
    """Which models exist, their versions and metrics, and which get promoted."""

    models: int
    versions: int
    promote: int

    def name(self, index: int) -> str:
        """The registered model name of model ``index`` (zero-padded: sorted = index order)."""
        return f"apply-model-{index:0{max(4, len(str(self.models - 1)))}d}"

    def promoted(self) -> frozenset[int]:
        """Models whose manifest promotes the newest version, spread over the name range."""
        step = self.models / self.promote if self.promote else 0
        return frozenset(int(step * k + step / 2) for k in range(self.promote))

    @property
    def changes(self) -> int:
        """Changes the first apply must make."""
        return CHANGES_PER_PROMOTION * self.promote

    def metrics(self, index: int, version: int) -> dict[str, float]:
        """Deterministic metrics that improve with the version (the newest two pass)."""
        jitter = random.Random(index * 100_003 + version).uniform(0, 0.004)
        share = version / self.versions
        return {
            "val_accuracy": round(0.80 + 0.15 * share - jitter, 4),
            "val_loss": round(0.50 - 0.35 * share + jitter, 4),
        }

    def seed_models(self) -> list[SeedModel]:
        """The registry before the apply: holders on VERSIONS-1, older ones archived."""
        holder = self.versions - 1
        return [
            SeedModel(
                name=self.name(i),
                description=f"Apply benchmark model {i}",
                tags={"team": "benchmark"},
                metrics=[self.metrics(i, v) for v in range(1, self.versions + 1)],
                aliases={ALIAS: holder},
                stages={v: (STAGE if v == holder else "Archived") for v in range(1, holder + 1)},
            )
            for i in range(self.models)
        ]


def seed(layout: Layout, target: Path) -> float:
    """Bulk-seed the registry into ``target`` and read it back; returns seconds taken."""
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="registry-ops-seed-", dir=scratch_dir(target.parent)))
    try:
        db = scratch / "registry.db"
        expected = layout.seed_models()
        bulk_seed(db, EXPERIMENT, expected)
        verify_seed(db, expected, samples=sorted({0, layout.models // 2, layout.models - 1}))
        shutil.copyfile(db, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return time.perf_counter() - started


def write_root(layout: Layout, root: Path) -> None:
    """Manifests and the policy under ``root``, committed to a fresh git repository."""
    manifests, policies = root / "manifests", root / "policies"
    for directory in (manifests, policies):
        directory.mkdir(parents=True, exist_ok=True)
    (policies / f"{POLICY}.yaml").write_text(
        "apiVersion: registry-ops/v1\n"
        "kind: GatePolicy\n"
        f"name: {POLICY}\n"
        "gates:\n"
        "  - metric: val_accuracy\n"
        "    min: 0.90\n"
        "  - metric: val_loss\n"
        "    max: 0.35\n",
        encoding="utf-8",
    )
    promoted = layout.promoted()
    for index in range(layout.models):
        name = layout.name(index)
        wanted = layout.versions if index in promoted else layout.versions - 1
        (manifests / f"{name}.yaml").write_text(
            "apiVersion: registry-ops/v1\n"
            "kind: ModelManifest\n"
            f"model: {name}\n"
            f"description: Apply benchmark model {index}\n"
            "tags: {team: benchmark}\n"
            f"aliases:\n  {ALIAS}: {wanted}\n"
            f"stages:\n  {STAGE}: {wanted}\n"
            f"gates:\n  {ALIAS}: {POLICY}\n  {STAGE}: {POLICY}\n",
            encoding="utf-8",
        )
    git = ["git", "-c", "user.name=Benchmark", "-c", "user.email=bench@example.invalid"]
    for cmd in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "promote"]):
        subprocess.run([*git, *cmd], cwd=root, check=True, capture_output=True)


@dataclass
class ApplyRun:
    """One apply as the CLI ran it and the server saw it."""

    proc: Measured
    requests: Requests
    server_cpu: float  # CPU seconds the server spent meanwhile

    @property
    def applied(self) -> int:
        """Changes the CLI says it applied (0 when it found nothing to do)."""
        match = re.search(r"Applied (\d+) change", self.proc.stdout)
        return int(match[1]) if match else 0


def run_apply(uri: str, root: Path, log: AccessLog, checkout: Path) -> ApplyRun:
    """``registry-ops apply --yes`` as a subprocess, bracketed by access-log marks.

    ``python -m`` puts the working directory first on ``sys.path``, so the
    package of ``checkout`` is the one that runs.
    """
    cmd = [sys.executable, "-m", "registry_ops", "--tracking-uri", uri, "-C", str(root),
           "apply", "--yes"]  # fmt: skip
    start = log.mark()
    cpu = descendants_cpu()
    proc = run_measured(cmd, cwd=checkout, env=dict(os.environ)).check("registry-ops apply")
    server_cpu = descendants_cpu() - cpu
    return ApplyRun(proc, log.between(start, log.mark()), server_cpu)


@dataclass
class Round:
    """A first apply on a freshly served copy of the registry, then a converged one."""

    first: ApplyRun
    second: ApplyRun
    server_start: float


def run_round(db: Path, root: Path, workdir: Path, checkout: Path) -> Round:
    """Serve a fresh copy of ``db``, apply, apply again; the server is stopped after."""
    import mlflow

    from tests.support.mlflow_server import mlflow_server

    server_dir = workdir / "server"
    shutil.rmtree(server_dir, ignore_errors=True)
    server_dir.mkdir(parents=True)
    served = server_dir / "server.db"
    shutil.copyfile(db, served)
    started = time.perf_counter()
    with mlflow_server(server_dir, backend_uri=sqlite_uri(served), timeout=120) as uri:
        server_start = time.perf_counter() - started
        # Warm up the server (first-request imports), not measured.
        mlflow.tracking.MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
        log = AccessLog(uri, server_dir / "server.log")
        first = run_apply(uri, root, log, checkout)
        second = run_apply(uri, root, log, checkout)
    return Round(first, second, server_start)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=1000, help="registered models (1000)")
    parser.add_argument("--versions", type=int, default=3, help="versions per model (3)")
    parser.add_argument(
        "--promote", type=int, default=100, help="models the manifests promote (100)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds on fresh copies; the median is judged (1)"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the server log, its database and the manifests here (default: a temp dir)",
    )
    parser.add_argument(
        "--checkout",
        type=Path,
        default=REPO,
        help="run registry-ops from this copy of the project (default: this one)",
    )
    args = parser.parse_args(argv)
    if not (args.checkout / "registry_ops" / "__main__.py").is_file():
        parser.error(f"--checkout {args.checkout}: no registry_ops package there")
    args.checkout = args.checkout.resolve()
    if args.versions < 2:
        parser.error("--versions must be at least 2 (a promotion moves to the newest)")
    if args.models < 1 or args.repeat < 1:
        parser.error("--models and --repeat must be positive")
    if not 1 <= args.promote <= args.models:
        parser.error("--promote must be between 1 and --models")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Seed, serve, apply twice, print; 0 when every target passes."""
    args = parse_args(argv)
    import mlflow

    layout = Layout(args.models, args.versions, args.promote)
    keep = args.workdir is not None
    workdir = (
        args.workdir.resolve() if keep else Path(tempfile.mkdtemp(prefix="registry-ops-apply-"))
    )
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        print(f"Seeding {layout.models:,} models x {layout.versions} versions...", file=sys.stderr)
        db = workdir / "seeded.db"
        db.unlink(missing_ok=True)
        seed_s = seed(layout, db)
        root = workdir / "root"
        shutil.rmtree(root, ignore_errors=True)
        write_root(layout, root)
        rounds = []
        for n in range(args.repeat):
            print(f"Round {n + 1}/{args.repeat}: serve, apply, apply again...", file=sys.stderr)
            rounds.append(run_round(db, root, workdir, args.checkout))
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)

    problems = []
    for r in rounds:
        if r.first.applied != layout.changes:
            problems.append(f"first apply applied {r.first.applied}, expected {layout.changes}")
        if r.second.applied:
            problems.append(f"second apply applied {r.second.applied}, expected 0")
        for run in (r.first, r.second):
            if run.requests.errors:
                problems.append(f"{run.requests.errors} request(s) answered with an error")
    walls = [r.first.proc.wall for r in rounds]
    wall = statistics.median(walls)
    first, second = rounds[-1].first, rounds[-1].second
    if any(r.first.requests.total != first.requests.total for r in rounds):
        problems.append(f"request counts differ: {[r.first.requests.total for r in rounds]}")
    per_change = first.requests.total / layout.changes
    converged_writes = max(r.second.requests.writes for r in rounds)
    runs = ", ".join(f"{w:.2f}" for w in walls)
    rows = [
        ("seeding the registry (bulk sqlite insert + read-back check)", fmt_s(seed_s), "", ""),
        ("mlflow server start (not in any figure below)", fmt_s(rounds[-1].server_start), "", ""),
        (
            f"changes applied ({layout.promote} models x {CHANGES_PER_PROMOTION})",
            f"{first.applied:,}",
            f"{layout.changes:,}",
            verdict(first.applied == layout.changes),
        ),
        ("HTTP requests, apply", f"{first.requests.total:,}", "", ""),
        (
            "  requests per change",
            f"{per_change:.2f}",
            f"<= {TARGET_REQUESTS_PER_CHANGE:g}",
            verdict(per_change <= TARGET_REQUESTS_PER_CHANGE),
        ),
        ("  of which writes", f"{first.requests.writes:,}", "", ""),
        (
            "apply wall, CLI subprocess"
            + (f" (median of {len(walls)}: {runs} s)" if len(walls) > 1 else ""),
            fmt_s(wall),
            f"<= {TARGET_WALL_S:g} s",
            verdict(wall <= TARGET_WALL_S),
        ),
        ("  peak RSS of the CLI process", fmt_mib(first.proc.max_rss), "", ""),
        (
            "  CPU of the CLI process / of the server during it",
            f"{fmt_s(first.proc.cpu)} / {fmt_s(first.server_cpu)}",
            "",
            "",
        ),
        ("converged apply: HTTP requests", f"{second.requests.total:,}", "", ""),
        (
            "converged apply: writes",
            f"{converged_writes:,}",
            f"{TARGET_CONVERGED_WRITES}",
            verdict(converged_writes == TARGET_CONVERGED_WRITES),
        ),
        ("converged apply: wall", fmt_s(second.proc.wall), "", ""),
    ]
    print()
    print(
        f"registry-ops apply benchmark: {layout.models:,} models x {layout.versions} versions,"
        f" {layout.promote} promoted ({layout.changes} changes)"
    )
    print(
        f"MLflow {mlflow.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU(s); mlflow server --workers 1 on sqlite, 127.0.0.1;"
        " requests counted from the server's access log"
    )
    if args.checkout != REPO:
        print(f"registry-ops from: {args.checkout}")
    print()
    print(table(rows))
    print()
    print("apply: requests by endpoint")
    print("\n".join(f"  {line}" for line in first.requests.lines()))
    print("converged apply: requests by endpoint")
    print("\n".join(f"  {line}" for line in second.requests.lines()) or "  none")
    if keep:
        print(f"workdir kept: {workdir}")
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    passed = (
        per_change <= TARGET_REQUESTS_PER_CHANGE
        and wall <= TARGET_WALL_S
        and converged_writes == TARGET_CONVERGED_WRITES
        and not problems
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
