"""Model and artifact files, fetched through the URIs given, never MLflow's process-wide ones.

With ``tracking_uri``/``registry_uri`` given, files are downloaded through
those URIs (``mlflow.artifacts.download_artifacts`` takes them as
arguments), so nothing here changes MLflow's process-wide tracking URI.
Without them, MLflow's own configuration applies (``MLFLOW_TRACKING_URI``
and friends).

mlflow is imported inside functions: importing this module costs nothing
until a file is actually fetched.
"""

from __future__ import annotations

import os
import tempfile
from functools import cache
from pathlib import Path

from registry_ops.core.redact import redact
from registry_ops.registry.connection import quiet_mlflow
from registry_ops.registry.failures import ModelLoadError, mlflow_console, translated

__all__ = ["download_artifact", "fetch_model", "local_copy", "resolve_model_uri"]


def resolve_model_uri(uri: str, tracking_uri: str | None, registry_uri: str | None) -> str:
    """``uri`` with a registered model's name resolved to where its files are.

    ``mlflow.artifacts.download_artifacts`` accepts a tracking and registry
    URI, but (mlflow 3.17) looks up ``models:/<name>/<version>`` through the
    process-wide registry URI regardless, finding nothing or the wrong
    registry. So the name, version, alias or stage is resolved here, with a
    client bound to the given URIs. Other URIs (``runs:/``, logged-model
    ids ``models:/m-...``, storage URIs) pass through.
    """
    if not uri.startswith("models:/") or uri.startswith("models://"):
        return uri
    parts = uri[len("models:/") :].strip("/").split("/")
    if len(parts) < 2 and "@" not in parts[0]:
        return uri  # a logged model id, found through the tracking URI
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri)
    if "@" in parts[0]:
        name, alias = parts[0].split("@", 1)
        version = str(client.get_model_version_by_alias(name, alias).version)
        rest = parts[1:]
    else:
        name, which = parts[0], parts[1]
        rest = parts[2:]
        if which.isdigit():
            version = which
        else:
            stages = [] if which.lower() == "latest" else [which]
            found = client.get_latest_versions(name, stages)
            if not found:
                raise ModelLoadError(f"{uri}: model {name!r} has no version in stage {which!r}")
            version = str(max(int(v.version) for v in found))
    base = client.get_model_version_download_uri(name, version).rstrip("/")
    return "/".join([base, *rest])


def local_copy(
    model_uri: str, tracking_uri: str | None, registry_uri: str | None
) -> tuple[str, tempfile.TemporaryDirectory[str] | None]:
    """Where to load ``model_uri`` from: itself, or a downloaded copy when URIs are given.

    The caller owns the returned directory (None: nothing was downloaded).
    """
    if tracking_uri is None and registry_uri is None:
        return model_uri, None
    import mlflow.artifacts

    holder = tempfile.TemporaryDirectory(prefix="registry-ops-model-")
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=resolve_model_uri(model_uri, tracking_uri, registry_uri),
            dst_path=holder.name,
            tracking_uri=tracking_uri,
            registry_uri=registry_uri or tracking_uri,
        )
    except BaseException:
        holder.cleanup()
        raise
    return local, holder


def fetch_model(
    model_uri: str, dst_dir: Path, *, tracking_uri: str | None, registry_uri: str | None
) -> Path:
    """Download a model version's files into ``dst_dir``; the directory holding its MLmodel.

    The planning process fetches (it holds the credentials) and hands the sandboxed child
    a local path: the child needs no credential and no network.

    Raises:
        ModelLoadError: the download failed (message redacted, one line).
    """
    quiet_mlflow()
    with translated(f"cannot download {redact(model_uri)}"):
        import mlflow.artifacts

        local = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=resolve_model_uri(model_uri, tracking_uri, registry_uri),
                dst_path=os.fspath(dst_dir),
                tracking_uri=tracking_uri,
                registry_uri=registry_uri or tracking_uri,
            )
        )
    if not (local / "MLmodel").is_file():
        raise ModelLoadError(f"{redact(model_uri)} has no MLmodel file: its files are not a model")
    return local


def download_artifact(
    uri: str,
    dst_dir: str | os.PathLike[str] | None = None,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> Path:
    """Fetch an artifact (e.g. a holdout file behind ``runs:/<id>/holdout.csv``) into
    ``dst_dir``, by default a directory of its own that lasts until the process ends
    (the file is read once, and its path is kept with what was read from it).

    Usable as :data:`registry_ops.gates.evaluation.Downloader` as it is, or via
    ``functools.partial(download_artifact, tracking_uri=..., registry_uri=...)``.

    Raises:
        ModelLoadError: the download failed.
    """
    quiet_mlflow()
    if dst_dir is None:
        dst_dir = tempfile.mkdtemp(prefix="download-", dir=_downloads().name)
    with translated(f"cannot download {redact(uri)}"), mlflow_console():
        import mlflow.artifacts

        return Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=resolve_model_uri(uri, tracking_uri, registry_uri),
                dst_path=os.fspath(dst_dir),
                tracking_uri=tracking_uri,
                registry_uri=registry_uri or tracking_uri,
            )
        )


@cache
def _downloads() -> tempfile.TemporaryDirectory[str]:
    """The process's directory for downloads given no place (removed when it exits)."""
    return tempfile.TemporaryDirectory(prefix="registry-ops-downloads-")
