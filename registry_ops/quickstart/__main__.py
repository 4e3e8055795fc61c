"""``python -m registry_ops.quickstart``: seed an MLflow Model Registry for the quickstart.

Trains a handful of tiny two-spirals classifiers on CPU and registers them, in a fixed
order, so that the registry ends up with exactly the versions the quickstart manifests
refer to:

* ``spirals-classifier`` v1 (tiny, fails the gates), v2 (medium) and v3 (larger, best);
* ``spirals-experimental`` v1 (under-trained, below the staging accuracy floor).

Every version is logged with a signature and an input example (see
:func:`model_logging_kwargs`), so the shipped policies' ``signature``, ``loadable`` and
``evaluate`` gates (on ``data/spirals-holdout.csv``, see
:mod:`registry_ops.quickstart.holdout`) have something to check.

The tracking/registry store comes from ``MLFLOW_TRACKING_URI`` (required). Artifacts go
to ``--artifacts`` (default ``.quickstart/artifacts``), never to ``./mlruns``; on a
tracking server (``http(s)://``) they go where the server keeps them unless
``--artifacts`` is given, so that whoever plans elsewhere (a CI runner) can read them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry_ops.core.redact import without_credentials

# MLflow reads this when it is first imported, so it must be set before any mlflow import;
# the quickstart must not phone home. All mlflow imports below are therefore function-local.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from mlflow import MlflowClient

    from registry_ops.quickstart.spirals import SpiralNet

EXPERIMENT_NAME = "registry-ops-quickstart"
DEFAULT_ARTIFACTS_DIR = ".quickstart/artifacts"

# One shared dataset for every version, so their metrics are directly comparable.
DATA_SEED = 7
DATA_NOISE = 0.05
N_TRAIN = 1_500
N_VAL = 500
# Initialisation seed shared by all versions: differences come from capacity and budget.
MODEL_SEED = 0

# The registry starts with bare models: descriptions and tags come from the
# manifests, so the first plan shows them being reconciled too.
MODELS = ("spirals-classifier", "spirals-experimental")


@dataclass(frozen=True)
class VersionSpec:
    """One model version to train and register."""

    model: str
    run_name: str
    hidden: int
    depth: int
    epochs: int


# Registration order defines the version numbers, which the manifests reference.
# Measured with the data/model seeds above (val_accuracy / val_loss):
#   classifier v1 ~0.64 / 0.62, v2 ~0.97 / 0.08, v3 ~0.99 / 0.03, experimental v1 ~0.64 / 0.59.
VERSIONS: tuple[VersionSpec, ...] = (
    # Four hidden units cannot bend around 1.5 turns of spiral: it plateaus well below 0.8.
    VersionSpec("spirals-classifier", "classifier-tiny", hidden=4, depth=1, epochs=400),
    # Good enough for production gates, but visibly worse than v3.
    VersionSpec("spirals-classifier", "classifier-medium", hidden=16, depth=1, epochs=1000),
    VersionSpec("spirals-classifier", "classifier-large", hidden=32, depth=2, epochs=500),
    # Plenty of capacity but stopped after 40 steps, i.e. before it leaves the linear regime.
    VersionSpec("spirals-experimental", "experimental-undertrained", hidden=64, depth=2, epochs=40),
)


def _parse_args(argv: Sequence[str] | None) -> tuple[str, Path | None]:
    """Parse the command line; return ``(tracking_uri, artifacts_dir)`` or exit
    (``artifacts_dir`` None: the tracking server's own artifact store)."""
    parser = argparse.ArgumentParser(
        prog="python -m registry_ops.quickstart",
        description=(
            "Seed the MLflow registry named by MLFLOW_TRACKING_URI with the quickstart's "
            "spirals-classifier (v1-v3) and spirals-experimental (v1) model versions."
        ),
    )
    parser.add_argument(
        "--artifacts",
        metavar="DIR",
        default=None,
        help=f"directory for run and model artifacts (default: {DEFAULT_ARTIFACTS_DIR}; on "
        "an http(s) tracking server, the server's artifact store)",
    )
    args = parser.parse_args(argv)
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if not tracking_uri:
        parser.error(
            "MLFLOW_TRACKING_URI is not set; point it at the registry to seed, e.g. "
            "MLFLOW_TRACKING_URI=sqlite:///.quickstart/mlflow.db"
        )
    if args.artifacts is None and tracking_uri.startswith(("http://", "https://")):
        return tracking_uri, None
    return tracking_uri, Path(args.artifacts or DEFAULT_ARTIFACTS_DIR).resolve()


# Progress chatter MLflow prints directly (not through logging), so log levels cannot
# silence it: log_model(registered_model_name=...) announces each registration on stderr,
# and ending a run against a tracking server writes the run/experiment URLs to stdout.
# Our own per-version line already says which version was created.
_MLFLOW_CHATTER = re.compile(
    r"^(Successfully registered model '.*'\.|Created version '\d+' of model '.*'\."
    r"|Registered model '.*' already exists\. Creating a new version of this model\.\.\."
    r"|\U0001f3c3 View run .* at: .*|\U0001f9ea View experiment at: .*)$"
)


def _quiet_mlflow() -> None:
    """Keep MLflow's (and its SQL migration tooling's) console output to real problems.

    Must run after ``import mlflow``: MLflow sets its loggers' levels when imported.
    """
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Defensive: nothing here touches stages and MLflow 3.17 emits no such warning for this
    # script, but the registry code paths have emitted it before and it is pure noise here.
    warnings.filterwarnings(
        "ignore", message=".*Model registry stages will be removed", category=FutureWarning
    )


@contextlib.contextmanager
def _without_mlflow_chatter() -> Iterator[None]:
    """Drop MLflow's progress chatter from stdout/stderr, passing everything else on.

    Anything else printed inside the block (warnings, errors) is re-emitted to the same
    stream after the block, so nothing but the known chatter is lost.
    """
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield
    finally:
        for captured, stream in ((out, sys.stdout), (err, sys.stderr)):
            for line in captured.getvalue().splitlines(keepends=True):
                if not _MLFLOW_CHATTER.match(line.rstrip("\n")):
                    stream.write(line)


def _ensure_experiment(client: MlflowClient, artifact_uri: str | None) -> str:
    """Return the id of the quickstart experiment, creating it with ``artifact_uri``
    (None: where the tracking server puts artifacts)."""
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is None:
        return client.create_experiment(EXPERIMENT_NAME, artifact_location=artifact_uri)
    if artifact_uri is not None and experiment.artifact_location != artifact_uri:
        # An experiment's artifact location is immutable; say where artifacts really go.
        print(
            f"note: reusing experiment {EXPERIMENT_NAME!r}; its artifacts stay at "
            f"{experiment.artifact_location} (not {artifact_uri})",
            file=sys.stderr,
        )
    return str(experiment.experiment_id)


def _already_seeded(client: MlflowClient) -> list[str]:
    """Names of quickstart models that already have versions in the registry."""
    seeded = []
    for name in MODELS:
        # Registering again would append v4, v5, ... and the manifests' version numbers
        # would then point at the wrong models, so refuse instead.
        if len(client.search_model_versions(f"name = '{name}'")) > 0:
            seeded.append(name)
    return seeded


def _pip_requirements() -> list[str]:
    """Pinned requirements for the logged models.

    Passing these explicitly stops MLflow from inferring requirements, which loads the
    model in a subprocess and takes seconds per version.
    """
    import torch

    # Drop the local version label ("+cpu"): it is not resolvable from PyPI.
    return [f"torch=={torch.__version__.split('+')[0]}"]


def model_logging_kwargs(model: SpiralNet, example: npt.NDArray[np.float32]) -> dict[str, Any]:
    """What every quickstart version is logged with, for ``mlflow.pytorch.log_model`` (or
    ``save_model``): a signature inferred from ``example`` and the model's output on it, the
    example itself (so a ``loadable`` gate has something to predict on), and pinned pip
    requirements. Tests log their models through this too, so they match the quickstart's.
    """
    import torch
    from mlflow.models import infer_signature

    with torch.no_grad():
        predictions = model(torch.from_numpy(example)).numpy()
    return {
        "signature": infer_signature(example, predictions),
        "input_example": example,
        "pip_requirements": _pip_requirements(),
    }


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when inside it: transcripts stay
    true on another machine, and no home directory is printed."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Train and register the quickstart model versions; return the exit code."""
    tracking_uri, artifacts_dir = _parse_args(argv)
    started = time.perf_counter()

    import mlflow
    import mlflow.pytorch
    from mlflow import MlflowClient

    from registry_ops.quickstart.spirals import make_spirals, train

    _quiet_mlflow()

    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient()
    seeded = _already_seeded(client)
    if seeded:
        print(
            f"error: {tracking_uri} already has versions of {', '.join(seeded)}; the "
            "quickstart needs a fresh registry so that version numbers match the manifests.",
            file=sys.stderr,
        )
        return 1

    if artifacts_dir is not None:
        artifacts_dir.mkdir(parents=True, exist_ok=True)
    experiment_id = _ensure_experiment(client, artifacts_dir.as_uri() if artifacts_dir else None)
    mlflow.set_experiment(experiment_id=experiment_id)

    features, labels = make_spirals(N_TRAIN + N_VAL, noise=DATA_NOISE, seed=DATA_SEED)
    # make_spirals returns shuffled points, so a prefix/suffix split is a random split.
    X_train, y_train = features[:N_TRAIN], labels[:N_TRAIN]
    X_val, y_val = features[N_TRAIN:], labels[N_TRAIN:]
    example = X_val[:5]

    for spec in VERSIONS:
        t0 = time.perf_counter()
        result = train(
            spec.hidden, spec.depth, spec.epochs, MODEL_SEED, X_train, y_train, X_val, y_val
        )
        train_seconds = time.perf_counter() - t0
        # Chatter filter outermost: ending the run is what prints the run URLs.
        with _without_mlflow_chatter(), mlflow.start_run(run_name=spec.run_name):
            mlflow.log_params(
                {
                    "hidden": spec.hidden,
                    "depth": spec.depth,
                    "epochs": spec.epochs,
                    "seed": MODEL_SEED,
                }
            )
            mlflow.log_metrics(
                {
                    "train_accuracy": result.train_accuracy,
                    "val_accuracy": result.val_accuracy,
                    "val_loss": result.val_loss,
                }
            )
            info = mlflow.pytorch.log_model(
                result.model,
                name="model",
                registered_model_name=spec.model,
                **model_logging_kwargs(result.model, example),
            )
        print(
            f"{spec.model} v{info.registered_model_version}: "
            f"hidden={spec.hidden} depth={spec.depth} epochs={spec.epochs} "
            f"val_accuracy={result.val_accuracy:.4f} val_loss={result.val_loss:.4f} "
            f"train={train_seconds:.1f}s total={time.perf_counter() - t0:.1f}s",
            flush=True,
        )

    print(
        f"seeded {len(VERSIONS)} model versions in {time.perf_counter() - started:.1f}s "
        f"(tracking: {without_credentials(tracking_uri)}, "
        f"artifacts: {_shown(artifacts_dir) if artifacts_dir else 'the server'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
