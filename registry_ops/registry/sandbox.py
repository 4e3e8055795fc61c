"""Model code runs in a child process that holds no secret, within limits, and cannot kill a plan.

A candidate's load and predict code is the candidate author's code. The planning process
holds ``REGISTRY_OPS_PLAN_KEY`` (which signs plans and authenticates the evaluation cache)
and the MLflow credentials, so model code never runs in it. Each model runs in a child:

* its environment is built from an allow-list (:data:`PASSED`, ``LC_*``, a fresh ``HOME``
  and ``TMPDIR`` in a private directory, ``MLFLOW_DISABLE_TELEMETRY=true``): no
  registry-ops variable, no MLflow credential, no cloud or GitHub token;
* the parent makes itself non-dumpable first, so a same-user process (the child) cannot
  read its ``/proc/<pid>/environ`` or attach to it;
* :mod:`~registry_ops.registry.confine` runs first in the child, before any model code:
  ``RLIMIT_AS``, no new privileges (no sudo), no capabilities when root, and where the
  kernel has Landlock, reads only of the interpreter and system directories, writes only
  in the private directory, no TCP, no signals out of the sandbox;
* a wall-clock limit: past it the child's whole process group is killed.

Whatever the child does (crash, hang, allocate, print garbage) comes back as a
:class:`ModelRunError` with the tail of its stderr (redacted and trimmed): the caller's gate
fails with it, and the plan goes on.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from registry_ops.core.redact import redact
from registry_ops.errors import RegistryOpsError
from registry_ops.registry import confine

__all__ = [
    "PASSED",
    "ChildResult",
    "Limits",
    "ModelRunError",
    "Workdir",
    "child_environment",
    "harden_parent",
    "run_child",
]

#: Variables a model child inherits, as they are (plus every ``LC_*``). Nothing else.
PASSED = (
    "PATH",
    "LANG",
    "TZ",
    "PYTHONPATH",
    # thread pools: a tight latency bound needs OMP_NUM_THREADS=1 (docs/evaluation.md)
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMEXPR_MAX_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "BLIS_NUM_THREADS",
)
# The scripts copied into each child's directory (standalone: no registry-ops imports).
_SCRIPTS = ("confine.py", "model_child.py", "spark_child.py")
# What the child may say about itself; more is garbage.
_RESULT_BYTES = 1 << 20
_STDERR_KEEP = 1 << 16
_TAIL_LINES, _TAIL_CHARS = 6, 600
_PR_SET_DUMPABLE = 4
_hardened: bool | None = None


class ModelRunError(RegistryOpsError):
    """The model child failed: crashed, timed out, ran out of memory or answered garbage."""


@dataclass(frozen=True)
class Limits:
    """How long and how much memory a model child may take."""

    timeout_seconds: float
    memory_mb: int | None  # None: no address-space limit

    def describe(self) -> str:
        """For messages: ``600 s, 4096 MiB``."""
        memory = f"{self.memory_mb} MiB" if self.memory_mb else "no memory limit"
        return f"{self.timeout_seconds:g} s, {memory}"


@dataclass(frozen=True)
class ChildResult:
    """What a child answered (``result.json``), and where its arrays are."""

    result: dict[str, Any]
    out: Path
    seconds: float
    stderr: str


def harden_parent() -> bool:
    """Make this process non-dumpable (Linux; best effort, once); whether it is.

    A non-dumpable process's ``/proc/<pid>/environ``, ``mem`` and ``fd`` are readable by
    root only (with CAP_SYS_PTRACE), and same-user processes cannot ptrace it. The cost:
    no core dump of a crashed plan, and a profiler cannot attach to it.
    """
    global _hardened
    if _hardened is None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            _hardened = libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
        except (OSError, AttributeError):  # not Linux
            _hardened = False
    return _hardened


def child_environment(
    home: Path, tmp: Path, environ: dict[str, str] | None = None
) -> dict[str, str]:
    """The model child's whole environment: the allow-list, a fresh HOME and TMPDIR."""
    source = os.environ if environ is None else environ
    env = {k: v for k, v in source.items() if k in PASSED or k.startswith("LC_")}
    env.setdefault("PATH", os.defpath)
    env.update(
        HOME=str(home),
        TMPDIR=str(tmp),
        # No call beyond this machine; MLflow's first write would reach a telemetry host.
        MLFLOW_DISABLE_TELEMETRY="true",
    )
    return env


