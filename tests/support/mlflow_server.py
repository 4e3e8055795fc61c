"""Start and stop a real ``mlflow server`` on 127.0.0.1 (tests and benchmarks).

Small by design: one worker and no job runner (the default server is 15
processes and ~3.6 GiB).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def mlflow_server(
    workdir: Path, backend_uri: str | None = None, timeout: float = 60
) -> Iterator[str]:
    """Run ``mlflow server`` until the block exits; yields its http:// URI."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    backend = backend_uri or f"sqlite:///{workdir / 'server.db'}"
    env = dict(
        os.environ, MLFLOW_DISABLE_TELEMETRY="true", MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"
    )
    log = open(workdir / "server.log", "wb")  # noqa: SIM115 - closed below
    cmd = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", backend,
        "--default-artifact-root", (workdir / "artifacts").resolve().as_uri(),
        # What clients upload as mlflow-artifacts:/ (served by default) stays in workdir,
        # not in ./mlartifacts of whatever directory the tests run from.
        "--artifacts-destination", str((workdir / "served-artifacts").resolve()),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    # Its own process group: the server forks a uvicorn child, stopped with it below.
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    uri = f"http://127.0.0.1:{port}"

    def log_tail() -> str:
        return (workdir / "server.log").read_text(errors="replace")[-3000:]

    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server ({backend}) exited: {log_tail()}")
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"mlflow server ({backend}) not healthy after {timeout:.0f} s: {log_tail()}"
                )
            time.sleep(0.2)
        yield uri
    finally:
        _stop_group(proc)
        log.close()


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (uvicorn included); SIGKILL it if 15 s is not enough.

    The leader forwards signals to its uvicorn child and exits after it, so once
    the leader is gone the group is too; it is signalled only while the leader
    is unreaped, so its id cannot name anyone else's group.
    """
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except ProcessLookupError:
        proc.wait()
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
