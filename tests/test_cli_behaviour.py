"""The CLI as a user meets it: option order, dead servers, prompts, bugs, narrowing, edges."""

from __future__ import annotations

import json
import os
import pty
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry_ops.core.provenance import PROVENANCE_TAG
from tests.support.backends import SQLITE, only
from tests.support.mlflow_server import free_port
from tests.support.snapshot import registry_snapshot

REPO = Path(__file__).resolve().parent.parent


def test_global_options_after_the_subcommand(cli, seeder, workspace, tracking_uri):  # type: ignore[no-untyped-def]
    seeder.version("clf", val_accuracy=0.9)
    workspace.manifest("clf", "aliases: {champion: 1}\n")
    after = cli(
        "plan", "--tracking-uri", tracking_uri, "-C", str(workspace.root), "--format", "json"
    )
    assert after.code == 0, after.err
    assert json.loads(after.out)["status"] == "changes"
    mixed = cli("-C", "/nonexistent", "validate", "--root", str(workspace.root))
    assert mixed.code == 0 and "OK: 1 manifest" in mixed.out
    registry = cli("status", "--registry-uri", tracking_uri, "--tracking-uri", tracking_uri,
                   "-C", str(workspace.root))  # fmt: skip
    assert registry.code == 0 and "clf" in registry.out


