"""Run the real CLI in a child process that dies, or loses its connection, at a write.

The seam is registry-ops' own adapter (``Registry._write``, through which every
registry write goes), never MlflowClient: MLflow and its store are real.

Modes, at the Nth write (1-based):
- ``kill-before``: SIGKILL before the write is sent (the write is lost);
- ``kill-after``: SIGKILL right after the write landed (its answer and everything
  after are lost);
- ``drop-after``: the write lands, then the call fails as a dropped connection would.

The child is forked from the test process (mlflow already imported, so a case
costs a fraction of a second); it must use a registry the parent has not opened.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence

from registry_ops.registry import Registry


def count_writes(run: Callable[[], object]) -> int:
    """How many registry writes ``run`` makes (it runs for real)."""
    calls = [0]
    original = Registry._write

    def counting(self: Registry, what: str, call: Callable[[], object]) -> None:
        calls[0] += 1
        original(self, what, call)

    Registry._write = counting  # type: ignore[method-assign]
    try:
        run()
    finally:
        Registry._write = original  # type: ignore[method-assign]
    return calls[0]


def run_with_fault(argv: Sequence[str], at: int, mode: str, log: str) -> int:
    """Fork, run ``registry-ops ARGV`` in the child with the fault, return its exit status.

    ``-9`` means the child was killed; otherwise its exit code. The child's
    stdout and stderr go to ``log``.
    """
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            # pytest swaps sys.stdout for its capture: write to the log instead.
            sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
            _arm(at, mode)
            from registry_ops.cli import main

            main(list(argv))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - anything else is a failure of the child
            code = 99
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _arm(at: int, mode: str) -> None:
    original = Registry._write
    seen = [0]

    def faulty(self: Registry, what: str, call: Callable[[], object]) -> None:
        seen[0] += 1
        if seen[0] == at and mode == "kill-before":
            os.kill(os.getpid(), signal.SIGKILL)
        if seen[0] == at and mode == "drop-after":

            def dropped() -> object:
                call()
                raise ConnectionError("Connection aborted: RemoteDisconnected")

            original(self, what, dropped)
            return
        original(self, what, call)
        if seen[0] == at and mode == "kill-after":
            os.kill(os.getpid(), signal.SIGKILL)

    Registry._write = faulty  # type: ignore[method-assign]
