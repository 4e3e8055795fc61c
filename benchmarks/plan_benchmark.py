"""How fast is ``registry-ops plan`` on a large registry, how many requests, how much memory?

Seeds a registry of MODELS x VERSIONS model versions, each with its own run
carrying ``val_accuracy`` and ``val_loss`` (with ``--logged-models``, each
registered from its run's MLflow 3 logged model, which carries them too),
behind a real local ``mlflow server`` (sqlite backend, one worker, 127.0.0.1
only). It then:

1. writes one manifest per model (plus a ``production`` policy with metric
   gates) in which a handful of models have a pending promotion
   (``champion``/``Production``: VERSIONS while the registry has VERSIONS-1);
2. times the real CLI, ``python -m registry_ops --tracking-uri ... -C ROOT
   plan --format json``, as a subprocess (interpreter start and imports
   included; the start-up cost is measured on its own too), takes its peak
   RSS, counts the requests the server logged for it, and checks its JSON
   result;
3. runs the same plan in-process (``loader.load`` + ``make_plan``) with a
   counter on ``requests.Session.send``, which MLflow's REST client goes
   through (the real requests, nothing mocked), to count HTTP requests;
4. runs the naive loop typical registry scripts use (list the models, then
   ``get_registered_model`` per model and ``get_model_version`` +
   ``get_run`` per version) over the first ``--naive-models`` models, and
   extrapolates it linearly to all models, labelled as such.

Seeding 10,000 versions through HTTP is ~43,000 write requests, and even
``MlflowClient`` on the sqlite file took 165 s for them (hours for 100,000).
So MLflow creates and migrates the database and the experiment, and every
other row is bulk-inserted into it with ``sqlite3`` (``benchmarks/common.py``),
then read back through ``MlflowClient`` before the server starts on a copy.
The result is cached in ``benchmarks/.cache/`` keyed by the layout and the
MLflow version.

    python benchmarks/plan_benchmark.py [--models 1000] [--versions 10]
        [--naive-models 50] [--pending 5] [--repeat 5] [--reseed] [--workdir DIR]
        [--checkout DIR]

``--models 10000`` is the large case (100,000 versions); its wall-time
target is 10 s instead of 5 s. ``--checkout DIR`` runs registry-ops from
another copy of the project (say ``git archive COMMIT | tar -x -C DIR``).

Exit status: 0 when every target passes, 1 when one fails or the plan's
result is not what the seeded registry implies.
"""

from __future__ import annotations

import os

# Before anything imports mlflow: no telemetry, only loopback traffic.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable, Iterator, Sequence  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import requests  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # for benchmarks.common, tests.support, an uninstalled package
    sys.path.insert(0, str(REPO))

