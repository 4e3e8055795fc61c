"""Holdout datasets for live evaluation: where they may be, how they are read, checked, hashed.

A dataset is a CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``)
file inside the repository root, or an MLflow artifact URI (``runs:/``,
``models:/``, ``mlflow-artifacts:/``; no other scheme, see
:func:`registry_ops.gates.live.holdout_problem`) fetched by a ``download``
callable the caller supplies. Paths that leave the root (``../``,
absolute paths elsewhere, symlinks pointing out) are refused: policies arrive
in pull requests, and a gate must not read arbitrary files of the CI runner.
``file://`` URIs are local paths and obey the same rule. Each file is
identified by the sha256 of its bytes (:attr:`Holdout.digest`), a cache key
for results.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy.typing as npt
import pandas as pd

from registry_ops.core.text import printable
from registry_ops.gates.evaluation.errors import DatasetError
from registry_ops.gates.live import holdout_problem

# Fetches an artifact URI to a local file and returns its path.
Downloader = Callable[[str], "str | os.PathLike[str]"]

_CSV_SUFFIXES = (".csv", ".csv.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")
# A URI scheme of two or more characters: "C:\\data.csv" stays a path.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


def file_digest(path: str | os.PathLike[str]) -> str:
    """``sha256:<hex>`` of a file's bytes, read in chunks (datasets can be large)."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return f"sha256:{sha.hexdigest()}"


def _inside(path: Path, root: Path, shown: str) -> Path:
    """``path`` resolved (symlinks followed); refuse it unless it stays under ``root``."""
    real_root = root.resolve()
    real = path.resolve()
    if not real.is_relative_to(real_root):
        why = "resolves to" if path.is_symlink() or ".." in path.parts else "is"
        raise DatasetError(
            f"dataset {shown} {why} {real}, outside the repository root {real_root}; "
            "holdout files must live in the repository (or be given as an MLflow artifact URI)"
        )
    return real


def resolve_dataset(
    dataset: str, root: str | os.PathLike[str], download: Downloader | None = None
) -> Path:
    """The local file a gate's ``dataset`` names.

    Args:
        dataset: A path relative to ``root`` (or absolute inside it), a
            ``file://`` URI inside it, or an MLflow artifact URI.
        root: The repository root (the directory holding ``policies/``).
        download: Fetches artifact URIs; without it they are refused.

    Raises:
        DatasetError: outside the root, missing, a directory, or a URI with no downloader.
    """
    root_path = Path(root)
    if dataset.startswith("file:"):
        # A local file is a local file: writing it as a URI must not escape the root.
        from urllib.parse import unquote, urlparse

        parsed = urlparse(dataset)
        if parsed.netloc not in ("", "localhost"):
            raise DatasetError(f"dataset {dataset}: file:// URIs must be local")
        local = Path(unquote(parsed.path))
        path = _inside(local if local.is_absolute() else root_path / local, root_path, dataset)
    elif _URI.match(dataset):
        problem = holdout_problem(dataset)
        if problem:
            raise DatasetError(problem)
        if download is None:
            raise DatasetError(
                f"dataset {dataset} is an artifact URI, and no MLflow connection was given "
                "to download it"
            )
        try:
            path = Path(download(dataset))
        except Exception as exc:  # the downloader's own errors, whatever they are
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            # One line, cut short: a message never carries more than a sentence of the file.
            text = printable(text if len(text) <= 300 else text[:297] + "...")
            raise DatasetError(f"dataset {dataset} could not be downloaded: {text}") from None
    else:
        given = Path(dataset)
        path = _inside(given if given.is_absolute() else root_path / given, root_path, dataset)
    if not path.exists():
        raise DatasetError(f"dataset {dataset}: no such file ({path})")
    if path.is_dir():
        raise DatasetError(f"dataset {dataset} is a directory; name one CSV or Parquet file in it")
    return path


