"""A password in the tracking URI never leaves: not in any output, saved plan or apply log.

Every command runs over HTTP against a real ``mlflow server`` (which accepts any
basic-auth credentials) with credentials in ``MLFLOW_TRACKING_URI`` or
``--tracking-uri``: a user and password holding special characters (``@``, and
``#``, ``/``, ``?`` percent-encoded so the URI still works), and a bare token.
Then stdout, stderr, the saved plan and every run of the apply log (tags,
params and downloaded artifacts) are searched for the secret in every spelling.
A password with those characters unencoded makes a URI urllib reads another
way (``http://alice:pa#ss@host`` is host ``alice``, port ``pa``): every command
then fails to connect, and says so without the password.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote, unquote

import git
import pytest

from registry_ops.pipeline.audit import EXPERIMENT
from tests.conftest import Result
from tests.support.backends import only

pytestmark = pytest.mark.http

PRODUCTION = "    - metric: val_accuracy\n      min: 0.9\n"


def spellings(secret: str) -> set[str]:
    """The secret as it may appear: as given, decoded, encoded, and its longer pieces."""
    shapes = {secret, unquote(secret), quote(unquote(secret), safe="")}
    return {s for s in shapes if len(s) >= 6}


def assert_absent(label: str, text: str, secret: str) -> None:
    for shape in spellings(secret):
        assert shape not in text, (label, shape, text[-3000:])


def with_credentials(server: str, userinfo: str) -> str:
    return server.replace("http://", f"http://{userinfo}@", 1)


@pytest.fixture
def repo(backend, workspace):  # type: ignore[no-untyped-def]
    """Two models, a policy, a git repository: enough for every command to do its work."""
    clf, other = backend.name("clf"), backend.name("other")
    backend.seeder.version(clf, val_accuracy=0.95)
    backend.seeder.version(clf, val_accuracy=0.97)
    backend.seeder.version(other, val_accuracy=0.95)
    workspace.policy("production", PRODUCTION)
    workspace.manifest(clf, "aliases: {champion: 1}\ngates: {champion: production}\n")
    workspace.manifest(other, "aliases: {champion: 1}\n", name="other")
    history = git.Repo.init(workspace.root)
    history.index.add(["manifests", "policies"])
    history.index.commit("promote")
    return clf, other


def every_command(run, root: Path, clf: str, other: str, tmp: Path) -> list[tuple[str, Result]]:  # type: ignore[no-untyped-def]
    """Run each command (each format) once; (label, result) for each."""
    saved = tmp / "plan.json"
    out: list[tuple[str, Result]] = [("validate", run("validate"))]
    for fmt in ("text", "json", "markdown", "github"):
        out.append((f"plan {fmt}", run("plan", "--format", fmt, clf, other)))
    out.append(("plan --out", run("plan", "--out", str(saved), clf, other)))
    out.append(("show", run("show", str(saved), "--format", "json")))
    out.append(("status", run("status", clf, other)))
    out.append(("status json", run("status", clf, "--format", "json")))
    out.append(("compare", run("compare", clf, "--format", "json")))
    out.append(("propose", run("propose", "--dry-run", clf)))
    out.append(("apply", run("apply", "--yes", clf)))
    out.append(("apply saved (stale)", run("apply", "--yes", str(saved))))
    out.append(("apply other", run("apply", "--yes", other)))
    out.append(("history", run("history", clf, "--format", "json")))
    out.append(("history text", run("history", clf)))
    out.append(("export", run("export", clf, "--out-dir", str(tmp / "exported"))))
    out.append(("force-unlock", run("force-unlock", clf, "--yes")))
    return out


def apply_log_text(server: str, models: set[str], into: Path) -> str:
    """Tags, params and every artifact of the apply-log runs that touched ``models``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(server)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None
    texts = []
    for run in client.search_runs([experiment.experiment_id], max_results=1000):
        blob = repr(run.data.tags) + repr(run.data.params)
        if not any(m in blob for m in models):
            continue
        texts.append(blob)
        local = Path(client.download_artifacts(run.info.run_id, "", str(into / run.info.run_id)))
        texts += [p.read_text(errors="replace") for p in local.rglob("*") if p.is_file()]
    assert texts, "no apply-log run recorded these models"
    return "\n".join(texts)


