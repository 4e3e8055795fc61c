"""The quickstart's holdout set: ``data/spirals-holdout.csv``, and how it is made.

``python -m registry_ops.quickstart.holdout [PATH]`` writes it (default
``data/spirals-holdout.csv``). The file is committed: the shipped policies'
``evaluate:`` gates score every candidate on it, and the registry caches the
scores under the file's content hash, so the bytes must not change by accident.
It is made by the same :func:`~registry_ops.quickstart.spirals.make_spirals` as
the training data, with the same noise, but its own seed: points the quickstart
models never saw while training or validating. ``tests/test_quickstart.py``
regenerates it and compares bytes.

Columns: ``x1``, ``x2`` (the two coordinates, 6 decimals) and ``label`` (0 or 1).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_PATH",
    "HOLDOUT_ROWS",
    "HOLDOUT_SEED",
    "holdout_csv",
    "holdout_frame",
    "main",
]

DEFAULT_PATH = "data/spirals-holdout.csv"
HOLDOUT_ROWS = 500
# Not the training data's seed (7): the holdout must be points the models have not seen.
HOLDOUT_SEED = 2024
# Same as the quickstart's training data (registry_ops.quickstart.__main__.DATA_NOISE).
HOLDOUT_NOISE = 0.05
FEATURES = ("x1", "x2")
TARGET = "label"


def holdout_frame(
    rows: int = HOLDOUT_ROWS, seed: int = HOLDOUT_SEED, noise: float = HOLDOUT_NOISE
) -> pd.DataFrame:
    """Two-spirals points as a DataFrame: ``x1``, ``x2`` (rounded to 6 decimals), ``label``.

    Coordinates are rounded so that the CSV holds exactly the values the
    frame does; the defaults give the committed file's rows.
    """
    from registry_ops.quickstart.spirals import make_spirals

    features, labels = make_spirals(rows, noise=noise, seed=seed)
    frame = pd.DataFrame(np.round(features.astype(np.float64), 6), columns=list(FEATURES))
    frame[TARGET] = labels
    return frame


def holdout_csv(rows: int = HOLDOUT_ROWS, seed: int = HOLDOUT_SEED) -> str:
    """The CSV text of :func:`holdout_frame` (``\\n`` line ends, fixed float format)."""
    text: str = holdout_frame(rows, seed).to_csv(
        index=False, float_format="%.6f", lineterminator="\n"
    )
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Write the holdout CSV; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m registry_ops.quickstart.holdout",
        description="Write the quickstart's two-spirals holdout set as CSV.",
    )
    parser.add_argument("path", nargs="?", default=DEFAULT_PATH, help=f"default: {DEFAULT_PATH}")
    parser.add_argument("--rows", type=int, default=HOLDOUT_ROWS, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=HOLDOUT_SEED, help="default: %(default)s")
    args = parser.parse_args(argv)
    path = Path(args.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(holdout_csv(args.rows, args.seed), encoding="utf-8", newline="")
    print(f"wrote {args.rows} rows to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