class Workdir:
    """A private directory (mode 0700) for one child: its scripts, inputs, home and answers."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="registry-ops-model-"))
        self.bin, self.inputs, self.out = self.path / "bin", self.path / "in", self.path / "out"
        self.home, self.tmp, self.model = self.path / "home", self.path / "tmp", self.path / "model"
        for directory in (self.bin, self.inputs, self.out, self.home, self.tmp, self.model):
            directory.mkdir(mode=0o700)
        here = Path(__file__).parent
        for script in _SCRIPTS:
            shutil.copyfile(here / script, self.bin / script)

    def cleanup(self) -> None:
        """Remove the directory and everything the child left in it."""
        shutil.rmtree(self.path, ignore_errors=True)


@contextlib.contextmanager
def workdir() -> Iterator[Workdir]:
    """A :class:`Workdir`, removed afterwards."""
    made = Workdir()
    try:
        yield made
    finally:
        made.cleanup()


def _prefixes(interpreter: str) -> set[str]:
    """Directories an interpreter reads from: its own, its base installation's."""
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    exe = Path(interpreter)
    venv = exe.parent.parent
    found.add(str(venv))
    cfg = venv / "pyvenv.cfg"
    if cfg.is_file():
        for line in cfg.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                found.add(str(Path(value.strip()).parent))
    found.add(str(exe.resolve().parent.parent))
    return {str(Path(p).resolve()) for p in found} | found


def read_roots(interpreter: str, extra: tuple[str, ...] = ()) -> list[str]:
    """What a sandboxed child may read: system directories, the interpreter, PYTHONPATH."""
    system = ["/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/opt", "/sys"]
    # Its own /proc entries and machine facts; never other processes' (their environ).
    proc = ["/proc/self", "/proc/thread-self", "/proc/cpuinfo", "/proc/meminfo", "/proc/stat"]
    proc += ["/proc/sys", "/proc/loadavg", "/proc/filesystems", "/proc/mounts"]
    path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if interpreter == sys.executable:
        # The child imports what this interpreter imports, from wherever a .pth file of its
        # site-packages points (another environment's site-packages, an editable source):
        # those directories, never the working directory (the repository, its .git).
        here = os.getcwd()
        path += [p for p in sys.path if p and os.path.isdir(p) and os.path.abspath(p) != here]
    return sorted({*system, *proc, *_prefixes(interpreter), *path, *extra})