# user:password with '@' raw, and '#', '/', '?' percent-encoded; and a bare token
USERINFO = {
    "password": ("alice", "S3cr3t@p%23ss%2Fw%3Fd!"),
    "token": ("", "tok_9f8e7d6c5b4a"),
}


@only("http-sqlite")
@pytest.mark.parametrize("how", ["env", "option"])
@pytest.mark.parametrize("kind", sorted(USERINFO))
def test_no_command_leaks_the_password(  # type: ignore[no-untyped-def]
    cli, backend, workspace, repo, tmp_path, monkeypatch, how, kind
):
    user, secret = USERINFO[kind]
    uri = with_credentials(backend.uri, f"{user}:{secret}" if user else secret)
    clf, other = repo
    if how == "env":
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)

        def run(*args: str) -> Result:
            return cli("-C", str(workspace.root), *args)
    else:

        def run(*args: str) -> Result:
            return cli("--tracking-uri", uri, "-C", str(workspace.root), *args)

    results = every_command(run, workspace.root, clf, other, tmp_path)
    codes = {label: r.code for label, r in results}
    assert codes["apply"] == 0 and codes["apply other"] == 0, results
    assert codes["apply saved (stale)"] == 4, codes
    for label, result in results:
        assert "Traceback" not in result.err, (label, result.err)
        assert_absent(label, result.out + result.err, secret)
    assert_absent("saved plan", (tmp_path / "plan.json").read_text(), secret)
    for path in (tmp_path / "exported").rglob("*"):
        assert_absent(str(path), path.read_text(), secret)
    assert_absent("apply log", apply_log_text(backend.uri, {clf, other}, tmp_path), secret)


@only("http-sqlite")
def test_mlflows_own_console_output_is_redacted_when_asked_for(  # type: ignore[no-untyped-def]
    backend, workspace, repo, tmp_path
):
    """With MLflow's "View run ... at: URI" line turned back on, the real console script
    still prints it only on stderr, and only redacted."""
    secret = "Pa55#w/rd?x"
    uri = with_credentials(backend.uri, f"alice:{quote(secret, safe='')}")
    clf, _ = repo
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT="false")
    proc = subprocess.run(
        [sys.executable, "-m", "registry_ops", "-C", str(workspace.root), "apply", "--yes", clf],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "View run" in proc.stderr and "alice:***@" in proc.stderr
    assert "View run" not in proc.stdout
    assert_absent("apply", proc.stdout + proc.stderr, quote(secret, safe=""))
    with tempfile.TemporaryDirectory() as tmp:
        assert_absent("apply log", apply_log_text(backend.uri, {clf}, Path(tmp)), secret)


@only("http-sqlite")
@pytest.mark.parametrize(
    "userinfo",
    ["alice:pa#ss/w?rd-91", "alice:pa/ss?w#rd-92", "alice:p@s#s?w/rd-93", "tok/en#x?y-94"],
)
def test_an_unencoded_password_fails_to_connect_without_showing_it(  # type: ignore[no-untyped-def]
    cli, backend, workspace, repo, userinfo
):
    secret = userinfo.partition(":")[2] if ":" in userinfo else userinfo
    uri = with_credentials(backend.uri, userinfo)
    clf, _ = repo
    for command in (["plan"], ["plan", "--format", "json"], ["apply", "--yes"], ["status"],
                    ["compare", clf], ["history", clf], ["export", clf], ["force-unlock", clf],
                    ["propose", "--dry-run"]):  # fmt: skip
        result = cli("--tracking-uri", uri, "-C", str(workspace.root), *command)
        assert result.code == 1, (command, result.out, result.err)
        assert "Traceback" not in result.err
        assert_absent(" ".join(command), result.out + result.err, secret)
        assert secret[2:] not in result.out + result.err, (command, result.err)  # nor its tail
        assert "***@127.0.0.1" in result.err, (command, result.err)
