"""Model code is untrusted: it runs in a child that holds no secret and cannot change a verdict.

Real pyfunc models (tests/support/hostile.py) logged with mlflow.pyfunc.log_model, planned
through the CLI with a plan key and password-bearing MLflow settings in the planning
process's environment. What the sandbox enforces beyond the environment (Landlock: no
reads of other processes or the repository, no TCP, no signals out) depends on the
kernel; those assertions say so when they are skipped.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from registry_ops.registry.sandbox import landlock_abi
from tests.conftest import Result, Workspace
from tests.support import hostile, models

CLI = Callable[..., Result]
KEY = "plan-key-" + secrets.token_hex(8)
PASSWORD = "hunter2-" + secrets.token_hex(8)
ABI = landlock_abi()
KINDS = ("good", "spy", "cheat", "sleeper", "hog", "crash", "garbage-mapping", "garbage-short",
         "garbage-nan", "garbage-objects")  # fmt: skip


@pytest.fixture(scope="module")
def listener() -> Iterator[int]:
    """A TCP port on loopback that accepts: an unauthenticated server a model might reach."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, listener: int) -> dict[str, Any]:
    """One registered model, ``hostile``, whose version N is ``KINDS[N-1]``."""
    import mlflow

    base = tmp_path_factory.mktemp("hostile")
    uri = f"sqlite:///{base / 'mlflow.db'}"
    outside = base / "repo" / "written-by-a-model.txt"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        mlflow.set_experiment(experiment_id=mlflow.create_experiment(
            "hostile", artifact_location=(base / "artifacts").as_uri()))  # fmt: skip
        facts = {"secrets": [KEY, PASSWORD], "outside": str(outside), "port": listener}
        numbers = {kind: hostile.log("hostile", kind, **facts) for kind in KINDS}
        for kind in ("good", "cheat", "spy"):  # newest last: what propose looks at first
            hostile.log("proposed", kind, **facts)
    finally:
        mlflow.set_tracking_uri(previous)
    return {"uri": uri, "base": base, "v": numbers, "outside": outside}


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The planning process holds the key and credentials, as a CI job does."""
    monkeypatch.setenv("REGISTRY_OPS_PLAN_KEY", KEY)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://ci:{PASSWORD}@127.0.0.1:9/")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", PASSWORD)
    monkeypatch.setenv("GITHUB_TOKEN", PASSWORD)


def repo(
    store: dict[str, Any],
    policy: str,
    aliases: dict[str, str],
    model: str = "hostile",
    policies: dict[str, str] | None = None,
) -> Workspace:
    """A repository whose manifest gives each alias the version of a kind, gated by ``p``
    (or by the policy ``policies`` names for it; ``q`` holds ``policy`` too)."""
    root = store["base"] / "repo"
    if root.exists():
        import shutil

        shutil.rmtree(root)
    workspace = Workspace(root)
    models.write_holdout(root)
    workspace.policy("p", policy)
    for name, text in (policies or {}).items():
        workspace.policy(name, text)
    body = "".join(f"  {a}: {store['v'][k]}\n" for a, k in aliases.items())
    gates = "".join(f"  {a}: {(policies and a in policies and a) or 'p'}\n" for a in aliases)
    workspace.manifest(model, f"aliases:\n{body}gates:\n{gates}")
    return workspace


def plan(cli: CLI, store: dict[str, Any], workspace: Workspace) -> tuple[Result, dict[str, Any]]:
    result = cli("--tracking-uri", store["uri"], "-C", str(workspace.root), "plan",
                 "--format", "json")  # fmt: skip
    assert result.code == 0, result.err
    data = json.loads(result.out)
    gates = {c["alias"]: c["gates"] for m in data["models"] for c in m["changes"] if c.get("alias")}
    return result, gates


def findings(detail: str) -> dict[str, Any]:
    assert "FINDINGS " in detail, detail
    found: dict[str, Any] = json.loads(detail.split("FINDINGS ", 1)[1])
    return found


EVALUATE = """\
    - loadable: true
    - evaluate:
        dataset: data/holdout.csv
        targets: label
        metrics: {accuracy: {min: 0.9}}
