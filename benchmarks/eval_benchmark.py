"""How fast is the ``evaluate:`` gate, in-process and on Spark, cold and from the registry cache?

Builds a throwaway repository and sqlite MLflow store, then:

1. trains the quickstart's best classifier (``spirals-classifier`` v3's
   spec: 32 x 2 tanh MLP, 500 epochs) with the quickstart's own code and
   logs it exactly as the quickstart does (pt2 export, signature, input
   example, pinned torch), registered as ``spirals-classifier`` v1;
2. writes a two-spirals holdout of ``--rows`` rows (the quickstart's holdout
   generator, another seed) to ``data/holdout.csv`` inside the repository;
3. for each engine, writes a policy whose only gate is ``evaluate:`` on that
   file (accuracy, roc_auc, and for in-process a latency bound) and a
   manifest that promotes v1 to ``champion`` through it;
4. times the real CLI, ``python -m registry_ops --tracking-uri URI -C ROOT
   plan --format json``, as a subprocess: first **cold** (nothing cached:
   the model is loaded and every row scored, then the scores are written to
   the version as a ``registry_ops.eval.<key>`` tag), then **cached** (the
   second plan finds the tag and scores nothing). A plan of the same
   manifest without any gate is timed too: interpreter start, imports and
   the registry read, which every plan pays.

Reported per engine and size: wall of the plan, rows per second of the
whole plan and net of the gate-less plan, the scoring time the evaluation
itself recorded (``seconds`` in the cached record: predict calls
in-process, the whole UDF job on Spark) and its rows per second, the peak
RSS of the CLI process (its ``VmHWM``, read from ``/proc`` every 50 ms; not
``ru_maxrss``, which on Linux carries over the RSS of the process that
forked it, and this one has torch and MLflow loaded) and the highest sum of
RSS over the CLI and everything it started (sampled likewise: Spark's JVM
and its Python workers).

    python benchmarks/eval_benchmark.py [--rows 100000 [1000000 ...]]
        [--engines in-process spark] [--workdir DIR] [--keep]

Exit status: 0 when every plan passed its gate on every row and both
engines agree on the metrics (to 1e-9), 1 otherwise.
"""

from __future__ import annotations

import os

# Before anything imports mlflow: no telemetry.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # for benchmarks.common and an uninstalled package
    sys.path.insert(0, str(REPO))

from benchmarks.common import fmt_mib, sqlite_uri  # noqa: E402

MODEL = "spirals-classifier"
HOLDOUT_SEED = 99  # not the quickstart's training (7) or holdout (2024) seed
ENGINES = ("in-process", "spark")
METRICS = ("accuracy", "roc_auc")
EVAL_TAG_PREFIX = "registry_ops.eval."


@dataclass
class Run:
    """One measured CLI plan."""

    engine: str
    rows: int
    phase: str  # "no gate", "cold", "cached"
    wall: float
    cli_rss: int  # bytes, the CLI process's own peak (VmHWM)
    tree_rss: int  # bytes, highest sampled sum over the CLI and its descendants
    cached: bool | None = None
    scoring_seconds: float | None = None
    metrics: dict[str, float] | None = None


# ---- setup ------------------------------------------------------------------------------


def register_quickstart_model(uri: str, artifacts: Path) -> None:
    """Train the quickstart's v3 classifier and register it as ``MODEL`` v1, as it does."""
    import mlflow
    import mlflow.pytorch

    from registry_ops.quickstart import __main__ as quickstart
    from registry_ops.quickstart.spirals import make_spirals, train

    quickstart._quiet_mlflow()
    spec = next(v for v in quickstart.VERSIONS if v.run_name == "classifier-large")
    features, labels = make_spirals(
        quickstart.N_TRAIN + quickstart.N_VAL, quickstart.DATA_NOISE, quickstart.DATA_SEED
    )
    n = quickstart.N_TRAIN
    result = train(
        spec.hidden, spec.depth, spec.epochs, quickstart.MODEL_SEED,
        features[:n], labels[:n], features[n:], labels[n:],
    )  # fmt: skip
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("eval-benchmark", artifact_location=artifacts.as_uri())
    with quickstart._without_mlflow_chatter(), mlflow.start_run(experiment_id=experiment):
        mlflow.log_metrics({"val_accuracy": result.val_accuracy, "val_loss": result.val_loss})
        mlflow.pytorch.log_model(
            result.model,
            name="model",
            registered_model_name=MODEL,
            **quickstart.model_logging_kwargs(result.model, features[n : n + 5]),
        )


