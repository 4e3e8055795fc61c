"""What the benchmarks share: bulk seeding, server-side request counts, measured subprocesses.

* **Bulk seeding.** Writing a registry through MLflow's API costs one request
  (or one sqlite transaction) per run, metric batch, version, alias and
  stage: hours for 100,000 versions. :func:`bulk_seed` lets MLflow create and
  migrate the database (so the schema is exactly the one the server
  expects), creates the experiment through MLflow, then inserts every other
  row in one transaction with ``sqlite3``, the way MLflow's own store writes
  them (the column values were copied from a registry written with
  ``MlflowClient``). :func:`verify_seed` reads the result back through
  ``MlflowClient`` so a schema drift in a future MLflow fails loudly.
* **Counting requests on the server.** ``mlflow server`` runs uvicorn, which
  writes one access-log line per request to the server log.
  :class:`AccessLog` brackets a measurement with two marker requests
  (``GET /health?mark=...``) and counts the lines between them: every
  request any client sent, retries included, at no cost to the client.
* **Measured subprocesses.** :func:`run_measured` runs a command and returns
  its wall time and its own peak RSS (``os.wait4``: that child only, not the
  server or earlier children, which ``RUSAGE_CHILDREN`` would mix in).
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ---- seeding -------------------------------------------------------------------------


@dataclass
class SeedModel:
    """One registered model to seed: its versions' run metrics, aliases and stages."""

    name: str
    description: str
    tags: dict[str, str]
    metrics: list[dict[str, float]]  # one entry per version, version 1 first
    aliases: dict[str, int] = field(default_factory=dict)
    stages: dict[int, str] = field(default_factory=dict)  # version -> stage; others 'None'
    #: MLflow 3 shape: each version registered from ``models:/m-...``, a logged model of
    #: its run carrying the same metrics (for the dataset ``validation``)
    logged_models: bool = False


#: The dataset logged-model metrics are seeded for (name, digest).
SEED_DATASET = ("validation", "5eed0001")


def sqlite_uri(path: Path) -> str:
    """MLflow's URI for a sqlite file (absolute path: four slashes)."""
    return f"sqlite:///{path.resolve()}"


def _run_ids(seed: int) -> Iterator[str]:
    """Deterministic uuid4-shaped run ids (the same seed gives the same registry)."""
    rng = random.Random(seed)
    while True:
        yield uuid.UUID(int=rng.getrandbits(128), version=4).hex


