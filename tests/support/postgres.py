"""A throwaway PostgreSQL cluster on 127.0.0.1 for tests and benchmarks.

The server programs (``initdb``, ``pg_ctl``, ``postgres``) are looked up where
Debian installs them (``/usr/lib/postgresql/<major>/bin``), since they are not
on PATH there. ``initdb`` and ``postgres`` refuse to run as root: when we are
root they run as the ``postgres`` system user, on a directory that user owns.

The cluster trades durability for speed (``fsync=off`` and friends): it lives
for one test session and is deleted afterwards, stopped even when a test fails.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.mlflow_server import free_port

#: The major version the suite targets; others are used only if it is absent.
MAJOR = "15"
#: Point at a directory holding initdb/pg_ctl/postgres to override the search.
BINDIR_ENV = "REGISTRY_OPS_PG_BINDIR"
SYSTEM_USER = "postgres"
PROGRAMS = ("initdb", "pg_ctl", "postgres", "createdb")

# A cluster nobody needs to survive a crash: no fsync, small footprint.
SERVER_SETTINGS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=50 -c shared_buffers=32MB"
)


class PostgresError(RuntimeError):
    """The cluster could not be created, started or prepared."""


def find_bindir() -> Path | None:
    """The directory holding PostgreSQL's server programs, or None if they are absent."""
    candidates: list[Path] = []
    if os.environ.get(BINDIR_ENV):
        candidates.append(Path(os.environ[BINDIR_ENV]))
    candidates.append(Path(f"/usr/lib/postgresql/{MAJOR}/bin"))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for bindir in candidates:
        if all(os.access(bindir / program, os.X_OK) for program in PROGRAMS):
            return bindir
    return None


@dataclass(frozen=True)
class PostgresCluster:
    """A running cluster: where it listens, and how to reach a database in it."""

    bindir: Path
    datadir: Path
    host: str
    port: int
    user: str = "postgres"

    def uri(self, database: str, driver: str = "postgresql+psycopg2") -> str:
        """A SQLAlchemy URI (the form ``mlflow server --backend-store-uri`` takes)."""
        return f"{driver}://{self.user}@{self.host}:{self.port}/{database}"

    def createdb(self, database: str) -> str:
        """Create ``database``; returns its SQLAlchemy URI."""
        _run(
            [str(self.bindir / "createdb"), "-h", self.host, "-p", str(self.port),
             "-U", self.user, database],
            what=f"createdb {database}",
        )  # fmt: skip
        return self.uri(database)


def _as_owner(cmd: list[str]) -> list[str]:
    """Run ``cmd`` as the postgres system user when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", SYSTEM_USER, "--", *cmd]
    return ["su", SYSTEM_USER, "-s", "/bin/sh", "-c", subprocess.list2cmdline(cmd)]


def _run(cmd: list[str], what: str, cwd: Path | None = None, timeout: float = 120) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        raise PostgresError(
            f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{proc.stdout}{proc.stderr}"
        )
    return proc.stdout


@contextmanager
def postgres_cluster(bindir: Path, attempts: int = 3) -> Iterator[PostgresCluster]:
    """initdb a new cluster, start it on a free port of 127.0.0.1, yield it; stop and delete it.

    Its files live under a fresh directory in /tmp (pytest's own temp dirs may
    be private to root, and the postgres user must be able to enter them). The
    socket goes in the data directory, so nothing touches /var/run/postgresql.
    """
    base = Path(tempfile.mkdtemp(prefix="registry-ops-pg-", dir="/tmp"))
    datadir = base / "data"
    log = base / "postgres.log"
    started = False
    try:
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SYSTEM_USER)
            os.chown(base, owner.pw_uid, owner.pw_gid)
        _run(
            _as_owner(
                [str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust",
                 "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"]
            ),
            what="initdb",
            cwd=base,
        )  # fmt: skip
        for attempt in range(1, attempts + 1):
            port = free_port()
            options = f"-h 127.0.0.1 -p {port} -k {datadir} {SERVER_SETTINGS}"
            try:
                _run(
                    _as_owner(
                        [str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(log),
                         "-o", options, "-w", "-t", "60", "start"]
                    ),
                    what="pg_ctl start",
                    cwd=base,
                )  # fmt: skip
            except PostgresError as error:
                text = log.read_text(errors="replace") if log.exists() else ""
                # Only a lost race for the port is worth another try.
                if "could not bind" in text and attempt < attempts:
                    log.unlink()
                    continue
                raise PostgresError(f"{error}\n--- postgres.log ---\n{text[-3000:]}") from None
            started = True
            break
        yield PostgresCluster(bindir=bindir, datadir=datadir, host="127.0.0.1", port=port)
    finally:
        if started:
            _stop(bindir, datadir, base)
        shutil.rmtree(base, ignore_errors=True)


def _stop(bindir: Path, datadir: Path, base: Path) -> None:
    pg_ctl = str(bindir / "pg_ctl")
    try:
        stop = [pg_ctl, "-D", str(datadir), "-m", "fast", "-w", "stop"]
        _run(_as_owner(stop), what="pg_ctl stop", cwd=base)
    except (PostgresError, subprocess.TimeoutExpired):
        # Never leave a postmaster behind: the next attempt does not wait for clients.
        subprocess.run(
            _as_owner([pg_ctl, "-D", str(datadir), "-m", "immediate", "-w", "stop"]),
            cwd=base, capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        time.sleep(0.5)