from benchmarks.common import (  # noqa: E402
    AccessLog,
    Measured,
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

CACHE_DIR = REPO / "benchmarks" / ".cache"
LAYOUT_REVISION = 2  # bump when the seeded content changes: invalidates the cache
EXPERIMENT = "plan-benchmark"
ALIAS, STAGE, POLICY = "champion", "Production", "production"
CHANGES_PER_PENDING = 3  # set_alias, new Production holder, archive of the old one
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

# Targets from the issues: 1,000 models; and 10,000 models x 10 versions.
TARGET_WALL_S = 5.0
TARGET_WALL_LARGE_S = 10.0  # above LARGE_FROM models
LARGE_FROM = 1001
TARGET_REQUESTS = 30
TARGET_SPEEDUP = 50.0
TARGET_RSS = 2**30  # peak RSS of the CLI process

# What `registry-ops plan` imports before it sends its first request.
STARTUP_PROBE = """
import time
t = time.perf_counter()
import git, registry_ops.cli, registry_ops.desired.loader
import registry_ops.pipeline.plan, registry_ops.render
import registry_ops.registry
from mlflow.tracking import MlflowClient
print(time.perf_counter() - t)
"""

warnings.filterwarnings(
    "ignore", message=r".*Model registry stages will be removed", category=FutureWarning
)


# ---- the registry's layout -------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Which models exist, their versions and metrics, and which have a pending promotion."""

    models: int
    versions: int
    pending: int
    logged_models: bool = False

    def name(self, index: int) -> str:
        """The registered model name of model ``index`` (zero-padded: sorted = index order)."""
        return f"bench-model-{index:0{max(4, len(str(self.models - 1)))}d}"

    def pending_indices(self) -> frozenset[int]:
        """Models whose manifest promotes a newer version, spread over the name range."""
        step = self.models / self.pending if self.pending else 0
        return frozenset(int(step * k + step / 2) for k in range(self.pending))

    def holder(self, index: int) -> int:
        """The version that holds the alias and the stage in the seeded registry."""
        return self.versions - 1 if index in self.pending_indices() else self.versions

    def metrics(self, index: int, version: int) -> dict[str, float]:
        """Deterministic metrics that improve with the version (the newest passes the gates)."""
        jitter = random.Random(index * 100_003 + version).uniform(0, 0.004)
        share = version / self.versions
        return {
            "val_accuracy": round(0.80 + 0.15 * share - jitter, 4),
            "val_loss": round(0.50 - 0.35 * share + jitter, 4),
        }

    def seed_models(self) -> list[SeedModel]:
        """The seeded registry: description, tag, alias and Production on the holder."""
        out = []
        for index in range(self.models):
            holder = self.holder(index)
            out.append(
                SeedModel(
                    name=self.name(index),
                    description=f"Benchmark model {index}",
                    tags={"team": "benchmark"},
                    metrics=[self.metrics(index, v) for v in range(1, self.versions + 1)],
                    aliases={ALIAS: holder},
                    stages={holder: STAGE},
                    logged_models=self.logged_models,
                )
            )
        return out

    def cache_file(self, mlflow_version: str) -> Path:
        """Where the seeded sqlite file for this layout is cached."""
        key = f"m{self.models}-v{self.versions}-p{self.pending}-r{LAYOUT_REVISION}"
        key += "-lm" if self.logged_models else ""
        return CACHE_DIR / f"registry-{key}-mlflow{mlflow_version}.db"


# ---- seeding -------------------------------------------------------------------------


def seed(layout: Layout, target: Path) -> float:
    """Bulk-seed the registry, read it back, move it to ``target``; returns seconds taken."""
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="registry-ops-seed-", dir=scratch_dir(CACHE_DIR)))
    try:
        db = scratch / "registry.db"
        expected = layout.seed_models()
        bulk_seed(db, EXPERIMENT, expected)
        pending = sorted(layout.pending_indices())[:2]
        verify_seed(db, expected, samples=sorted({0, layout.models - 1, *pending}))
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copyfile(db, partial)
        os.replace(partial, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return time.perf_counter() - started


# ---- manifests -----------------------------------------------------------------------


def write_manifests(layout: Layout, root: Path) -> None:
    """One manifest per model and one policy, under ``root``."""
    manifests, policies = root / "manifests", root / "policies"
    for directory in (manifests, policies):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
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
    for index in range(layout.models):
        name = layout.name(index)
        (manifests / f"{name}.yaml").write_text(
            "apiVersion: registry-ops/v1\n"
            "kind: ModelManifest\n"
            f"model: {name}\n"
            f"description: Benchmark model {index}\n"
            "tags: {team: benchmark}\n"
            f"aliases:\n  {ALIAS}: {layout.versions}\n"
            f"stages:\n  {STAGE}: {layout.versions}\n"
            f"gates:\n  {ALIAS}: {POLICY}\n  {STAGE}: {POLICY}\n",
            encoding="utf-8",
        )


# ---- measuring -----------------------------------------------------------------------


@dataclass
class RequestLog:
    """HTTP requests seen, by ``METHOD /path``: how many, seconds until read, bytes received."""

    count: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)
    received: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        """Requests of every kind."""
        return sum(self.count.values())

    def lines(self) -> list[str]:
        """One line per kind of request."""
        return [
            f"{self.count[k]:>7,}  {self.seconds[k]:7.2f} s  {self.received[k] / 1e6:7.2f} MB  {k}"
            for k in sorted(self.count)
        ]


