"""Which files under ``manifests/`` and ``policies/`` are read, and how one is read.

Manifests arrive through pull requests, so the scan and the read treat the
file system as possibly hostile: links are followed only inside the root,
special files are never opened for reading (a FIFO would block), sizes are
capped before reading, and text must be UTF-8. See :mod:`registry_ops.desired.loader`
for the rules as a whole.
"""

from __future__ import annotations

import codecs
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

YAML_SUFFIXES = (".yaml", ".yml")
# A manifest is a few hundred bytes; 1 MiB is far beyond honest use and keeps
# a hostile file from costing more than a moment to refuse.
MAX_FILE_BYTES = 1024 * 1024


# --- which files ---------------------------------------------------------------------------


def is_yaml_name(name: str) -> bool:
    """Whether a file name has a YAML suffix, in any letter case (``.YAML`` too)."""
    return name.lower().endswith(YAML_SUFFIXES)


@dataclass
class Scan:
    """The YAML files found below a directory, and the entries that cannot be read."""

    files: list[Path] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)


def _kind_of(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def scan(directory: Path, root: Path) -> Scan:
    """Every YAML file below ``directory`` (which lies in ``root``), in a stable order.

    Iterative, never opens anything, follows links only into ``root``, and
    records (rather than skips) every YAML-named entry it cannot read.
    """
    found = Scan()
    root_real = root.resolve()
    seen: set[Path] = set()
    stack = [directory]
    while stack:
        current = stack.pop()
        real = current.resolve()
        if real in seen:
            found.problems.append(
                (current, "this directory was already read by another path (a link loop?)")
            )
            continue
        seen.add(real)
        try:
            names = sorted(entry.name for entry in os.scandir(current))
        except OSError as exc:
            found.problems.append((current, f"cannot list directory: {exc.strerror or exc}"))
            continue
        subdirs: list[Path] = []
        for name in names:
            path = current / name
            kind = _classify(path, root_real, is_yaml_name(name))
            if kind == "file":
                found.files.append(path)
            elif kind == "dir":
                subdirs.append(path)
            elif kind:
                found.problems.append((path, kind))
        # Reversed onto the stack so directories are read in name order.
        stack.extend(reversed(subdirs))
    found.files.sort()
    return found


def _classify(path: Path, root_real: Path, yaml_named: bool) -> str:
    """'file', 'dir', '' (ignore) or the reason the entry cannot be read."""
    try:
        mode = os.lstat(path).st_mode
    except OSError as exc:
        return f"cannot read entry: {exc.strerror or exc}" if yaml_named else ""
    if stat.S_ISLNK(mode):
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            if not yaml_named:
                return ""
            return f"broken symbolic link (points to {link_text(path)})"
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:
            return f"cannot read entry: {exc.strerror or exc}" if yaml_named else ""
        if not target.is_relative_to(root_real) and (yaml_named or stat.S_ISDIR(mode)):
            return (
                f"symbolic link to {link_text(path)}, outside the repository root "
                f"{root_real}: refusing to follow it"
            )
        if not target.is_relative_to(root_real):
            return ""
    if stat.S_ISDIR(mode):
        if yaml_named:
            return "a directory with a YAML name: expected a manifest or policy file"
        return "dir"
    if not yaml_named:
        return ""
    if stat.S_ISREG(mode):
        return "file"
    return f"{_kind_of(mode)}, not a regular file: refusing to read it"


def link_text(path: Path) -> str:
    """Where a link points, for messages ('?' when it cannot be read)."""
    try:
        return repr(os.readlink(path))
    except OSError:
        return "?"


def yaml_files(directory: Path, root: Path | None = None) -> list[Path]:
    """YAML files below ``directory``, recursively, in a stable order (problems dropped)."""
    if not directory.is_dir():
        return []
    return scan(directory, root or directory).files


# --- reading one file ----------------------------------------------------------------------


def read_text(path: Path) -> str:
    """A manifest's text, refusing special files, oversized files and non-UTF-8 text.

    Raises :class:`ReadError` (with a position for bad bytes) or OSError.
    """
    # O_NONBLOCK: should a FIFO appear between the scan and here, open returns
    # at once instead of waiting for a writer; fstat then refuses it.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ReadError(f"{_kind_of(info.st_mode)}, not a regular file: refusing to read it")
        if info.st_size > MAX_FILE_BYTES:
            raise ReadError(_too_big(info.st_size))
        chunks: list[bytes] = []
        size = 0
        # Read at most one byte past the limit: the file may grow after fstat.
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_FILE_BYTES:
        raise ReadError(_too_big(len(data)))
    return decode(data)


def _too_big(size: int) -> str:
    return (
        f"file is {size:,} bytes, larger than the limit of {MAX_FILE_BYTES:,} bytes "
        "(1 MiB); a manifest or policy is a few hundred bytes"
    )


class ReadError(Exception):
    """A file's bytes cannot be a manifest or policy; with the position, if known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def decode(data: bytes) -> str:
    """UTF-8 text from ``data``; a UTF-8 BOM is dropped, anything else not UTF-8 refused."""
    for bom, name in _WIDE_BOMS:  # UTF-32 first: its LE mark starts with UTF-16's
        if data.startswith(bom):
            raise ReadError(
                f"file is {name} (it starts with a {name} byte order mark); save it as UTF-8",
                1,
                1,
            )
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    nul = data.find(b"\0")
    if nul >= 0:
        line, col = _byte_position(data, nul)
        raise ReadError(
            "file contains a NUL byte: binary data, or UTF-16 without a byte order mark? "
            "save it as UTF-8",
            line,
            col,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _byte_position(data, exc.start)
        raise ReadError(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8", line, col
        ) from None


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of a byte offset."""
    start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column