def write_holdout(root: Path, rows: int) -> Path:
    """``rows`` two-spirals points in the quickstart holdout's format, at ``data/holdout.csv``."""
    from registry_ops.quickstart.holdout import holdout_csv

    path = root / "data" / "holdout.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(holdout_csv(rows, HOLDOUT_SEED), encoding="utf-8")
    return path


def write_repo(root: Path, engine: str | None) -> None:
    """A manifest promoting v1 to champion, gated by ``evaluate:`` on ``engine`` (None: no gate)."""
    (root / "manifests").mkdir(parents=True, exist_ok=True)
    (root / "policies").mkdir(exist_ok=True)
    for old in (root / "policies").glob("*.yaml"):
        old.unlink()
    manifest = f"apiVersion: registry-ops/v1\nkind: ModelManifest\nmodel: {MODEL}\n"
    manifest += "aliases: {champion: 1}\n"
    if engine is not None:
        manifest += "gates: {champion: live}\n"
        metrics = ", ".join(f"{m}: {{min: 0.9}}" for m in METRICS)
        gate = (
            "  - evaluate:\n      dataset: data/holdout.csv\n      targets: label\n"
            f"      metrics: {{{metrics}}}\n"
        )
        if engine == "spark":
            gate += "      engine: spark\n"
        else:
            gate += "      latency_p95_ms: 1000\n"
        (root / "policies" / "live.yaml").write_text(
            "apiVersion: registry-ops/v1\nkind: GatePolicy\nname: live\ngates:\n" + gate
        )
    (root / "manifests" / "spirals.yaml").write_text(manifest)


# ---- measuring ------------------------------------------------------------------------