def _devices() -> list[str]:
    return ["/dev/null", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/shm"]


def _pump(stream: IO[bytes], keep: deque[bytes]) -> None:
    for chunk in iter(lambda: stream.read1(4096), b""):  # type: ignore[attr-defined]
        keep.append(chunk)
        while sum(map(len, keep)) > _STDERR_KEEP and len(keep) > 1:
            keep.popleft()


def _progress(fd: int, report: Callable[[int], None] | None) -> None:
    with os.fdopen(fd, "rb") as stream:
        for line in stream:
            text = line.strip()[:32]
            if report is not None and text.isdigit():
                report(int(text))


def tail(raw: bytes, where: Path) -> str:
    """The last lines of a child's stderr, redacted, trimmed, its private paths shortened."""
    text = raw.decode("utf-8", errors="replace").replace(str(where), "<model dir>")
    text = "".join(c if c.isprintable() or c == "\n" else "?" for c in text)
    lines = [line.strip() for line in text.splitlines() if line.strip()][-_TAIL_LINES:]
    shown = redact(" | ".join(lines))
    return shown if len(shown) <= _TAIL_CHARS else "..." + shown[-_TAIL_CHARS:]


def run_child(
    work: Workdir,
    interpreter: str,
    request: dict[str, Any],
    limits: Limits,
    *,
    who: str,
    sandbox: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    extra_env: dict[str, str] | None = None,
) -> ChildResult:
    """Run ``model_child.py`` on ``request`` in ``work``, confined; its answer.

    ``sandbox`` overrides the confinement (``memory_bytes``, ``landlock``); by default:
    the memory limit, and Landlock reads of :func:`read_roots` and writes in ``work``,
    with TCP refused.

    Raises:
        ModelRunError: it did not answer: killed at the time limit, crashed, or wrote no
            readable ``result.json`` (with the tail of its stderr).
    """
    harden_parent()
    memory = limits.memory_mb * (1 << 20) if limits.memory_mb else None
    spec = sandbox or {
        "memory_bytes": memory,
        "landlock": {
            "read": read_roots(interpreter),
            "write": [str(work.path), *_devices()],
            "deny_tcp": True,
        },
    }
    (work.inputs / "confine.json").write_text(json.dumps(spec), encoding="utf-8")
    reader, writer = os.pipe()
    request = {**request, "out": str(work.out), "progress_fd": writer}
    (work.inputs / "request.json").write_text(json.dumps(request), encoding="utf-8")
    env = {**child_environment(work.home, work.tmp), **(extra_env or {})}
    command = [
        sys.executable, "-S", "-I", str(work.bin / "confine.py"), str(work.inputs / "confine.json"),
        "--", interpreter, str(work.bin / "model_child.py"), str(work.inputs / "request.json"),
    ]  # fmt: skip
    began = time.perf_counter()
    try:
        child = subprocess.Popen(
            command, env=env, cwd=work.home, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(writer,),
            start_new_session=True,  # its own process group: a timeout kills all of it
        )  # fmt: skip
    except OSError as exc:
        os.close(reader)
        os.close(writer)
        raise ModelRunError(f"cannot start the model process for {who}: {exc}") from None
    os.close(writer)
    kept: deque[bytes] = deque()
    assert child.stderr is not None
    pumps = [
        threading.Thread(target=_pump, args=(child.stderr, kept), daemon=True),
        threading.Thread(target=_progress, args=(reader, progress), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    timed_out = False
    try:
        child.wait(timeout=limits.timeout_seconds)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        _kill_session(child.pid)  # whatever it left running: Spark's JVM and daemon too
        child.wait()
    for pump in pumps:
        pump.join(timeout=5)
    seconds = time.perf_counter() - began
    stderr = tail(b"".join(kept), work.path)
    said = f"; stderr: {stderr}" if stderr else ""
    if timed_out:
        raise ModelRunError(
            f"{who} did not finish within {limits.timeout_seconds:g} s and was killed "
            f"(timeout_seconds){said}"
        )
    result = _answer(work.out / "result.json")
    if result is None:
        raise ModelRunError(f"{who}: the model process {_ended(child.returncode, limits)}{said}")
    return ChildResult(result, work.out, seconds, stderr)


def _kill_session(leader: int) -> None:
    """SIGKILL the child's process group and every process of its session.

    The child leads a session of its own; Spark's Python daemon moves to a process group
    of its own inside it, so killing the group alone would leave it running.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signal.SIGKILL)
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if len(fields) > 3 and fields[3] == str(leader).encode():  # field 6: session id
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(entry), signal.SIGKILL)


def _ended(code: int, limits: Limits) -> str:
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        hint = ""
        if name in ("SIGKILL", "SIGABRT", "SIGSEGV") and limits.memory_mb:
            hint = f" (it may have run out of its {limits.memory_mb} MiB: memory_mb)"
        return f"was killed by {name}{hint} before it answered"
    return f"exited with status {code} without an answer"


def _answer(path: Path) -> dict[str, Any] | None:
    """``result.json`` if it is a small JSON object with a boolean ``ok``; else None."""
    try:
        if path.stat().st_size > _RESULT_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("ok"), bool):
        return None
    return data


def landlock_abi() -> int:
    """The kernel's Landlock ABI (0: none): how much of the sandbox this machine enforces."""
    try:
        return confine.landlock_abi(ctypes.CDLL(None, use_errno=True))
    except (OSError, AttributeError):
        return 0