def bulk_seed(db: Path, experiment: str, models: Iterable[SeedModel], seed: int = 1) -> int:
    """Create ``db`` with MLflow's schema and insert ``models`` in bulk; returns versions.

    The experiment is created through MLflow (it also runs the migrations);
    runs, metrics, run tags, registered models, their tags, versions and
    aliases are inserted with ``executemany`` in a single transaction.
    """
    from mlflow.tracking import MlflowClient

    uri = sqlite_uri(db)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    artifact_root = Path(tempfile.gettempdir(), "registry-ops-bench-artifacts").as_uri()
    experiment_id = int(client.create_experiment(experiment, artifact_location=artifact_root))

    now = int(time.time() * 1000)
    ids = _run_ids(seed)
    model_ids = _run_ids(seed + 1)
    logged: list[tuple[Any, ...]] = []
    logged_metrics: list[tuple[Any, ...]] = []
    runs: list[tuple[Any, ...]] = []
    metrics: list[tuple[Any, ...]] = []
    latest: list[tuple[Any, ...]] = []
    run_tags: list[tuple[Any, ...]] = []
    registered: list[tuple[Any, ...]] = []
    model_tags: list[tuple[Any, ...]] = []
    versions: list[tuple[Any, ...]] = []
    aliases: list[tuple[Any, ...]] = []
    for model in models:
        registered.append((model.name, now, now, model.description, "default"))
        model_tags += [(k, v, model.name, "default") for k, v in model.tags.items()]
        aliases += [(a, v, model.name, "default") for a, v in model.aliases.items()]
        for number, values in enumerate(model.metrics, start=1):
            run_id = next(ids)
            run_name = f"{model.name}-v{number}"
            runs.append(
                (run_id, run_name, "UNKNOWN", "", "", "unknown", "FINISHED", now, now + 1, "",
                 "active", f"{artifact_root}/{run_id}/artifacts", experiment_id, None)
            )  # fmt: skip
            run_tags.append(("mlflow.runName", run_name, run_id))
            metrics += [(k, v, now, run_id, 0, 0) for k, v in values.items()]
            latest += [(k, v, now, 0, 0, run_id) for k, v in values.items()]
            source = storage = f"runs:/{run_id}/model"
            if model.logged_models:
                model_id = f"m-{next(model_ids)}"
                source = f"models:/{model_id}"
                storage = f"{artifact_root}/models/{model_id}/artifacts"
                # status 2 is READY; the columns as MLflow's store writes them
                logged.append(
                    (model_id, experiment_id, "model", storage, now, now, 2, "active", None,
                     run_id, None)
                )  # fmt: skip
                logged_metrics += [
                    (model_id, k, now, 0, v, experiment_id, run_id, None, *SEED_DATASET)
                    for k, v in values.items()
                ]
            versions.append(
                (model.name, number, now + number, now + number, None, None,
                 model.stages.get(number, "None"), source, run_id, "READY", None, None, storage,
                 "default")
            )  # fmt: skip

    con = sqlite3.connect(db)
    try:
        # A scratch file being built: no journal, no fsync (MLflow never sees it half-built).
        con.execute("PRAGMA journal_mode = OFF")
        con.execute("PRAGMA synchronous = OFF")
        with con:
            con.executemany(f"INSERT INTO runs VALUES ({_marks(14)})", runs)
            con.executemany(f"INSERT INTO tags VALUES ({_marks(3)})", run_tags)
            con.executemany(
                f'INSERT INTO metrics ("key", value, timestamp, run_uuid, step, is_nan)'
                f" VALUES ({_marks(6)})",
                metrics,
            )
            con.executemany(
                f'INSERT INTO latest_metrics ("key", value, timestamp, step, is_nan, run_uuid)'
                f" VALUES ({_marks(6)})",
                latest,
            )
            con.executemany(f"INSERT INTO logged_models VALUES ({_marks(11)})", logged)
            con.executemany(
                "INSERT INTO logged_model_metrics (model_id, metric_name, metric_timestamp_ms,"
                " metric_step, metric_value, experiment_id, run_id, dataset_uuid, dataset_name,"
                f" dataset_digest) VALUES ({_marks(10)})",
                logged_metrics,
            )
            con.executemany(
                "INSERT INTO registered_models (name, creation_time, last_updated_time,"
                f" description, workspace) VALUES ({_marks(5)})",
                registered,
            )
            con.executemany(
                'INSERT INTO registered_model_tags ("key", value, name, workspace)'
                f" VALUES ({_marks(4)})",
                model_tags,
            )
            con.executemany(
                "INSERT INTO model_versions (name, version, creation_time, last_updated_time,"
                " description, user_id, current_stage, source, run_id, status, status_message,"
                f" run_link, storage_location, workspace) VALUES ({_marks(14)})",
                versions,
            )
            con.executemany(
                "INSERT INTO registered_model_aliases (alias, version, name, workspace)"
                f" VALUES ({_marks(4)})",
                aliases,
            )
    finally:
        con.close()
    return len(versions)


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def verify_seed(db: Path, expected: Sequence[SeedModel], samples: Sequence[int]) -> None:
    """Read the seeded file through ``MlflowClient``; raise unless it matches ``expected``.

    Counts every model and version with the same paged searches registry-ops
    uses, then checks the models at ``samples`` in full: description, tags,
    aliases, every version's stage and run, and the run's metrics as
    ``search_runs`` returns them.
    """
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    uri = sqlite_uri(db)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    models = _count(
        lambda token: client.search_registered_models(max_results=1000, page_token=token)
    )
    versions = _count(
        lambda token: client.search_model_versions(max_results=200_000, page_token=token)
    )
    want = (len(expected), sum(len(m.metrics) for m in expected))
    if (models, versions) != want:
        raise RuntimeError(f"seeded {models} models / {versions} versions, expected {want}")
    experiment_ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    for index in samples:
        spec = expected[index]
        rm = client.get_registered_model(spec.name)
        got = (rm.description, dict(rm.tags), {a: int(v) for a, v in rm.aliases.items()})
        if got != (spec.description, spec.tags, spec.aliases):
            raise RuntimeError(f"{spec.name}: read back {got}")
        mvs = client.search_model_versions(f"name = '{spec.name}'")
        stages = {int(mv.version): mv.current_stage for mv in mvs if mv.current_stage != "None"}
        if stages != spec.stages or len(mvs) != len(spec.metrics):
            raise RuntimeError(f"{spec.name}: stages {stages}, {len(mvs)} versions")
        by_run = {mv.run_id: int(mv.version) for mv in mvs}
        ids = ", ".join(f"'{r}'" for r in by_run)
        runs = client.search_runs(experiment_ids, f"attributes.run_id IN ({ids})")
        for run in runs:
            if dict(run.data.metrics) != spec.metrics[by_run[run.info.run_id] - 1]:
                raise RuntimeError(f"{spec.name}: run {run.info.run_id} metrics differ")
        if len(runs) != len(by_run):
            raise RuntimeError(f"{spec.name}: {len(runs)} runs found for {len(by_run)} versions")
        if spec.logged_models:
            _verify_logged(client, experiment_ids, spec, mvs)