"""
ONLY_EVALUATE = EVALUATE.replace("    - loadable: true\n", "")


def test_model_code_finds_no_key_and_no_credentials(
    cli: CLI, store: dict[str, Any], secret_env: None
) -> None:
    # A same-user process holding the key, as the shell of a CI step that set it does.
    holder = subprocess.Popen(["sleep", "120"], env={"REGISTRY_OPS_PLAN_KEY": KEY})
    try:
        workspace = repo(store, EVALUATE, {"spy": "spy"})
        result, gates = plan(cli, store, workspace)
    finally:
        holder.kill()
        holder.wait()
    assert KEY not in result.out + result.err and PASSWORD not in result.out + result.err
    [loadable, evaluate] = gates["spy"]
    assert loadable["passed"] is False and evaluate["passed"] is False
    for found in (findings(loadable["detail"]), findings(evaluate["detail"])):
        assert found["secret_in_env"] is False
        assert not [k for k in found["env"] if k.startswith(("REGISTRY_OPS", "MLFLOW_TRACKING",
                                                             "AWS_", "GITHUB"))]  # fmt: skip
        assert {"PATH", "HOME", "TMPDIR", "MLFLOW_DISABLE_TELEMETRY"} <= set(found["env"])
        # The planning process is non-dumpable: its environ is closed to the child.
        assert found["parent_environ"] == "PermissionError"
        if ABI < 1:
            pytest.skip("no Landlock on this kernel: other processes and files stay readable")
        assert found["processes_with_secret"] == []
        assert found["wrote_outside"] == "PermissionError"
        assert not store["outside"].exists()
        if ABI >= 4:
            assert found["tcp"] == "PermissionError"
        if ABI >= 6:
            assert found["signal_parent"] == "PermissionError"


def test_a_model_that_replaces_the_metric_code_cannot_change_the_verdict(
    cli: CLI, store: dict[str, Any], secret_env: None
) -> None:
    workspace = repo(store, ONLY_EVALUATE, {"cheat": "cheat"})
    _, gates = plan(cli, store, workspace)
    [accuracy] = gates["cheat"]
    assert accuracy["name"] == "accuracy >= 0.9 on data/holdout.csv"
    assert accuracy["passed"] is False and 0.4 < accuracy["observed"] < 0.6
    assert accuracy["evidence"]["cached"] is False

    from mlflow.tracking import MlflowClient

    tags = MlflowClient(store["uri"]).get_model_version("hostile", str(store["v"]["cheat"])).tags
    [record] = [json.loads(v) for k, v in tags.items() if k.startswith("registry_ops.eval.")]
    assert record["metrics"]["accuracy"] == accuracy["observed"]
    assert record["mac"].startswith("hmac-sha256:")  # sealed under the plan key
    again = plan(cli, store, workspace)[1]["cheat"][0]
    assert again["evidence"]["cached"] is True and again["evidence"]["cache_trust"] == "verified"
    assert again["passed"] is False


LIMITS = ONLY_EVALUATE + "        timeout_seconds: 6\n        memory_mb: 1536\n"


def test_timeouts_memory_and_crashes_fail_only_their_gate(cli: CLI, store: dict[str, Any]) -> None:
    limited = {"sleeper": LIMITS, "hog": LIMITS, "crash": LIMITS}
    aliases = {"sleeper": "sleeper", "hog": "hog", "crash": "crash", "good": "good"}
    workspace = repo(store, ONLY_EVALUATE, aliases, policies=limited)
    _, gates = plan(cli, store, workspace)
    assert gates["good"][0]["passed"] is True, gates["good"]
    assert gates["good"][0]["observed"] == 1.0
    sleeper, hog, crash = gates["sleeper"][0], gates["hog"][0], gates["crash"][0]
    assert not sleeper["passed"] and not hog["passed"] and not crash["passed"]
    assert "did not finish within 6 s and was killed (timeout_seconds)" in sleeper["detail"]
    assert "MemoryError" in hog["detail"], hog["detail"]
    assert "its limit is 1536 MiB: memory_mb" in hog["detail"]
    assert "exited with status 3 without an answer" in crash["detail"]
    assert "the end is near" in crash["detail"]  # the tail of its stderr


GARBAGE = """\
    - evaluate:
        dataset: data/holdout.csv
        targets: label
        metrics: {accuracy: {min: 0.9}, f1: {min: 0.5}}
        latency_p95_ms: 10000
