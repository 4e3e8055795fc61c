"""The README's "GitOps in five minutes", run as written, in act (a real Actions engine).

A fork of this repository as it ships (its tracked files, its own workflows and action),
a fresh ``mlflow server`` seeded by the quickstart, then the guide's steps: the first
apply run (workflow_dispatch), a pull request that makes v3 the challenger, its merge,
and ``history``. Each step asserts the registry and the jobs' outcomes; the outputs the
README shows are this run's: the test fails when a README block differs from it beyond
figures, ids and times, and ``REGISTRY_OPS_UPDATE_README=1`` rewrites the blocks.

One setting differs from a GitHub runner: the repository variable
``REGISTRY_OPS_ENV_MANAGER=local``. The shipped workflows make each model's environment
with uv, which takes torch from PyTorch's CPU wheel index; this machine reaches PyPI
only, so the models run in the runner's Python, which has torch (the stand-in
setup-python's venv sees the test environment's packages).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry_ops.render.markdown import MARKER
from tests.conftest import REPO
from tests.support.act import Act, Run, tracked_tree
from tests.support.mlflow_server import mlflow_server
from tests.test_workflows import ADA, PLAN_KEY, Team

README = REPO / "README.md"
MODEL = "spirals-classifier"
EXPERIMENT = "spirals-experimental"
#: A README block this run writes: ``<!-- five-minutes:NAME -->`` .. ``<!-- /five-minutes -->``.
BLOCK = re.compile(
    r"^([ >]*)<!-- five-minutes:(\w+) -->\n(.*?)^[ >]*<!-- /five-minutes -->$", re.M | re.S
)
VARIABLES = {"REGISTRY_OPS_ENV_MANAGER": "local"}
#: Who starts the runs (``github.actor``: the apply log records it).
ACTOR = "ada-lovelace"


class Fork(Team):
    """This repository's tracked files (as they are in the work tree) in a new git repository,
    as a fork is: its own workflows, its own action, installed from its own checkout."""

    def __init__(self, tmp_path: Path, uri: str) -> None:  # no scaffold, unlike Team
        self.uri = uri
        self.root = tmp_path / "fork"
        self.origin = tmp_path / "origin.git"
        tracked_tree(REPO, self.root)
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(self.origin)], check=True)
        self.git("init", "-q", "-b", "main")
        self.git("remote", "add", "origin", "https://github.com/acme/models.git")
        self.git("config", "remote.origin.pushurl", str(self.origin))
        self.commit("registry-ops, forked")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry of its own: the quickstart needs one where its version numbers are free."""
    with mlflow_server(tmp_path_factory.mktemp("five-minutes-server")) as uri:
        yield uri


def secrets(uri: str, key: bool) -> dict[str, str]:
    found = {"GITHUB_TOKEN": "ghs_test", "MLFLOW_TRACKING_URI": uri}
    return {**found, "REGISTRY_OPS_PLAN_KEY": PLAN_KEY} if key else found


def applied(run: Run) -> str:
    """What the apply job printed (its uploaded output)."""
    (output,) = run.world.artifacts.glob("registry-ops-apply-*")
    return (output / "apply.out").read_text()


def holders(fork: Fork, model: str) -> dict[str, str]:
    from mlflow import MlflowClient

    client = MlflowClient(fork.uri)
    found = {f"alias {a}": v for a, v in client.get_registered_model(model).aliases.items()}
    for version in client.search_model_versions(f"name='{model}'"):
        if version.current_stage not in ("None", "Archived"):
            found[f"stage {version.current_stage}"] = version.version
    return found


def history(fork: Fork, model: str, monkeypatch: pytest.MonkeyPatch) -> str:
    from registry_ops.cli import main

    monkeypatch.setenv("REGISTRY_OPS_PLAN_KEY", PLAN_KEY)  # the apply log's runs verify
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        main(["-C", str(fork.root), "--tracking-uri", fork.uri, "history", model])
    assert exit_info.value.code == 0, out.getvalue()
    return out.getvalue()


