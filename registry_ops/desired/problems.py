"""Problems found while loading, as they are reported: file:line:col: $.path: message."""

from __future__ import annotations

import os
from pathlib import Path

from registry_ops.core.model import Location
from registry_ops.core.text import printable
from registry_ops.errors import Problem

# One problem before it is recorded: position, JSON path, message.
Found = tuple[tuple[int, int] | None, str, str]


class Collector:
    """Gathers problems for one run; each file's problems name that file."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def display(self, path: Path) -> str:
        """How a file is named in messages: as reached from the root the user gave."""
        return os.path.normpath(path)

    def add(self, file: str, where: tuple[int, int] | None, path: str, message: str) -> None:
        """Record a problem in ``file`` at ``where`` (line, column), escaped for a terminal."""
        line, col = where if where else (None, None)
        self.problems.append(
            Problem(printable(file), line, col, printable(path), printable(message))
        )

    def add_at(self, loc: Location, path: str, message: str) -> None:
        """Record a problem at a location of the loaded model."""
        self.add(loc.file, (loc.line, loc.column) if loc.line else None, path, message)  # type: ignore[arg-type]


def shown_at(loc: Location) -> str:
    """``file:line`` (or the file alone): where a first definition stands."""
    return f"{loc.file}:{loc.line}" if loc.line else loc.file