def _verify_logged(client: Any, experiment_ids: list[str], spec: SeedModel, mvs: Any) -> None:
    """Each version's ``models:/m-...`` source is a logged model with the version's metrics."""
    by_model = {mv.source.removeprefix("models:/"): int(mv.version) for mv in mvs}
    ids = ", ".join(f"'{m}'" for m in by_model)
    found = client.search_logged_models(experiment_ids, f"attributes.model_id IN ({ids})")
    for logged in found:
        got = {(m.key, m.dataset_name, m.dataset_digest): m.value for m in logged.metrics}
        want = spec.metrics[by_model[logged.model_id] - 1]
        if got != {(k, *SEED_DATASET): v for k, v in want.items()}:
            raise RuntimeError(f"{spec.name}: logged model {logged.model_id} metrics {got}")
    if len(found) != len(by_model):
        raise RuntimeError(f"{spec.name}: {len(found)} logged models for {len(by_model)}")


def _count(search: Any) -> int:
    total, token = 0, None
    while True:
        page = search(token)
        total += len(page)
        token = page.token
        if not token:  # None on sqlite, '' over HTTP
            return total


def scratch_dir(fallback: Path) -> Path:
    """Where to build a sqlite file: tmpfs when there is one, else ``fallback``."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and _free(shm) > 2**30:
        return shm
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def _free(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


# ---- counting requests on the server ---------------------------------------------------

_ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[0-9.]+" (?P<status>\d{3})')
# Reads MLflow serves as POST (search bodies can be long); every other POST/PATCH/DELETE writes.
_READ_POSTS = ("/search", "/get")


@dataclass
class Requests:
    """Requests the server logged between two marks, by ``METHOD /path``."""

    by_endpoint: Counter[str]
    errors: int  # answered with a 4xx/5xx status

    @property
    def total(self) -> int:
        """Requests of every kind."""
        return sum(self.by_endpoint.values())

    @property
    def writes(self) -> int:
        """Requests that change the registry (not GETs, not POST searches)."""
        return sum(n for key, n in self.by_endpoint.items() if is_write(key))

    def lines(self) -> list[str]:
        """One line per endpoint, most requested first, writes flagged."""
        return [
            f"{n:>7,}  {'write' if is_write(key) else 'read ':5}  {key}"
            for key, n in sorted(self.by_endpoint.items(), key=lambda kv: (-kv[1], kv[0]))
        ]


def is_write(endpoint: str) -> bool:
    """Whether ``METHOD /path`` changes state on an MLflow server."""
    method, _, path = endpoint.partition(" ")
    if method in ("GET", "HEAD", "OPTIONS"):
        return False
    return not (method == "POST" and path.endswith(_READ_POSTS))


class AccessLog:
    """Counts requests from the uvicorn access log that ``mlflow server`` writes."""

    def __init__(self, uri: str, log: Path) -> None:
        self.uri = uri
        self.log = log

    def mark(self, timeout: float = 10) -> int:
        """Send a marker request, wait until it is logged; the log offset just after it.

        Lines are written when a response starts, so once the marker shows up
        every request the client finished before sending it is in the log.
        """
        token = uuid.uuid4().hex
        with urllib.request.urlopen(f"{self.uri}/health?mark={token}", timeout=timeout):
            pass
        needle = f"/health?mark={token} ".encode()
        deadline = time.monotonic() + timeout
        while True:
            data = self.log.read_bytes()
            at = data.find(needle)
            if at >= 0:
                return data.index(b"\n", at) + 1 if b"\n" in data[at:] else len(data)
            if time.monotonic() > deadline:
                raise RuntimeError(f"marker request never showed up in {self.log}")
            time.sleep(0.05)

    def between(self, start: int, end: int) -> Requests:
        """Requests logged between two marks (marker and health checks excluded)."""
        with open(self.log, "rb") as stream:
            stream.seek(start)
            text = stream.read(end - start).decode("utf-8", "replace")
        counts: Counter[str] = Counter()
        errors = 0
        for line in text.splitlines():
            match = _ACCESS.search(line)
            if match is None:
                continue
            path = match["target"].split("?", 1)[0]
            if path == "/health":
                continue
            counts[f"{match['method']} {path}"] += 1
            # The apply log's first lookup of its experiment is a 404 by design.
            expected = path.endswith("/experiments/get-by-name") and match["status"] == "404"
            errors += match["status"] >= "400" and not expected
        return Requests(counts, errors)


# ---- measured subprocesses ----------------------------------------------------------------


@dataclass
class Measured:
    """A finished subprocess: exit code, output, wall time, its own peak RSS."""

    returncode: int
    stdout: str
    stderr: str
    wall: float
    cpu: float  # user + system seconds of the process
    max_rss: int  # bytes

    def check(self, what: str, ok: Sequence[int] = (0,)) -> Measured:
        """Raise unless the exit code is one of ``ok``."""
        if self.returncode not in ok:
            raise RuntimeError(f"{what} exited {self.returncode}:\n{self.stderr[-3000:]}")
        return self


def run_measured(cmd: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> Measured:
    """Run ``cmd`` to completion; wall time from start to reaped, ``ru_maxrss`` of that child."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Measured(
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            max_rss=usage.ru_maxrss * 1024,  # KiB on Linux
        )


def descendants_cpu() -> float:
    """CPU seconds used so far by the live descendants of this process (the server).

    Read from ``/proc`` (Linux); 0.0 elsewhere. Taken before a measured
    subprocess starts and after it is reaped, the difference is what the
    server spent answering it: a plan that is bound by the server shows it.
    """
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile, or not Linux
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
    mine, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - mine
        mine |= frontier
    return sum(cpu[pid] for pid in mine)


# ---- report ----------------------------------------------------------------------------


def fmt_s(seconds: float) -> str:
    """Seconds with sensible precision."""
    if seconds >= 100:
        return f"{seconds:,.0f} s"
    return f"{seconds:.2f} s"


def fmt_mib(size: int) -> str:
    """Bytes as MiB."""
    return f"{size / 2**20:,.0f} MiB"


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