"""


def test_garbage_answers_fail_their_gate_with_a_reason(cli: CLI, store: dict[str, Any]) -> None:
    kinds = ("garbage-mapping", "garbage-short", "garbage-nan", "garbage-objects")
    workspace = repo(store, GARBAGE, {k: k for k in kinds})
    _, gates = plan(cli, store, workspace)
    reasons = {
        "garbage-mapping": "returned a mapping",
        "garbage-short": "returned 398 predictions for 400 rows",
        "garbage-nan": "returned NaN",
        "garbage-objects": "neither numbers nor strings",
    }
    for kind, reason in reasons.items():
        results = gates[kind]
        assert [r["passed"] for r in results] == [False, False, False], (kind, results)
        for result in results:
            assert reason in result["detail"], (kind, result["detail"])


def test_a_forged_cache_entry_is_recomputed_under_a_key(
    cli: CLI, seeder: Any, workspace: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A score written by hand into the registry decides nothing once a key is set."""
    from mlflow.tracking import MlflowClient

    clf = "forged"
    client = MlflowClient(seeder.uri)
    empty = seeder.version(clf)  # a version with no model files at all
    v1 = models.register(client, seeder.experiment, clf, "good", workdir=tmp_path)
    models.write_holdout(workspace.root)
    workspace.policy("p", ONLY_EVALUATE)
    monkeypatch.setenv("REGISTRY_OPS_PLAN_KEY", KEY)

    def gate(version: int) -> dict[str, Any]:
        workspace.manifest(clf, f"aliases: {{champion: {version}}}\ngates: {{champion: p}}\n")
        result = cli("--tracking-uri", seeder.uri, "-C", str(workspace.root), "plan",
                     "--format", "json")  # fmt: skip
        assert result.code == 0, result.err
        [change] = json.loads(result.out)["models"][0]["changes"]
        gate: dict[str, Any] = change["gates"][0]
        return gate

    assert gate(v1)["passed"] is True  # caches a genuine, sealed score on v1
    [(key, genuine)] = [(k, v) for k, v in client.get_model_version(clf, str(v1)).tags.items()
                        if k.startswith("registry_ops.eval.")]  # fmt: skip
    forged = {k: v for k, v in json.loads(genuine).items() if k != "mac"}
    for value in (json.dumps(forged), genuine):  # no MAC; v1's MAC copied to another version
        client.set_model_version_tag(clf, str(empty), key, value)
        result = gate(empty)
        assert result["passed"] is False and result["evidence"]["cached"] is False
        assert result["evidence"]["cache_trust"] == "refused"
        assert "could not be scored" in result["detail"], result["detail"]
    monkeypatch.delenv("REGISTRY_OPS_PLAN_KEY")
    client.set_model_version_tag(clf, str(empty), key, json.dumps(forged))
    unkeyed = gate(empty)  # without a key the cache is used as it is (docs/trust.md)
    assert unkeyed["passed"] is True and unkeyed["evidence"]["cache_trust"] == "unkeyed"


def test_propose_runs_newer_versions_in_the_sandbox(
    cli: CLI, store: dict[str, Any], secret_env: None
) -> None:
    """propose scores v3 (a spy) and v2 (the cheat) of ``proposed``: neither passes, and
    neither sees a secret; v1 holds champion already, so nothing is proposed."""
    import git

    workspace = repo(store, EVALUATE, {"champion": "good"}, model="proposed")
    repository = git.Repo.init(workspace.root, initial_branch="main")
    with repository.config_writer() as config:
        config.set_value("user", "name", "Ada Lovelace")
        config.set_value("user", "email", "ada@example.com")
    repository.git.add("--all")
    repository.git.commit("-qm", "manifests")
    from mlflow.tracking import MlflowClient

    MlflowClient(store["uri"]).set_registered_model_alias("proposed", "champion", "1")
    result = cli("--tracking-uri", store["uri"], "-C", str(workspace.root), "propose",
                 "--dry-run", "--format", "json")  # fmt: skip
    assert result.code == 0, result.err
    assert KEY not in result.out + result.err and PASSWORD not in result.out + result.err
    data = json.loads(result.out)
    assert data["proposals"] == [], data
    spy, cheat = data["rejected"]
    assert (spy["version"], cheat["version"]) == (3, 2)
    assert findings(spy["reason"].split(" (and ")[0])["secret_in_env"] is False
    assert "fails accuracy >= 0.9 on data/holdout.csv: accuracy = 0.5" in cheat["reason"]


def test_the_child_environment_is_an_allow_list(tmp_path: Path) -> None:
    from registry_ops.registry.sandbox import child_environment

    parent = {
        "PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "TZ": "UTC",
        "OMP_NUM_THREADS": "1", "PYTHONPATH": "/src",
        "REGISTRY_OPS_PLAN_KEY": KEY, "MLFLOW_TRACKING_URI": f"http://u:{PASSWORD}@h",
        "MLFLOW_TRACKING_TOKEN": PASSWORD, "AWS_SECRET_ACCESS_KEY": PASSWORD,
        "GITHUB_TOKEN": PASSWORD, "HOME": "/root", "TMPDIR": "/tmp", "SSH_AUTH_SOCK": "/s",
    }  # fmt: skip
    env = child_environment(tmp_path / "home", tmp_path / "tmp", parent)
    assert env == {
        "PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "TZ": "UTC",
        "OMP_NUM_THREADS": "1", "PYTHONPATH": "/src", "HOME": str(tmp_path / "home"),
        "TMPDIR": str(tmp_path / "tmp"), "MLFLOW_DISABLE_TELEMETRY": "true",
    }  # fmt: skip


def test_the_stderr_tail_is_redacted_and_trimmed(tmp_path: Path) -> None:
    from registry_ops.registry.sandbox import tail

    noise = b"".join(b"line %d\n" % i for i in range(100))
    raw = noise + f"at http://ci:{PASSWORD}@mlflow:5000 in {tmp_path}/model\x1b[31m\n".encode()
    shown = tail(raw, tmp_path)
    assert PASSWORD not in shown and "http://ci:***@mlflow:5000" in shown
    assert "<model dir>/model" in shown and "\x1b" not in shown
    assert shown.startswith("line 95 | ") and len(shown) <= 600