def _read(path: Path, shown: str) -> pd.DataFrame:
    """Parse a CSV or Parquet file; every parser failure becomes a DatasetError naming it."""
    name = path.name.lower()
    with open(path, "rb") as handle:
        magic = handle.read(4)
    try:
        if name.endswith(_PARQUET_SUFFIXES) or magic == b"PAR1":
            return pd.read_parquet(path)
        if name.endswith(_CSV_SUFFIXES):
            # Strict: a row with too many fields is corruption, not data to guess at.
            return pd.read_csv(path, on_bad_lines="error")
    except pd.errors.EmptyDataError:
        raise DatasetError(f"dataset {shown} is empty (no header, no rows)") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"dataset {shown} is not a text CSV file (undecodable byte at offset {exc.start})"
        ) from None
    except Exception as exc:  # pandas ParserError, pyarrow ArrowInvalid, OSError, ...
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        kind = "Parquet" if name.endswith(_PARQUET_SUFFIXES) or magic == b"PAR1" else "CSV"
        raise DatasetError(f"dataset {shown} is not a readable {kind} file: {message}") from None
    raise DatasetError(
        f"dataset {shown}: unsupported file type; use .csv, .csv.gz, .parquet or .pq"
    )


@dataclass(frozen=True, eq=False)
class Holdout:
    """A loaded holdout set: labelled rows plus where they came from.

    ``frame`` holds the feature columns (in order) and the target column;
    scoring several models on one Holdout scores them on the same rows.
    """

    source: str
    path: Path
    digest: str
    target: str
    features: tuple[str, ...]
    frame: pd.DataFrame = field(repr=False)

    @property
    def rows(self) -> int:
        """Number of labelled rows."""
        return len(self.frame)

    @property
    def X(self) -> pd.DataFrame:  # noqa: N802 - the usual name for a feature matrix
        """The feature columns, in order: what a model's predict receives."""
        return self.frame.loc[:, list(self.features)]

    @property
    def y(self) -> npt.NDArray[Any]:
        """The labels."""
        labels: npt.NDArray[Any] = self.frame[self.target].to_numpy()
        return labels


def load_holdout(
    dataset: str,
    *,
    root: str | os.PathLike[str],
    targets: str,
    features: Sequence[str] | None = None,
    download: Downloader | None = None,
) -> Holdout:
    """Resolve, hash and parse a holdout dataset, checking it is fit for evaluation.

    Args:
        dataset: See :func:`resolve_dataset`.
        root: The repository root.
        targets: The label column.
        features: The feature columns, in the order the model expects; by
            default every other column, in file order.
        download: Fetches artifact URIs.

    Raises:
        DatasetError: the file cannot be used, with the file's name and what is wrong.
    """
    path = resolve_dataset(dataset, root, download)
    digest = file_digest(path)
    frame = _read(path, dataset)
    columns = [str(c) for c in frame.columns]
    frame.columns = pd.Index(columns)
    if targets not in columns:
        raise DatasetError(
            f"dataset {dataset} has no target column '{targets}'; its columns are: "
            + ", ".join(columns)
        )
    if features is None:
        chosen = tuple(c for c in columns if c != targets)
    else:
        chosen = tuple(features)
        missing = [c for c in chosen if c not in columns]
        if missing:
            raise DatasetError(
                f"dataset {dataset} lacks feature column(s) {', '.join(missing)}; its columns "
                "are: " + ", ".join(columns)
            )
        if targets in chosen:
            raise DatasetError(f"dataset {dataset}: the target '{targets}' is also a feature")
    if not chosen:
        raise DatasetError(f"dataset {dataset} has no feature columns besides '{targets}'")
    if frame.empty:
        raise DatasetError(f"dataset {dataset} has a header but no rows")
    unlabelled = int(frame[targets].isna().sum())
    if unlabelled:
        raise DatasetError(
            f"dataset {dataset}: {unlabelled} of {len(frame)} rows have no value in the "
            f"target column '{targets}'"
        )
    frame = frame.loc[:, [*chosen, targets]].reset_index(drop=True)
    return Holdout(dataset, path, digest, targets, chosen, frame)
