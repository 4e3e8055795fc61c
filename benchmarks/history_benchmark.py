"""How fast ``history MODEL --at TIME`` answers for a model with 1,000 manifest commits.

Builds, in a temporary directory:

* a git repository with ``--commits`` (1,000) commits that move the model's
  champion and Production, renamed half-way (``old-clf.yaml`` ->
  ``clf.yaml``), interleaved with ``--noise`` (2,000) commits to 50 other
  manifests, written in one ``git fast-import`` stream (about a second);
* a sqlite MLflow store with the model (5 versions) and ``--applies`` (1,000)
  runs of the apply log for it, written through registry-ops' own adapter.

Then measures, each the median of several runs:

1. git alone: find the manifest, one ``git log --follow -p`` of its history,
   parse every version of it (in-process);
2. ``history --at`` in-process with a connected registry: git (in a thread)
   plus the registry read and the apply-log search, the join, the answer;
3. the real CLI in a subprocess, ``registry-ops history clf --at ... --format
   json``, wall time, next to ``python -c 'import mlflow'`` alone (MLflow's
   import is a fixed cost of every command that talks to a registry).

Target: (2) under 1 s. Exit status 0 when it passes and the answer is right.

    .venv/bin/python benchmarks/history_benchmark.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START = datetime(2025, 1, 1, tzinfo=UTC)
MODEL = "clf"


def manifest(model: str, version: int) -> str:
    return (
        "# yaml-language-server: $schema=../registry_ops/schemas/manifest.schema.json\n"
        "apiVersion: registry-ops/v1\nkind: ModelManifest\n"
        f"model: {model}\ndescription: benchmark model {model}\n"
        "tags: {team: research, tier: '1'}\n"
        f"aliases:\n  champion: {version}\n  challenger: {version + 1}\n"
        f"stages:\n  Production: {version}\n  Staging: {version + 1}\n"
        "gates:\n  champion: production\n"
        "retention:\n  archive_unlisted: true\n  keep_latest: 5\n"
    )


def build_repo(root: Path, commits: int, noise: int) -> dict[int, tuple[datetime, int]]:
    """The repository; returns commit index -> (time, champion version) for the model."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    lines: list[bytes] = []
    truth: dict[int, tuple[datetime, int]] = {}
    total = commits + noise
    every = max(1, total // max(1, commits))
    model_done = 0
    for mark, i in enumerate(range(total), start=1):
        when = START + timedelta(minutes=30 * i)
        stamp = f"{int(when.timestamp())} +0000"
        is_model = model_done < commits and (i % every == 0 or total - i <= commits - model_done)
        if is_model:
            version = 1 + model_done % 5
            name = "old-clf.yaml" if model_done < commits // 2 else "clf.yaml"
            body = manifest(MODEL, version).encode()
            message = f"promote {MODEL} champion to v{version}".encode()
            truth[model_done] = (when, version)
            model_done += 1
        else:
            other = f"model-{i % 50}"
            name = f"{other}.yaml"
            body = manifest(other, 1 + i % 7).encode()
            message = f"promote {other}".encode()
        lines.append(b"commit refs/heads/main\n")
        lines.append(f"mark :{mark}\n".encode())
        who = b"Ada <ada@example.com>" if i % 2 else b"Bob <bob@example.com>"
        lines.append(b"author " + who + b" " + stamp.encode() + b"\n")
        lines.append(b"committer " + who + b" " + stamp.encode() + b"\n")
        lines.append(f"data {len(message)}\n".encode() + message + b"\n")
        if mark > 1:
            lines.append(f"from :{mark - 1}\n".encode())
        if is_model and model_done - 1 == commits // 2:
            lines.append(b"D manifests/old-clf.yaml\n")  # the rename (git detects it)
        lines.append(f"M 100644 inline manifests/{name}\n".encode())
        lines.append(f"data {len(body)}\n".encode() + body + b"\n")
    subprocess.run(
        ["git", "-C", str(root), "fast-import", "--quiet"], input=b"".join(lines), check=True
    )
    subprocess.run(["git", "-C", str(root), "checkout", "-q", "main"], check=True)
    (root / "policies").mkdir(exist_ok=True)
    return truth


def seed_registry(uri: str, artifacts: str, applies: int, truth: dict[int, tuple[datetime, int]]):  # type: ignore[no-untyped-def]
    from registry_ops.pipeline import audit
    from registry_ops.registry import Registry
    from registry_ops.registry.applylog import ApplyLog
    from tests.support.seed import Seeder

    seeder = Seeder(uri, artifacts)
    for _ in range(5):
        seeder.version(MODEL, val_accuracy=0.9)
    seeder.client.set_registered_model_alias(MODEL, "champion", str(truth[len(truth) - 1][1]))
    log = ApplyLog(Registry(uri))
    experiment = log.experiment_id(
        audit.EXPERIMENT, create=True, artifact_location=artifacts + "/applies"
    )
    assert experiment is not None
    step = max(1, len(truth) // applies)
    previous = None
    for index in range(0, len(truth), step):
        when, version = truth[index]
        applied_at = (when + timedelta(minutes=5)).isoformat(timespec="microseconds")
        change = {"action": "set_alias", "target": "alias:champion", "previous": previous,
                  "new": version, "reason": "manifest", "landed": True}  # fmt: skip
        tags = {
            audit.TAG_APPLIED_AT: applied_at,
            audit.TAG_ACTOR: "ci",
            audit.TAG_COMMIT: f"{index:040x}",
            audit.TAG_OUTCOME: "applied",
            audit.model_tag(MODEL): audit.summary_tag({"status": "applied", "changes": [change]}),
        }
        run_id = log.start_run(experiment, f"apply {index}", tags)
        log.end_run(run_id)
        previous = version


def median_time(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--noise", type=int, default=2000)
    parser.add_argument("--applies", type=int, default=1000)
    args = parser.parse_args()

    from registry_ops.gitops import history
    from registry_ops.registry import Registry

    with tempfile.TemporaryDirectory(prefix="history-bench-") as tmp:
        root = Path(tmp) / "repo"
        began = time.perf_counter()
        truth = build_repo(root, args.commits, args.noise)
        built = time.perf_counter() - began
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        began = time.perf_counter()
        seed_registry(uri, (Path(tmp) / "artifacts").as_uri(), args.applies, truth)
        seeded = time.perf_counter() - began
        print(
            f"repository: {args.commits} commits of {MODEL} + {args.noise} others in "
            f"{built:.1f} s; registry: {args.applies} apply-log runs in {seeded:.1f} s"
        )

        probe_index = len(truth) * 3 // 4
        probe_time, wanted = truth[probe_index]
        at = probe_time + timedelta(minutes=10)  # after that commit's apply

        def git_only() -> None:
            history.clear_cache()  # measure a cold parse, as a new process has
            found = history.find_manifest(root, MODEL)
            assert found is not None
            desired = history.desired_history(found[1], MODEL)
            assert len(desired) == args.commits, len(desired)

        registry = Registry(uri)

        def in_process() -> dict[str, object]:
            history.clear_cache()
            found = history.collect(root, MODEL, lambda: registry)
            return found.at(at)

        answer = in_process()
        held = answer["targets"]["alias:champion"]["holders"]  # type: ignore[index]
        right = [h["version"] for h in held] == [wanted]
        git_s = median_time(git_only, 5)
        at_s = median_time(in_process, 5)

        cli = [sys.executable, "-m", "registry_ops", "--tracking-uri", uri, "-C", str(root),
               "history", MODEL, "--at", at.isoformat(), "--format", "json"]  # fmt: skip
        env = dict(os.environ)

        def run_cli() -> None:
            out = subprocess.run(cli, capture_output=True, text=True, env=env, cwd=ROOT)
            assert out.returncode == 0, out.stderr
            data = json.loads(out.stdout)
            got = [h["version"] for h in data["at"]["targets"]["alias:champion"]["holders"]]
            assert got == [wanted], got

        cli_s = median_time(run_cli, 3)
        import_s = median_time(
            lambda: subprocess.run([sys.executable, "-c", "import mlflow"], check=True, env=env),
            3,
        )
        ok = at_s < 1.0 and right
        print(f"{'measure':<58} {'seconds':>8}  target")
        print(f"{'git: find + git log --follow -p + parse 1,000 versions':<58} {git_s:>8.3f}")
        print(f"{'history --at in-process (git || registry + apply log, join)':<58} "
              f"{at_s:>8.3f}  < 1 s {'PASS' if at_s < 1.0 else 'FAIL'}")  # fmt: skip
        print(f"{'history --at, the CLI in a subprocess (wall)':<58} {cli_s:>8.3f}")
        print(f"{'  of which: python -c import mlflow alone':<58} {import_s:>8.3f}")
        print(f"answer at {at.isoformat()}: champion v{wanted} "
              f"{'(right)' if right else '(WRONG: ' + json.dumps(held)[:200] + ')'}")  # fmt: skip
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
