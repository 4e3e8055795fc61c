"""One error hierarchy; every expected failure carries its exit code.

The CLI's single top-level handler prints the message and exits with
``exit_code``; nothing else in the package decides exit codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Exit codes fixed by the product contract.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_BLOCKED = 3
EXIT_STALE = 4
EXIT_ALERT = 5  # plan --detailed-exitcode: a protected target moved outside registry-ops
EXIT_USAGE = 64
EXIT_INTERNAL = 70  # a bug in registry-ops, never an expected failure
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


@dataclass(frozen=True)
class Problem:
    """One located problem in an input file: ``file:line:col: $.path: message``."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.path}: {self.message}"


class RegistryOpsError(Exception):
    """Base of every expected error; ``exit_code`` is what the CLI exits with."""

    exit_code = EXIT_ERROR


class InvalidInput(RegistryOpsError):
    """Manifests or policies are invalid; carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        noun = "problem" if len(self.problems) == 1 else "problems"
        lines = [f"{len(self.problems)} {noun} found:"] + [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class RegistryError(RegistryOpsError):
    """MLflow could not be reached or refused a call."""


class ModelLoadError(RegistryError):
    """A model version could not be downloaded or loaded through mlflow.pyfunc.

    Defined here, not beside the loading code, so that ``from registry_ops import
    ModelLoadError`` works without importing mlflow.
    """


class ApplyFailed(RegistryOpsError):
    """A change could not be applied, or the registry does not match after applying."""


class PlanFileError(RegistryOpsError):
    """A saved plan file cannot be read."""


class StalePlan(RegistryOpsError):
    """A saved plan no longer matches the live registry."""

    exit_code = EXIT_STALE


class PlanSealError(RegistryOpsError):
    """A saved plan's digest or signature does not check out, or it names another registry."""


class LeaseHeld(RegistryOpsError):
    """Another apply holds the lease on a model."""
