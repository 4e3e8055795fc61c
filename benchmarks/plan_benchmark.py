"""How fast is ``registry-ops plan`` on a 1,000-model registry, and how many requests?

Seeds a registry of MODELS x VERSIONS model versions, each with its own run
carrying ``val_accuracy`` and ``val_loss``, behind a real local ``mlflow
server`` (sqlite backend, one worker, 127.0.0.1 only). It then:

1. writes one manifest per model (plus a ``production`` policy with metric
   gates) in which a handful of models have a pending promotion
   (``champion``/``Production``: VERSIONS while the registry has VERSIONS-1);
2. times the real CLI, ``python -m registry_ops --tracking-uri ... -C ROOT
   plan --format json``, as a subprocess (interpreter start and imports
   included; the start-up cost is measured on its own too) and checks its
   JSON result;
3. runs the same plan in-process (``loader.load`` + ``make_plan``) with a
   counter on ``requests.Session.send``, which MLflow's REST client goes
   through (the real requests, nothing mocked), to count HTTP requests;
4. runs the naive loop typical registry scripts use (list the models, then
   ``get_registered_model`` per model and ``get_model_version`` +
   ``get_run`` per version) over the first ``--naive-models`` models, and
   extrapolates it linearly to all models, labelled as such.

Seeding 10,000 versions through HTTP is ~43,000 write requests, so the
registry is written straight into the server's sqlite file with MLflow's own
client (same schema, same code paths as the server's store) before the
server starts, in one process (sqlite serialises writers: a second process
only adds lock waits). The result is cached in
``benchmarks/.cache/`` keyed by the layout and the MLflow version.

    python benchmarks/plan_benchmark.py [--models 1000] [--versions 10]
        [--naive-models 50] [--pending 5] [--repeat 5] [--reseed] [--workdir DIR]

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
import subprocess  # noqa: E402
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
if str(REPO) not in sys.path:  # for tests.support and an uninstalled registry_ops
    sys.path.insert(0, str(REPO))

CACHE_DIR = REPO / "benchmarks" / ".cache"
LAYOUT_REVISION = 1  # bump when the seeded content changes: invalidates the cache
EXPERIMENT = "plan-benchmark"
ALIAS, STAGE, POLICY = "champion", "Production", "production"
CHANGES_PER_PENDING = 3  # set_alias, new Production holder, archive of the old one
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

# Targets from the issue.
TARGET_WALL_S = 5.0
TARGET_REQUESTS = 30
TARGET_SPEEDUP = 50.0

# What `registry-ops plan` imports before it sends its first request.
STARTUP_PROBE = """
import time
t = time.perf_counter()
import git, registry_ops.cli, registry_ops.loader, registry_ops.reconcile, registry_ops.render
import registry_ops.mlflow_adapter
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

    def name(self, index: int) -> str:
        """The registered model name of model ``index``."""
        return f"bench-model-{index:04d}"

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

    def cache_file(self, mlflow_version: str) -> Path:
        """Where the seeded sqlite file for this layout is cached."""
        key = f"m{self.models}-v{self.versions}-p{self.pending}-r{LAYOUT_REVISION}"
        return CACHE_DIR / f"registry-{key}-mlflow{mlflow_version}.db"


def sqlite_uri(path: Path) -> str:
    """MLflow's URI for a sqlite file (absolute path: four slashes)."""
    return f"sqlite:///{path.resolve()}"


# ---- seeding -------------------------------------------------------------------------


def _seed_models(client: Any, experiment_id: str, layout: Layout, indices: range) -> int:
    """Create the models ``indices``, their versions and runs; returns versions created."""
    from mlflow.entities import Metric

    created = 0
    for index in indices:
        name = layout.name(index)
        client.create_registered_model(
            name, tags={"team": "benchmark"}, description=f"Benchmark model {index}"
        )
        for version in range(1, layout.versions + 1):
            run = client.create_run(experiment_id, run_name=f"{name}-v{version}")
            run_id = run.info.run_id
            now = int(time.time() * 1000)
            metrics = [Metric(k, v, now, 0) for k, v in layout.metrics(index, version).items()]
            client.log_batch(run_id, metrics=metrics, synchronous=True)
            client.set_terminated(run_id)
            client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
            created += 1
        holder = str(layout.holder(index))
        client.set_registered_model_alias(name, ALIAS, holder)
        client.transition_model_version_stage(name, holder, STAGE)
    return created