def _tree_rss(root_pid: int) -> int:
    """Sum of VmRSS over ``root_pid`` and its descendants (Linux ``/proc``; 0 elsewhere)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * page
    tree, frontier = {root_pid}, {root_pid}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - tree
        tree |= frontier
    return sum(rss.get(pid, 0) for pid in tree)


def _hwm(pid: int) -> int:
    """Peak RSS of ``pid`` so far (``VmHWM``; reset by exec, so the parent's size is not in it)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:  # exited meanwhile
        pass
    return 0


def run_plan(root: Path, uri: str) -> tuple[dict[str, Any], float, int, int]:
    """One ``plan --format json`` subprocess: (JSON, wall, own peak RSS, sampled tree peak)."""
    cmd = [sys.executable, "-m", "registry_ops", "--tracking-uri", uri, "-C", str(root)]
    cmd += ["plan", "--format", "json"]
    env = dict(os.environ)
    env.pop("MLFLOW_TRACKING_URI", None)
    peak = own = 0
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=err)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak, own
            while not done.wait(0.05):
                own = max(own, _hwm(proc.pid))
                peak = max(peak, _tree_rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, _ = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise RuntimeError(f"plan exited {proc.returncode}:\n{stderr[-3000:]}")
    return json.loads(stdout), wall, own, max(peak, own)


def scoring_record(uri: str, engine: str, digest: str) -> dict[str, Any]:
    """The evaluation record the gate cached on v1 for ``engine`` and the holdout ``digest``."""
    from mlflow.tracking import MlflowClient

    tags = MlflowClient(uri).get_model_version(MODEL, "1").tags
    for key, value in tags.items():
        if key.startswith(EVAL_TAG_PREFIX):
            record: dict[str, Any] = json.loads(value)
            if record.get("engine") == engine and record.get("digest") == digest:
                return record
    raise RuntimeError(f"no cached evaluation for the {engine} engine on {MODEL} v1")


def measure(root: Path, uri: str, engine: str | None, rows: int, phase: str) -> Run:
    """Plan once and read what the gate saw."""
    data, wall, own, tree = run_plan(root, uri)
    change = next(c for m in data["models"] for c in m["changes"] if c.get("alias") == "champion")
    run = Run(engine or "-", rows, phase, wall, own, tree)
    if engine is None:
        return run
    if change["blocked"]:
        raise RuntimeError(f"the gate blocked the promotion: {change['gates']}")
    results = [g for g in change["gates"] if not g["name"].startswith("latency")]
    if any(g["evidence"]["rows"] != rows for g in results):
        raise RuntimeError(f"expected {rows} rows: {results}")
    run.cached = all(g["evidence"]["cached"] for g in results)
    run.metrics = {g["name"].split(" ", 1)[0]: g["observed"] for g in results}
    digest = results[0]["evidence"]["digest"]
    run.scoring_seconds = float(scoring_record(uri, engine, digest)["seconds"])
    return run


# ---- report ----------------------------------------------------------------------------


def _rate(rows: int, seconds: float | None) -> str:
    if seconds is None or seconds <= 0:
        return "-"
    return f"{rows / seconds:,.0f}"


def report(runs: Sequence[Run]) -> str:
    """The table."""
    base = {r.rows: r.wall for r in runs if r.phase == "no gate"}
    header = (
        "engine", "rows", "plan", "wall", "rows/s (wall)", "rows/s (net)",
        "scoring", "rows/s (scoring)", "RSS CLI", "RSS CLI+children",
    )  # fmt: skip
    lines: list[tuple[str, ...]] = []
    for r in runs:
        net = r.wall - base[r.rows] if r.phase == "cold" and r.rows in base else None
        scoring = f"{r.scoring_seconds:.2f} s" if r.scoring_seconds is not None else "-"
        lines.append(
            (
                r.engine,
                f"{r.rows:,}",
                r.phase,
                f"{r.wall:.2f} s",
                _rate(r.rows, r.wall) if r.phase != "no gate" else "-",
                _rate(r.rows, net) if net is not None else "-",
                scoring if r.phase == "cold" else "(cached)" if r.phase == "cached" else "-",
                _rate(r.rows, r.scoring_seconds) if r.phase == "cold" else "-",
                fmt_mib(r.cli_rss),
                fmt_mib(r.tree_rss),
            )
        )
    widths = [max(len(row[i]) for row in (header, *lines)) for i in range(len(header))]
    out = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(header)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in lines]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000], metavar="N")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--workdir", type=Path, help="default: a temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="eval-bench-", dir=args.workdir))
    try:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(
            f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {load:.1f}; "
            f"work directory {work}",
            flush=True,
        )
        uri = sqlite_uri(work / "mlflow.db")
        began = time.perf_counter()
        register_quickstart_model(uri, work / "artifacts")
        print(f"trained and registered the model in {time.perf_counter() - began:.1f} s")
        runs: list[Run] = []
        for rows in args.rows:
            root = work / f"repo-{rows}"
            write_holdout(root, rows)
            write_repo(root, None)
            runs.append(measure(root, uri, None, rows, "no gate"))
            for engine in args.engines:
                write_repo(root, engine)
                for phase in ("cold", "cached"):
                    run = measure(root, uri, engine, rows, phase)
                    if run.cached != (phase == "cached"):
                        raise RuntimeError(f"{engine} {phase}: evidence cached={run.cached}")
                    runs.append(run)
                    print(
                        f"  {engine:10} {rows:>10,} rows  {phase:6}  {run.wall:6.2f} s", flush=True
                    )
        print()
        print(report(runs))
        ok = True
        for rows in args.rows:
            scored = [r for r in runs if r.rows == rows and r.phase == "cold" and r.metrics]
            for r in scored:
                print(f"{r.engine} on {rows:,} rows: {r.metrics}")
            if len(scored) == 2:
                a, b = (r.metrics or {} for r in scored)
                differ = {m for m in a if abs(a[m] - b.get(m, float("nan"))) > 1e-9 * abs(a[m])}
                if differ or a.keys() != b.keys():
                    print(f"FAIL: the engines disagree on {sorted(differ)} at {rows:,} rows")
                    ok = False
        return 0 if ok else 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
