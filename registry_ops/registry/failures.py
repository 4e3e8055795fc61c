"""How MLflow, transport and database failures read: one redacted sentence each.

Registry calls run inside :meth:`Failures.calling`, which re-raises any
failure as :class:`RegistryError` naming the server it was talking to (kept
on the instance: each connection says its own server). Model loading runs
inside :func:`translated`, which keeps the exception's type and its whole
reason on one line (MLflow's download errors give it after the first line).
Passwords in URIs appear in MLflow's own messages: every text is redacted.

What MLflow prints during a call (its "View run ... at: <tracking URI>" line,
warnings it writes itself) is captured by :func:`mlflow_console` too, and
passed on to stderr redacted and printable: it never reaches registry-ops'
stdout, which may be JSON, nor a CI log with a password in it.
"""

from __future__ import annotations

import io
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from typing import IO

from registry_ops.core.redact import redact
from registry_ops.core.text import printable
from registry_ops.errors import ModelLoadError, RegistryError, RegistryOpsError

__all__ = [
    "Failures",
    "ModelLoadError",
    "cause",
    "first_line",
    "mlflow_console",
    "transient",
    "translated",
]

_HINT = (
    "hint: is the MLflow server up and reachable from here? Point registry-ops at it with "
    "--tracking-uri or MLFLOW_TRACKING_URI; MLFLOW_HTTP_REQUEST_TIMEOUT and "
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES tune how long it waits."
)
_TRANSPORT = (
    ("connection refused", "the connection was refused"),
    ("failed to establish a new connection", "no connection could be made"),
    ("name or service not known", "the host name does not resolve"),
    ("nodename nor servname", "the host name does not resolve"),
    ("temporary failure in name resolution", "the host name does not resolve"),
    ("read timed out", "it did not answer in time"),
    ("timed out", "it did not answer in time"),
    ("connection reset", "the connection was reset"),
    ("connection aborted", "the connection was dropped"),
    ("remotedisconnected", "the connection was dropped"),
    ("too many 5", "it kept answering with server errors"),
    ("max retries exceeded", "it could not be reached"),
)
_DATABASE = (
    ("database is locked", "the database is locked by another writer"),
    ("unique constraint", "another writer changed the same entry at the same moment"),
    ("duplicate key", "another writer changed the same entry at the same moment"),
    ("could not serialize", "another writer changed the same entry at the same moment"),
    ("deadlock", "another writer changed the same entry at the same moment"),
)


@dataclass(frozen=True)
class Failures:
    """Translates failures of calls to one server; ``server`` is its URI, redacted."""

    server: str = ""

    def explain(self, exc: BaseException, what: str) -> str:
        """One readable sentence for an MLflow, transport or database failure, redacted."""
        text = str(getattr(exc, "message", None) or exc or type(exc).__name__)
        what = printable(what)  # it names models and tags
        low = text.lower()
        server = self.server or "the configured tracking URI"
        for needle, cause in _TRANSPORT:
            if needle in low:
                return redact(f"cannot reach MLflow at {server} while {what}: {cause}.\n{_HINT}")
        for needle, cause in _DATABASE:
            if needle in low:
                return redact(f"MLflow at {server} failed while {what}: {cause}; run it again.")
        code = getattr(exc, "error_code", None)
        # MLflow's messages can quote its own internal filters and stack details; the
        # first line is what the server said.
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        first = re.sub(r"tag\.mlflow\.prompt\.is_prompt[^)'\"]*", "...", first)
        if len(first) > 300:
            first = first[:297] + "..."
        prefix = f"{code}: " if code and code != "INTERNAL_ERROR" else ""
        return redact(f"MLflow at {server} refused {what}: {prefix}{printable(first)}")

    @contextmanager
    def calling(self, what: str) -> Iterator[None]:
        """Translate any MLflow or transport failure into a redacted RegistryError; what
        MLflow prints meanwhile goes through :func:`mlflow_console`."""
        try:
            with mlflow_console():
                yield
        except RegistryOpsError:
            raise
        except Exception as exc:  # MlflowException, requests errors, sqlalchemy errors...
            raise RegistryError(self.explain(exc, what)) from None


@contextmanager
def mlflow_console() -> Iterator[None]:
    """Inside the block, what is printed to stdout or stderr reaches stderr line by line,
    redacted and printable.

    Only on the main thread: ``sys.stdout`` is one for the whole process, and a
    thread reading the registry in the background (see ``pipeline.plan.prepare``)
    must not divert what the main thread prints meanwhile. Threads a main-thread
    call starts (the batched reads) are covered by its diversion. Lines pass at
    once, so a retry note (``on_retry``) still shows while the call waits.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    console = _Console(sys.stderr)
    try:
        with redirect_stdout(console), redirect_stderr(console):
            yield
    finally:
        console.finish()


class _Console(io.TextIOBase):
    """A text stream that passes whole lines to ``target``, redacted and printable."""

    def __init__(self, target: IO[str]) -> None:
        super().__init__()
        self.target = target
        self.pending = ""

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        # Whoever asks (the CLI's retry note) decides as it would for the real stream.
        return self.target.isatty()

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            self.target.write(printable(redact(line)) + "\n")
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def finish(self) -> None:
        """Pass on an unfinished last line, if any."""
        if self.pending.strip():
            self.target.write(printable(redact(self.pending)) + "\n")
        self.pending = ""
        self.target.flush()


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a write that lost a race with another writer (worth retrying)."""
    low = str(exc).lower()
    return any(needle in low for needle, _ in _DATABASE)


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message (its type name when empty), redacted."""
    text = getattr(exc, "message", None) or str(exc)
    text = str(text).strip()
    return redact(text.splitlines()[0] if text else type(exc).__name__)


# MLflow's download failures: "The following failures occurred while downloading one or
# more artifacts from URI:" then, per file, "##### File PATH #####" and its error (and,
# with debug logging, "Traceback:" and the traceback).
_FILE_HEADER = re.compile(r"^#+\s*File\s+(?P<path>.*?)\s*#+$")
CAUSE_LIMIT = 1_000  # characters of a cause kept in a message; a cause this long is a dump


def cause(exc: BaseException) -> str:
    """``exc``'s whole message on one line, redacted: the reason a first line can leave out.

    MLflow's download failures put the reason on the lines after the first; they are
    kept (``PATH: error``), tracebacks dropped, and the rest capped at
    :data:`CAUSE_LIMIT` characters.
    """
    text = str(getattr(exc, "message", None) or exc).strip()
    parts: list[str] = []
    in_traceback = False
    for raw in text.splitlines():
        line = raw.strip()
        header = _FILE_HEADER.match(line)
        if header:
            in_traceback = False
            parts.append(f"{header['path']}:")
        elif line.startswith("Traceback"):
            in_traceback = True
        elif line and not in_traceback:
            parts.append(line)
    out = " ".join(parts) or type(exc).__name__
    if len(out) > CAUSE_LIMIT:
        out = out[: CAUSE_LIMIT - 3] + "..."
    return redact(out)


@contextmanager
def translated(what: str, error: type[RegistryOpsError] = ModelLoadError) -> Iterator[None]:
    """Any failure inside becomes ``error`` with a one-line, redacted message that keeps
    the underlying reason (see :func:`cause`)."""
    try:
        yield
    except RegistryOpsError:
        raise
    except Exception as exc:  # MlflowException, OSError, a flavour's own errors...
        raise error(f"{what}: {type(exc).__name__}: {cause(exc)}") from exc