def _scratch_dir() -> Path:
    """Where to build the sqlite file: tmpfs when there is one (no fsync per commit)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 2**30:
        return shm
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    return CACHE_DIR


def seed(layout: Layout, target: Path) -> float:
    """Build the registry into ``target`` (atomically); returns the seconds it took."""
    from mlflow.tracking import MlflowClient

    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="registry-ops-seed-", dir=_scratch_dir()))
    try:
        db = scratch / "registry.db"
        uri = sqlite_uri(db)
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)  # creates the schema
        experiment_id = client.create_experiment(
            EXPERIMENT,
            artifact_location=(CACHE_DIR / "artifacts").as_uri(),  # never written
        )
        total = layout.models * layout.versions
        done, batch, shown = 0, 20, -1
        for start in range(0, layout.models, batch):
            indices = range(start, min(start + batch, layout.models))
            done += _seed_models(client, experiment_id, layout, indices)
            tenth = 10 * done // total
            if tenth != shown:
                shown = tenth
                elapsed = time.perf_counter() - started
                print(f"  seeded {done:,}/{total:,} versions in {elapsed:,.0f} s", file=sys.stderr)
        check_registry(client, layout)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copyfile(db, partial)
        os.replace(partial, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return time.perf_counter() - started


def check_registry(client: Any, layout: Layout) -> None:
    """Fail loudly when the seeded registry is not what the layout says."""
    models, versions, token = 0, 0, None
    while True:
        page = client.search_registered_models(max_results=1000, page_token=token)
        models += len(page)
        token = page.token
        if not token:
            break
    token = None
    while True:
        page = client.search_model_versions(max_results=200_000, page_token=token)
        versions += len(page)
        token = page.token
        if not token:
            break
    expected = (layout.models, layout.models * layout.versions)
    if (models, versions) != expected:
        raise RuntimeError(f"seeded {models} models / {versions} versions, expected {expected}")


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

    walls: list[float]
    startups: list[float]
    summary: dict[str, Any]
    status: str
    gates_passed: int
    gates_failed: int

    @property
    def wall(self) -> float:
        """Median wall time of the plan runs."""
        return statistics.median(self.walls)

    @property
    def startup(self) -> float:
        """Median wall time of interpreter start and imports alone."""
        return statistics.median(self.startups)


def run_cli_plan(uri: str, root: Path, repeat: int) -> CliPlan:
    """Time ``python -m registry_ops ... plan --format json`` and its start-up cost."""
    cmd = [
        sys.executable, "-m", "registry_ops", "--tracking-uri", uri, "-C", str(root),
        "plan", "--format", "json",
    ]  # fmt: skip
    walls, startups, output = [], [], ""
    for _ in range(repeat):
        wall, proc = timed(
            lambda: subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
        )
        if proc.returncode != 0:
            raise RuntimeError(f"plan exited {proc.returncode}: {proc.stderr[-2000:]}")
        walls.append(wall)
        output = proc.stdout
        probe_wall, _ = timed(
            lambda: subprocess.run(
                [sys.executable, "-c", STARTUP_PROBE], cwd=REPO, capture_output=True, check=True
            )
        )
        startups.append(probe_wall)
    plan = json.loads(output)
    results = [g for m in plan["models"] for c in m["changes"] for g in c["gates"]]
    return CliPlan(
        walls=walls,
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
    from registry_ops.loader import load
    from registry_ops.reconcile import Target, make_plan

    loads: list[float] = []
    plans: list[float] = []
    logs: list[RequestLog] = []
    changed = 0
    for _ in range(repeat):
        load_s, desired = timed(lambda: load(root))
        target = Target(root=root, tracking_uri=uri, registry_uri=None)
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


# ---- report --------------------------------------------------------------------------


def fmt_s(seconds: float) -> str:
    """Seconds with sensible precision."""
    if seconds >= 100:
        return f"{seconds:,.0f} s"
    return f"{seconds:.2f} s"


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def table(rows: Sequence[tuple[str, str, str, str]]) -> str:
    """Rows of (measure, value, target, result) as aligned text."""
    header = ("measure", "value", "target", "result")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(4)]
    lines = []
    for n, row in enumerate((header, *rows)):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


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
    parser.add_argument("--reseed", action="store_true", help="ignore the cached registry")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the server, its database and the manifests here (default: a temp dir)",
    )
    args = parser.parse_args(argv)
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
    import mlflow

    from tests.support.mlflow_server import mlflow_server

    layout = Layout(args.models, args.versions, args.pending)
    cached = layout.cache_file(mlflow.__version__)
    total_versions = layout.models * layout.versions
    if cached.exists() and not args.reseed:
        seeding = "cached"
    else:
        print(
            f"Seeding {layout.models:,} models x {layout.versions} versions "
            f"({total_versions:,} runs) into a sqlite file with MlflowClient...",
            file=sys.stderr,
        )
        seed_s = seed(layout, cached)
        seeding = f"{fmt_s(seed_s)} (MlflowClient on sqlite, now cached)"

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
            cli = run_cli_plan(uri, root, args.repeat)
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
            f"< {TARGET_WALL_S:g} s",
            verdict(cli.wall < TARGET_WALL_S),
        ),
        ("  interpreter start + imports (separate probe)", fmt_s(cli.startup), "", ""),
        ("  load + validate manifests (in-process)", fmt_s(inproc.load), "", ""),
        ("  read registry + diff + gates (in-process)", fmt_s(inproc.plan), "", ""),
        ("plan in-process (load + read/diff/gates)", fmt_s(inproc.total), "", ""),
        (
            "HTTP requests, batched plan",
            f"{inproc.requests:,}",
            f"< {TARGET_REQUESTS}",
            verdict(inproc.requests < TARGET_REQUESTS),
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
        f" ({total_versions:,} versions, each with its own run), {layout.pending} pending"
        " promotion(s)"
    )
    print(
        f"MLflow {mlflow.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU(s); mlflow server --workers 1 on sqlite, 127.0.0.1"
    )
    print(f"registry: {cached.relative_to(REPO)}")
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
        cli.wall < TARGET_WALL_S
        and inproc.requests < TARGET_REQUESTS
        and speedup >= TARGET_SPEEDUP
        and not problems
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