@contextmanager
def count_requests() -> Iterator[RequestLog]:
    """Log every HTTP request sent through ``requests`` while the block runs.

    Wraps ``requests.Session.send`` (which MLflow's REST client goes
    through), so every request still goes out and is answered for real; the
    time includes reading the body. Any host but the loopback one is refused.
    """
    log = RequestLog()
    original = requests.Session.send

    def send(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        url = urlsplit(request.url)
        if url.hostname not in LOOPBACK:
            raise RuntimeError(f"benchmark refuses a non-loopback request to {url.hostname}")
        key = f"{request.method} {url.path}"
        started = time.perf_counter()
        response = original(self, request, **kwargs)
        log.seconds[key] = log.seconds.get(key, 0.0) + time.perf_counter() - started
        log.count[key] += 1
        if not kwargs.get("stream"):
            log.received[key] += len(response.content)
        return response

    requests.Session.send = send  # type: ignore[method-assign]
    try:
        yield log
    finally:
        requests.Session.send = original  # type: ignore[method-assign]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds ``fn`` took, and what it returned."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


@dataclass
class CliPlan:
    """What the CLI subprocess runs showed."""

    runs: list[Measured]
    server_requests: list[int]  # as the server's access log counted them, per run
    server_cpu: list[float]  # CPU seconds the server spent during each run
    startups: list[float]
    summary: dict[str, Any]
    status: str
    gates_passed: int
    gates_failed: int

    @property
    def walls(self) -> list[float]:
        """Wall time of each plan run."""
        return [run.wall for run in self.runs]

    @property
    def wall(self) -> float:
        """Median wall time of the plan runs."""
        return statistics.median(self.walls)

    @property
    def max_rss(self) -> int:
        """Highest peak RSS of the CLI process over the runs."""
        return max(run.max_rss for run in self.runs)

    @property
    def startup(self) -> float:
        """Median wall time of interpreter start and imports alone."""
        return statistics.median(self.startups)


def run_cli_plan(uri: str, root: Path, repeat: int, log: AccessLog, checkout: Path) -> CliPlan:
    """Time ``python -m registry_ops ... plan --format json``, its memory and start-up cost.

    ``python -m`` puts the working directory first on ``sys.path``, so the
    package of ``checkout`` is the one that runs.
    """
    cmd = [
        sys.executable, "-m", "registry_ops", "--tracking-uri", uri, "-C", str(root),
        "plan", "--format", "json",
    ]  # fmt: skip
    runs: list[Measured] = []
    counted: list[int] = []
    server_cpu: list[float] = []
    startups: list[float] = []
    for _ in range(repeat):
        start = log.mark()
        cpu = descendants_cpu()
        runs.append(run_measured(cmd, cwd=checkout).check("registry-ops plan"))
        server_cpu.append(descendants_cpu() - cpu)
        counted.append(log.between(start, log.mark()).total)
        probe = [sys.executable, "-c", STARTUP_PROBE]
        startups.append(run_measured(probe, cwd=checkout).check("start-up probe").wall)
    plan = json.loads(runs[-1].stdout)
    results = [g for m in plan["models"] for c in m["changes"] for g in c["gates"]]
    return CliPlan(
        runs=runs,
        server_requests=counted,
        server_cpu=server_cpu,
        startups=startups,
        summary=plan["summary"],
        status=plan["status"],
        gates_passed=sum(1 for g in results if g["passed"]),
        gates_failed=sum(1 for g in results if not g["passed"]),
    )


@dataclass
class InProcessPlan:
    """The same plan run in this process, with its HTTP requests counted."""

    load_seconds: list[float]
    plan_seconds: list[float]
    log: RequestLog
    models_changed: int

    @property
    def requests(self) -> int:
        """HTTP requests of one plan."""
        return self.log.total

    @property
    def load(self) -> float:
        """Median seconds to load and validate the manifests."""
        return statistics.median(self.load_seconds)

    @property
    def plan(self) -> float:
        """Median seconds to read the registry, diff and run the gates."""
        return statistics.median(self.plan_seconds)

    @property
    def total(self) -> float:
        """Median of load + read/diff/gates."""
        pairs = zip(self.load_seconds, self.plan_seconds, strict=True)
        return statistics.median([a + b for a, b in pairs])


def run_in_process_plan(uri: str, root: Path, repeat: int) -> InProcessPlan:
    """``loader.load`` then ``make_plan`` as the CLI does, counting requests of each run."""
    from registry_ops.desired.loader import load
    from registry_ops.pipeline import plan as reconcile

    # ``Target`` was renamed ``Endpoint``: accept either, so --checkout can measure older commits.
    endpoint = getattr(reconcile, "Endpoint", None) or reconcile.Target  # type: ignore[attr-defined]
    make_plan = reconcile.make_plan

    loads: list[float] = []
    plans: list[float] = []
    logs: list[RequestLog] = []
    changed = 0
    for _ in range(repeat):
        load_s, desired = timed(lambda: load(root))
        target = endpoint(root=root, tracking_uri=uri, registry_uri=None)
        with count_requests() as log:
            plan_s, plan = timed(lambda: make_plan(desired, (), target, target.connect()))  # noqa: B023
        loads.append(load_s)
        plans.append(plan_s)
        logs.append(log)
        changed = sum(1 for m in plan.models if m.changes)
    if any(log.count != logs[0].count for log in logs):
        raise RuntimeError(f"request counts differ between runs: {[g.count for g in logs]}")
    return InProcessPlan(loads, plans, logs[-1], changed)


@dataclass
class NaiveLoop:
    """The per-version loop: measured over some models, extrapolated to all."""

    models: int
    list_requests: int
    list_seconds: float
    loop_requests: int
    loop_seconds: float
    log: RequestLog

    @property
    def requests(self) -> int:
        """Requests actually sent."""
        return self.list_requests + self.loop_requests

    @property
    def seconds(self) -> float:
        """Seconds actually spent."""
        return self.list_seconds + self.loop_seconds

    def extrapolate(self, models: int) -> tuple[float, float]:
        """(requests, seconds) for ``models`` models: listing as measured, loop scaled."""
        scale = models / self.models
        return (
            self.list_requests + self.loop_requests * scale,
            self.list_seconds + self.loop_seconds * scale,
        )


def run_naive_loop(uri: str, count: int) -> NaiveLoop:
    """List every model, then per model one get + per version get_model_version + get_run."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    with count_requests() as log:
        started = time.perf_counter()
        names: list[str] = []
        token: str | None = None
        while True:  # the client's default page size (100), as a typical script does
            page = client.search_registered_models(page_token=token)
            names += [m.name for m in page]
            token = page.token
            if not token:
                break
        list_seconds = time.perf_counter() - started
        list_requests = log.total
        started = time.perf_counter()
        for name in sorted(names)[:count]:
            model = client.get_registered_model(name)
            newest = max(int(v.version) for v in model.latest_versions)  # latest of each stage
            for version in range(1, newest + 1):
                mv = client.get_model_version(name, str(version))
                client.get_run(str(mv.run_id))
        loop_seconds = time.perf_counter() - started
    loop_requests = log.total - list_requests
    return NaiveLoop(
        min(count, len(names)), list_requests, list_seconds, loop_requests, loop_seconds, log
    )


# ---- main ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=1000, help="registered models (1000)")
    parser.add_argument("--versions", type=int, default=10, help="versions per model (10)")
    parser.add_argument(
        "--pending", type=int, default=5, help="models with a pending promotion (5)"
    )
    parser.add_argument(
        "--naive-models",
        type=int,
        default=50,
        help="models the naive loop really walks; the rest is extrapolated (50)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="plan runs to take the median of (5)")
    parser.add_argument(
        "--logged-models",
        action="store_true",
        help="MLflow 3 shape: every version registered from its run's logged model (models:/m-"
        "...), whose metrics (dataset 'validation') the gates read",
    )
    parser.add_argument("--reseed", action="store_true", help="ignore the cached registry")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the server, its database and the manifests here (default: a temp dir)",
    )
    parser.add_argument(
        "--checkout",
        type=Path,
        default=REPO,
        help="run registry-ops from this copy of the project (default: this one)",
    )
    parser.add_argument(
        "--target-wall",
        type=float,
        help=f"plan wall target, s ({TARGET_WALL_S:g}; {TARGET_WALL_LARGE_S:g} from"
        f" {LARGE_FROM:,} models)",
    )
    args = parser.parse_args(argv)
    if not (args.checkout / "registry_ops" / "__main__.py").is_file():
        parser.error(f"--checkout {args.checkout}: no registry_ops package there")
    args.checkout = args.checkout.resolve()
    if args.target_wall is None:
        args.target_wall = TARGET_WALL_LARGE_S if args.models >= LARGE_FROM else TARGET_WALL_S
    if args.versions < 2:
        parser.error("--versions must be at least 2 (a pending promotion moves to the newest)")
    if not 0 <= args.pending <= args.models:
        parser.error("--pending must be between 0 and --models")
    if args.models < 1 or args.naive_models < 1 or args.repeat < 1:
        parser.error("--models, --naive-models and --repeat must be positive")
    args.naive_models = min(args.naive_models, args.models)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Seed (or reuse), serve, measure, print; 0 when every target passes."""
    args = parse_args(argv)
    if args.checkout != REPO:  # the in-process plan imports the same package as the CLI
        sys.path.insert(0, str(args.checkout))
    import mlflow

    from tests.support.mlflow_server import mlflow_server

    layout = Layout(args.models, args.versions, args.pending, args.logged_models)
    cached = layout.cache_file(mlflow.__version__)
    total_versions = layout.models * layout.versions
    if cached.exists() and not args.reseed:
        seeding = "cached"
    else:
        print(
            f"Seeding {layout.models:,} models x {layout.versions} versions "
            f"({total_versions:,} runs): bulk insert into sqlite, read back...",
            file=sys.stderr,
        )
        seed_s = seed(layout, cached)
        seeding = f"{fmt_s(seed_s)} (bulk sqlite insert + read-back check, now cached)"

    keep = args.workdir is not None
    workdir = (
        args.workdir.resolve() if keep else Path(tempfile.mkdtemp(prefix="registry-ops-bench-"))
    )
    try:
        root = workdir / "root"
        write_manifests(layout, root)
        server_dir = workdir / "server"
        server_dir.mkdir(parents=True, exist_ok=True)
        db = server_dir / "server.db"
        shutil.copyfile(cached, db)
        print("Starting mlflow server...", file=sys.stderr)
        server_s = time.perf_counter()
        with mlflow_server(server_dir, backend_uri=sqlite_uri(db), timeout=120) as uri:
            server_s = time.perf_counter() - server_s
            # Warm up the server (first-request imports), not measured.
            mlflow.tracking.MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
            print("Planning in-process (counting requests)...", file=sys.stderr)
            inproc = run_in_process_plan(uri, root, args.repeat)
            print("Planning with the CLI (subprocess)...", file=sys.stderr)
            log = AccessLog(uri, server_dir / "server.log")
            cli = run_cli_plan(uri, root, args.repeat, log, args.checkout)
            print(f"Naive loop over {args.naive_models} model(s)...", file=sys.stderr)
            naive = run_naive_loop(uri, args.naive_models)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)

    problems = []
    expected_status = "changes" if layout.pending else "no_changes"
    if cli.status != expected_status:
        problems.append(f"plan status is {cli.status!r}, expected {expected_status!r}")
    if cli.summary["models_changed"] != layout.pending or inproc.models_changed != layout.pending:
        problems.append(
            f"{cli.summary['models_changed']} models changed (in-process:"
            f" {inproc.models_changed}), expected {layout.pending}"
        )
    if cli.summary["changes"] != CHANGES_PER_PENDING * layout.pending:
        problems.append(
            f"{cli.summary['changes']} changes, expected {CHANGES_PER_PENDING * layout.pending}"
        )
    if cli.gates_failed:
        problems.append(f"{cli.gates_failed} gate check(s) failed; the seeded versions pass")
    if any(n != inproc.requests for n in cli.server_requests):
        problems.append(
            f"the server logged {cli.server_requests} requests for the CLI runs,"
            f" the in-process plan sent {inproc.requests}"
        )
    requests_seen = max(inproc.requests, *cli.server_requests)
    wall_ok = cli.wall <= args.target_wall
    rss_ok = cli.max_rss < TARGET_RSS

    ext_requests, ext_seconds = naive.extrapolate(layout.models)
    speedup = ext_seconds / cli.wall
    full = naive.models == layout.models
    ext_label = "measured in full" if full else f"EXTRAPOLATED from {naive.models} models"
    runs = ", ".join(f"{w:.2f}" for w in cli.walls)
    rows = [
        ("seeding the registry", seeding, "", ""),
        ("mlflow server start (not in any figure below)", fmt_s(server_s), "", ""),
        (
            f"plan wall, CLI subprocess (median of {len(cli.walls)}: {runs} s)",
            fmt_s(cli.wall),
            f"<= {args.target_wall:g} s",
            verdict(wall_ok),
        ),
        (
            "  peak RSS of the CLI process (highest of the runs)",
            fmt_mib(cli.max_rss),
            f"< {fmt_mib(TARGET_RSS)}",
            verdict(rss_ok),
        ),
        (
            "  CPU of the CLI process / of the server during it (medians)",
            f"{fmt_s(statistics.median(r.cpu for r in cli.runs))}"
            f" / {fmt_s(statistics.median(cli.server_cpu))}",
            "",
            "",
        ),
        ("  interpreter start + imports (separate probe)", fmt_s(cli.startup), "", ""),
        ("  load + validate manifests (in-process)", fmt_s(inproc.load), "", ""),
        ("  read registry + diff + gates (in-process)", fmt_s(inproc.plan), "", ""),
        ("plan in-process (load + read/diff/gates)", fmt_s(inproc.total), "", ""),
        (
            "HTTP requests, batched plan (in-process; server log for the CLI)",
            f"{inproc.requests:,}; {', '.join(map(str, cli.server_requests))}",
            f"< {TARGET_REQUESTS}",
            verdict(requests_seen < TARGET_REQUESTS),
        ),
        (
            f"naive loop, measured ({naive.models:,} models)",
            f"{naive.requests:,} requests, {fmt_s(naive.seconds)}",
            "",
            "",
        ),
        (
            f"naive loop, all {layout.models:,} models ({ext_label})",
            f"{ext_requests:,.0f} requests, {fmt_s(ext_seconds)}",
            "",
            "",
        ),
        (
            "speed-up: naive (all models) / plan CLI wall",
            f"{speedup:,.0f}x",
            f">= {TARGET_SPEEDUP:g}x",
            verdict(speedup >= TARGET_SPEEDUP),
        ),
        (
            "speed-up: naive (all models) / plan in-process",
            f"{ext_seconds / inproc.total:,.0f}x",
            "",
            "",
        ),
    ]
    print()
    print(
        f"registry-ops plan benchmark: {layout.models:,} models x {layout.versions} versions"
        f" ({total_versions:,} versions, each with its own run"
        f"{' and logged model' if layout.logged_models else ''}), {layout.pending} pending"
        " promotion(s)"
    )
    print(
        f"MLflow {mlflow.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU(s); mlflow server --workers 1 on sqlite, 127.0.0.1"
    )
    print(f"registry: {cached.relative_to(REPO)}")
    if args.checkout != REPO:
        print(f"registry-ops from: {args.checkout}")
    print()
    print(table(rows))
    print()
    print(
        f"plan result: status={cli.status}, {cli.summary['models_changed']} models changed,"
        f" {cli.summary['changes']} changes, {cli.gates_passed} gate checks passed,"
        f" {cli.gates_failed} failed"
    )
    print("batched plan, in-process (one run): requests, time until the body is read, size")
    print("\n".join(f"  {line}" for line in inproc.log.lines()))
    print(f"naive loop, measured over {naive.models} models: requests, time, size")
    print("\n".join(f"  {line}" for line in naive.log.lines()))
    if keep:
        print(f"workdir kept: {workdir}")
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    passed = (
        wall_ok
        and rss_ok
        and requests_seen < TARGET_REQUESTS
        and speedup >= TARGET_SPEEDUP
        and not problems
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