def _env_without_test_overrides() -> dict[str, str]:
    """The user's default environment: no retry or timeout overrides from conftest."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_HTTP_REQUEST")}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return env


def test_unreachable_server_fails_fast_with_a_hint(workspace: object, tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    port = free_port()  # nobody listens: connection refused
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "registry_ops", "plan", "--tracking-uri",
         f"http://admin:s3cret@127.0.0.1:{port}", "-C", str(tmp_path)],
        capture_output=True, text=True, env=_env_without_test_overrides(), timeout=60,
    )  # fmt: skip
    elapsed = time.monotonic() - start
    assert done.returncode == 1
    assert elapsed < 30
    assert (
        f"cannot reach MLflow at http://admin:***@127.0.0.1:{port} while connecting" in done.stderr
    )
    assert "the connection was refused" in done.stderr or "no connection" in done.stderr
    assert "--tracking-uri or MLFLOW_TRACKING_URI" in done.stderr
    for internal in ("s3cret", "urllib3", "Max retries", "is_prompt", "Traceback"):
        assert internal not in done.stderr


@pytest.fixture
def hung_server() -> Iterator[int]:
    """Accepts TCP connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(sock.getsockname()[1])
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def test_hung_server_gives_up_within_30_s_and_notes_retries_on_a_terminal(  # type: ignore[no-untyped-def]
    hung_server, tmp_path: Path
):
    (tmp_path / "manifests").mkdir()
    main_fd, tty_fd = pty.openpty()  # stderr is a terminal: the retry note shows
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "registry_ops", "plan", "--tracking-uri",
         f"http://127.0.0.1:{hung_server}", "-C", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=tty_fd, env=_env_without_test_overrides(),
    )  # fmt: skip
    os.close(tty_fd)
    chunks = []
    while True:
        try:
            chunk = os.read(main_fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    code = proc.wait(timeout=60)
    elapsed = time.monotonic() - start
    os.close(main_fd)
    err = b"".join(chunks).decode()
    assert code == 1, err
    assert elapsed < 30, elapsed
    assert "retrying" in err
    assert "did not answer in time" in err and "hint:" in err


def test_an_internal_error_exits_70_with_a_redacted_traceback(cli, monkeypatch, workspace):  # type: ignore[no-untyped-def]
    import registry_ops.pipeline.plan

    def bug(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("reading http://admin:s3cret@mlflow.internal")

    monkeypatch.setattr(registry_ops.pipeline.plan, "make_plan", bug)
    workspace.manifest("clf", "aliases: {champion: 1}\n")
    monkeypatch.setattr(
        "registry_ops.pipeline.plan.Endpoint.connect", lambda self, on_retry=None: None
    )
    result = cli("-C", str(workspace.root), "plan")
    assert result.code == 70
    assert "Traceback" in result.err and "ZeroDivisionError" in result.err
    assert "s3cret" not in result.err and "admin:***@" in result.err
    assert "internal error in registry-ops (exit 70)" in result.err


def test_ctrl_c_exits_130(cli, monkeypatch, workspace):  # type: ignore[no-untyped-def]
    import registry_ops.pipeline.plan

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(registry_ops.pipeline.plan, "make_plan", interrupted)
    monkeypatch.setattr(
        "registry_ops.pipeline.plan.Endpoint.connect", lambda self, on_retry=None: None
    )
    workspace.manifest("clf", "aliases: {champion: 1}\n")
    result = cli("-C", str(workspace.root), "plan")
    assert result.code == 130 and "Interrupted." in result.err and "Traceback" not in result.err


def _answer(args: list[str], answer: bytes) -> tuple[int, str]:
    """Run the CLI with a terminal on stdin and stdout, typing ``answer`` at the prompt."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-m", "registry_ops", *args])
    out = b""
    sent = False
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if not sent and b"[y/N]" in out:
            os.write(fd, answer)
            sent = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


@only(SQLITE)
def test_the_confirmation_prompt(backend, workspace, cli):  # type: ignore[no-untyped-def]
    clf = backend.name("clf")
    backend.seeder.version(clf, val_accuracy=0.9)
    workspace.manifest(clf, "aliases: {champion: 1}\n")
    args = backend.args(workspace.root, "apply")
    no_tty = cli(*args)
    assert no_tty.code == 1 and "stdin is not a terminal (pass --yes)" in no_tty.err
    code, out = _answer(args, b"n\n")
    assert code == 1 and "Apply 1 change to 1 model(s)? [y/N]" in out
    assert "Apply cancelled; nothing was changed." in out
    assert backend.aliases(clf) == {}
    code, out = _answer(args, b"y\n")
    assert code == 0, out
    assert backend.aliases(clf) == {"champion": 1}


@only(SQLITE)
def test_apply_of_a_saved_plan_narrowed_to_one_model(backend, workspace, cli, tmp_path):  # type: ignore[no-untyped-def]
    a, b = backend.name("a"), backend.name("b")
    for model in (a, b):
        backend.seeder.version(model, val_accuracy=0.9)
    workspace.manifest(a, "aliases: {champion: 1}\n", name="a")
    workspace.manifest(b, "aliases: {champion: 1}\n", name="b")
    plan = tmp_path / "plan.json"
    assert cli(*backend.args(workspace.root, "plan", "--out", str(plan))).code == 0
    result = cli(*backend.args(workspace.root, "apply", "--yes", str(plan), b))
    assert result.code == 0, result.err
    assert backend.aliases(a) == {} and backend.aliases(b) == {"champion": 1}
    unknown = cli(*backend.args(workspace.root, "apply", "--yes", str(plan), "nope"))
    assert unknown.code == 1 and "does not cover model(s): nope" in unknown.err


def test_more_than_ten_models_by_name(backend, workspace, cli):  # type: ignore[no-untyped-def]
    names = [backend.name(f"m{i:02d}") for i in range(12)]
    for i, model in enumerate(names):
        backend.seeder.version(model, val_accuracy=0.9)
        workspace.manifest(model, "aliases: {champion: 1}\n", name=f"m{i:02d}")
    chosen = names[:11]
    plan = cli(*backend.args(workspace.root, "plan", "--format", "json", *chosen))
    assert plan.code == 0, plan.err
    data = json.loads(plan.out)
    assert sorted(m["model"] for m in data["models"]) == sorted(chosen)
    assert all(len(m["changes"]) == 1 for m in data["models"])
    assert cli(*backend.args(workspace.root, "apply", "--yes", *chosen)).code == 0
    assert backend.aliases(names[10]) == {"champion": 1} and backend.aliases(names[11]) == {}


@only(SQLITE)
def test_verification_catches_another_writer_mid_apply(backend, workspace, cli, monkeypatch):  # type: ignore[no-untyped-def]
    """A writer outside registry-ops moves the alias right after apply set it:
    the post-apply check re-reads, re-plans and fails loudly."""
    from registry_ops.registry import Registry

    clf = backend.name("clf")
    for _ in range(2):
        backend.seeder.version(clf, val_accuracy=0.9)
    workspace.manifest(clf, "aliases: {champion: 2}\n")
    original = Registry.set_alias

    def then_someone_else(self: Registry, model: str, alias: str, version: int) -> None:
        original(self, model, alias, version)
        backend.client.set_registered_model_alias(model, alias, "1")

    monkeypatch.setattr(Registry, "set_alias", then_someone_else)
    result = cli(*backend.args(workspace.root, "apply", "--yes"))
    assert result.code == 1
    assert "the registry does not show these changes" in result.err
    assert f"{clf}: alias champion -> v2" in result.err


@only(SQLITE)
def test_a_version_not_ready_is_not_promoted(backend, workspace, cli):  # type: ignore[no-untyped-def]
    clf = backend.name("clf")
    backend.seeder.version(clf, val_accuracy=0.9)
    backend.seeder.version(clf, val_accuracy=0.9)
    db = backend.uri.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:  # what a registration still in flight looks like
        conn.execute("UPDATE model_versions SET status = 'PENDING_REGISTRATION' "
                     "WHERE name = ? AND version = 2", (clf,))  # fmt: skip
    workspace.manifest(clf, "aliases: {champion: 2}\nstages: {Production: 2}\n")
    before = registry_snapshot(backend.uri, [clf])
    result = cli(*backend.args(workspace.root, "apply", "--yes"))
    assert result.code == 1
    assert "version 2 of" in result.err and "PENDING_REGISTRATION, not READY" in result.err
    assert "m.yaml:4" in result.err  # names the file and line
    assert registry_snapshot(backend.uri, [clf]) == before


@only(SQLITE)
def test_a_prompt_is_never_managed(backend, workspace, cli):  # type: ignore[no-untyped-def]
    name = backend.name("prompt")
    backend.client.register_prompt(name, "Summarise {{text}}")
    workspace.manifest(name, "description: hijacked\n")
    before = backend.client.get_prompt(name)
    result = cli(*backend.args(workspace.root, "apply", "--yes"))
    # MLflow's searches hide prompts; the name they did not find is asked for by itself.
    assert result.code == 1
    assert f"'{name}' is an MLflow prompt, not a registered model" in result.err
    assert "registry-ops does not manage prompts" in result.err
    assert "does not exist in MLflow" not in result.err
    after = backend.client.get_prompt(name)
    assert after.description == before.description
    assert not any(k.startswith("registry_ops.") for k in after.tags)


@only(SQLITE)
def test_status_and_compare_name_a_prompt_as_a_prompt(backend, workspace, cli):  # type: ignore[no-untyped-def]
    name = backend.name("prompt")
    backend.client.register_prompt(name, "Summarise {{text}}")
    workspace.manifest(name, "description: a prompt\n")
    status = cli(*backend.args(workspace.root, "status", name))
    assert status.code == 1
    assert f"'{name}' is an MLflow prompt, not a registered model" in status.err
    assert "is not registered in MLflow" not in status.err
    shown = cli(*backend.args(workspace.root, "status", "--format", "json"))
    assert json.loads(shown.out)["prompts"] == [name]
    compared = cli(*backend.args(workspace.root, "compare", name))
    assert compared.code == 1 and "is an MLflow prompt" in compared.err


def test_a_long_alias_is_stamped(backend, workspace, cli):  # type: ignore[no-untyped-def]
    """Provenance lives in tag values: an alias of 240 characters cannot overflow a key."""
    clf = backend.name("clf")
    backend.seeder.version(clf, val_accuracy=0.9)
    alias = "a" * 240
    workspace.manifest(clf, f"aliases: {{{alias}: 1}}\n")
    result = cli(*backend.args(workspace.root, "apply", "--yes"))
    assert result.code == 0, result.err
    record = json.loads(backend.client.get_model_version(clf, "1").tags[PROVENANCE_TAG])
    assert f"alias:{alias}" in record["held"]
    assert cli(*backend.args(workspace.root, "plan", "--detailed-exitcode")).code == 0


@only(SQLITE)
def test_a_large_repository_reads_the_registry_while_its_manifests_load(  # type: ignore[no-untyped-def]
    backend, workspace, cli
):
    """Above ten manifests the whole registry is read in the background: same plan,
    and a manifest error still wins over anything the registry would say."""
    names = [backend.name(f"big{i:02d}") for i in range(12)]
    for i, model in enumerate(names):
        backend.seeder.version(model, val_accuracy=0.9)
        workspace.manifest(model, "aliases: {champion: 1}\n", name=f"big{i:02d}")
    data = json.loads(cli(*backend.args(workspace.root, "plan", "--format", "json")).out)
    assert sorted(m["model"] for m in data["models"]) == sorted(names)
    assert all(len(m["changes"]) == 1 for m in data["models"])
    workspace.write("manifests/big05.yaml", "apiVersion: registry-ops/v1\nkind: Nope\n")
    broken = cli("--tracking-uri", "http://127.0.0.1:9", "-C", str(workspace.root), "plan")
    assert broken.code == 1 and "big05.yaml:2:" in broken.err and "cannot reach" not in broken.err