def test_gitops_in_five_minutes_on_a_fork(
    act: Act, server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fork = Fork(tmp_path, server)
    shown: dict[str, str] = {}

    # 1. the quickstart's models, in the team's registry
    seeded = subprocess.run(
        [sys.executable, "-m", "registry_ops.quickstart"], cwd=fork.root,
        env={**os.environ, "MLFLOW_TRACKING_URI": server, "MLFLOW_DISABLE_TELEMETRY": "true"},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    shown["seed"] = seeded.stdout
    # the first apply run (Actions > registry-ops apply > Run workflow)
    dispatch = {"inputs": {}, "ref": "refs/heads/main", "repository": {"full_name": "acme/models"}}
    run = act.run(fork.root, "apply.yml", "workflow_dispatch", dispatch, secrets(server, True),
                  variables=VARIABLES, actor=ACTOR)  # fmt: skip
    # the experiment is blocked on purpose: the plan job says so, the apply job applies the rest
    assert run.job("plan").result == "failure", run.explain()
    assert run.job("plan").output("verdict", "blocked") == EXPERIMENT, run.explain()
    assert run.job("apply").result == "success", run.explain()
    shown["adopt"] = applied(run)
    assert holders(fork, MODEL) == {
        "alias champion": "3", "alias challenger": "2",
        "stage Production": "3", "stage Staging": "2",
    }  # fmt: skip
    assert holders(fork, EXPERIMENT) == {}

    # 2. a manifest edited on a branch
    fork.git("checkout", "-q", "-b", "promote-v3")
    path = "manifests/spirals-classifier.yaml"
    text = (fork.root / path).read_text()
    assert text.count("  challenger: 2\n") == 1
    fork.write(path, text.replace("  challenger: 2\n", "  challenger: 3\n"))
    fork.commit("Make v3 the challenger too: it beats v2 on the holdout", author=ADA)

    # 3. the pull request: one comment, the check green (the blocked experiment is not its doing)
    run = act.run(fork.root, "plan.yml", "pull_request", fork.pull_request("promote-v3", 1),
                  secrets(server, False), variables=VARIABLES, actor=ACTOR)  # fmt: skip
    assert run.job("plan").result == "success", run.explain()
    assert run.job("plan").output("plan/run", "exit-code") == "2"
    (posted,) = run.world.api("issues.createComment")
    body: str = posted["body"]
    assert body.startswith(MARKER) and "alias challenger: v2 -&gt; v3" in body
    assert EXPERIMENT not in body
    shown["comment"] = body
    assert holders(fork, MODEL)["alias challenger"] == "2"  # a preview changes nothing

    # 4. the merge: planned, signed, approved, applied
    run = act.run(fork.root, "apply.yml", "push", fork.merge("promote-v3"),
                  secrets(server, True), variables=VARIABLES, actor=ACTOR)  # fmt: skip
    assert run.job("plan").output("verdict", "blocked") == EXPERIMENT, run.explain()
    assert run.job("apply").result == "success", run.explain()
    shown["apply"] = applied(run)
    assert "Applied 1 change to 1 model(s)." in shown["apply"]
    assert holders(fork, MODEL)["alias challenger"] == "3"

    # 5. what happened
    shown["history"] = history(fork, MODEL, monkeypatch)
    assert "Drift: none" in shown["history"]

    check_readme(shown)


def check_readme(shown: dict[str, str]) -> None:
    """The README's blocks are this run's output (up to figures, ids and times), or, with
    ``REGISTRY_OPS_UPDATE_README=1``, become it."""
    text = README.read_text()
    found = {m.group(2): m for m in BLOCK.finditer(text)}
    assert set(found) == set(shown), f"README blocks {sorted(found)}, run gave {sorted(shown)}"
    if os.environ.get("REGISTRY_OPS_UPDATE_README") == "1":
        for name, match in sorted(found.items(), key=lambda item: -item[1].start()):
            text = (
                text[: match.start()]
                + block(match.group(1), name, shown[name])
                + text[match.end() :]
            )
        README.write_text(text)
        return
    for name, match in found.items():
        assert shape(match.group(3), match.group(1)) == shape(render(name, shown[name]), ""), (
            f"README block {name!r} is not what the run printed; rerun with "
            "REGISTRY_OPS_UPDATE_README=1 to rewrite it"
        )


def render(name: str, output: str) -> str:
    """A block's body: the comment as the markdown it is, every other output fenced."""
    body = output.rstrip("\n")
    return body + "\n" if name == "comment" else f"```\n{body}\n```\n"


def block(prefix: str, name: str, output: str) -> str:
    lines = [f"<!-- five-minutes:{name} -->", *render(name, output).splitlines(),
             "<!-- /five-minutes -->"]  # fmt: skip
    return "\n".join((prefix + line).rstrip() for line in lines)


def shape(body: str, prefix: str) -> list[str]:
    """Lines without the block's indentation, hex ids, digits and runs of spaces."""
    out = []
    for line in body.splitlines():
        line = line.removeprefix(prefix) if line.startswith(prefix) else line.strip()
        line = line.removeprefix(">") if ">" in prefix and line == ">" else line
        line = re.sub(r"[0-9a-f]{7,}", "H", line)
        line = re.sub(r"\d+", "N", line)
        out.append(re.sub(r"\s+", " ", line).strip())
    return out


def test_a_readme_block_may_differ_in_figures_ids_and_times_not_in_words() -> None:
    ran = "  applied run 2bfb80cf2062 at 2026-12-04 05:12:44Z  (p95 40.39 ms)\n"
    shown = "   > " + "  applied run 0c9fd56fe436 at 2026-11-24 13:37:00Z    (p95 1.5 ms)\n"
    assert shape(shown, "   > ") == shape(ran, "")
    assert shape(shown.replace("applied", "planned"), "   > ") != shape(ran, "")
    assert shape("   >\n", "   > ") == shape("\n", "")
