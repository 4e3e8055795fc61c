"""Loading and scoring model versions: the MLflow (and Spark) side of the model gates.

* :func:`load_pyfunc` and :func:`predictor`: a model URI as a ``predict``
  callable for :mod:`registry_ops.gates.evaluation`;
* :func:`predict_on_input_example`: the evidence of a ``loadable`` gate;
* :func:`signature_of`: the evidence of a ``signature`` gate;
* :func:`download_artifact`: an artifact URI (a holdout dataset) as a local file;
* :func:`local_spark_session`, :func:`spark_predict`, :func:`spark_evaluate`:
  scoring a holdout with ``mlflow.pyfunc.spark_udf``, whose predictions go
  through the same metric code as in-process scoring.

mlflow, pyspark and every model flavour's framework (torch, ...) are
imported inside functions: ``registry_ops.registry.models`` itself
imports only the standard library, pandas/numpy and pure registry-ops
modules, so importing it costs nothing until a model is actually used.

Where models come from: with ``tracking_uri``/``registry_uri`` given, the
model's files are downloaded through those URIs (``mlflow.artifacts.
download_artifacts`` takes them as arguments) and loaded from the local copy,
so nothing here changes MLflow's process-wide tracking URI. Without them,
MLflow's own configuration applies (``MLFLOW_TRACKING_URI`` and friends).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from registry_ops.core.redact import redact
from registry_ops.errors import RegistryError, RegistryOpsError
from registry_ops.gates.evaluation import (
    Evaluation,
    EvaluationError,
    Holdout,
    Predict,
    Progress,
    ProgressEvent,
    evaluate_predictions,
)

__all__ = [
    "LoadCheck",
    "ModelLoadError",
    "download_artifact",
    "load_pyfunc",
    "local_spark_session",
    "predict_on_input_example",
    "predictor",
    "signature_of",
    "spark_evaluate",
    "spark_predict",
]


class ModelLoadError(RegistryError):
    """A model version could not be downloaded or loaded through mlflow.pyfunc."""


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    text = str(text).strip()
    return redact(text.splitlines()[0] if text else type(exc).__name__)


@contextmanager
def _translated(what: str, error: type[RegistryOpsError] = ModelLoadError) -> Iterator[None]:
    """Any failure inside becomes ``error`` with a one-line, redacted message."""
    try:
        yield
    except RegistryOpsError:
        raise
    except Exception as exc:  # MlflowException, OSError, a flavour's own errors...
        raise error(f"{what}: {type(exc).__name__}: {_first_line(exc)}") from exc


def _quiet() -> None:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow  # noqa: F401 - sets its loggers' levels on import; lower them after

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _resolve(uri: str, tracking_uri: str | None, registry_uri: str | None) -> str:
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


def _local_copy(
    model_uri: str, tracking_uri: str | None, registry_uri: str | None
) -> tuple[str, tempfile.TemporaryDirectory[str] | None]:
    """Where to load ``model_uri`` from: itself, or a downloaded copy when URIs are given."""
    if tracking_uri is None and registry_uri is None:
        return model_uri, None
    import mlflow.artifacts

    holder = tempfile.TemporaryDirectory(prefix="registry-ops-model-")
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=_resolve(model_uri, tracking_uri, registry_uri),
            dst_path=holder.name,
            tracking_uri=tracking_uri,
            registry_uri=registry_uri or tracking_uri,
        )
    except BaseException:
        holder.cleanup()
        raise
    return local, holder


def load_pyfunc(
    model_uri: str,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> Any:
    """The ``mlflow.pyfunc.PyFuncModel`` at ``model_uri`` (``models:/name/3``, ``runs:/...``).

    Raises:
        ModelLoadError: download or load failed (message redacted, one line).
    """
    _quiet()
    with _translated(f"cannot load {redact(model_uri)}"):
        import mlflow.pyfunc

        local, holder = _local_copy(model_uri, tracking_uri, registry_uri)
        try:
            model = mlflow.pyfunc.load_model(local)
        except BaseException:
            if holder is not None:
                holder.cleanup()
            raise
        if holder is not None:
            # Some flavours read their files lazily: keep the copy as long as the model lives.
            weakref.finalize(model, holder.cleanup)
        return model


def _input_schema(model: Any) -> Any:
    metadata = getattr(model, "metadata", None)
    signature = getattr(metadata, "signature", None)
    return getattr(signature, "inputs", None)


def _conform(frame: pd.DataFrame, schema: Any) -> Any:
    """Shape a holdout batch the way the model's signature asks for it.

    A CSV's floats are float64, and MLflow refuses to narrow them to a
    float32 tensor signature (the quickstart's torch models) or column: the
    holdout is ours, so cast it here instead of failing the gate.
    """
    if schema is None:
        return frame
    if schema.is_tensor_spec():
        specs = schema.inputs
        if len(specs) == 1 and not schema.has_input_names():
            spec = specs[0]
            array = frame.to_numpy(dtype=spec.type)
            shape = tuple(spec.shape)
            if len(shape) > 2:  # e.g. (-1, 28, 28): rows of flattened values
                array = array.reshape((-1, *shape[1:]))
            return array
        return frame
    try:
        wanted = dict(zip(schema.input_names(), schema.numpy_types(), strict=False))
    except Exception:  # object, array or map columns: nothing numeric to narrow
        return frame
    casts = {
        name: dtype
        for name, dtype in wanted.items()
        if name in frame.columns
        and isinstance(name, str)
        and np.dtype(dtype).kind in "fiu"
        and frame[name].dtype.kind in "fiu"
        and frame[name].dtype != dtype
    }
    return frame.astype(casts) if casts else frame


def predictor(model: Any) -> Predict:
    """A ``predict`` callable for :mod:`registry_ops.gates.evaluation` from a loaded pyfunc model.

    Batches are cast to the model's input signature first (see
    :func:`_conform`); output is returned as the model gives it.
    """
    schema = _input_schema(model)

    def predict(batch: pd.DataFrame) -> Any:
        with warnings.catch_warnings():
            # torch warns on every call that MLflow's arrays are not writable.
            warnings.filterwarnings("ignore", message=".*non-writable", category=UserWarning)
            return model.predict(_conform(batch, schema))

    return predict


def signature_of(
    model_uri: str,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> dict[str, Any] | None:
    """The model's signature as plain data, or None when it was logged without one.

    ``{"inputs": [...], "outputs": [...] or None, "params": [...] or None}``,
    each a list of MLflow's JSON column/tensor specs. Reads the MLmodel file
    only; the model itself is not loaded.

    Raises:
        ModelLoadError: the MLmodel file cannot be read.
    """
    import json

    _quiet()
    with _translated(f"cannot read the MLmodel file of {redact(model_uri)}"):
        from mlflow.models import Model

        if tracking_uri is None and registry_uri is None:
            from mlflow.models import get_model_info

            signature = get_model_info(model_uri).signature
        else:
            import mlflow.artifacts

            with tempfile.TemporaryDirectory(prefix="registry-ops-mlmodel-") as tmp:
                path = mlflow.artifacts.download_artifacts(
                    artifact_uri=_resolve(model_uri, tracking_uri, registry_uri) + "/MLmodel",
                    dst_path=tmp,
                    tracking_uri=tracking_uri,
                    registry_uri=registry_uri or tracking_uri,
                )
                signature = Model.load(path).signature
    if signature is None:
        return None
    raw = signature.to_dict()
    return {key: json.loads(value) if value else None for key, value in raw.items()}


@dataclass(frozen=True)
class LoadCheck:
    """Evidence of a ``loadable`` gate: did the version load, and predict on its input example.

    ``predicted`` is None when the model was logged without an input
    example (nothing to predict on); ``detail`` says what happened, with the
    error text (redacted) when something failed.
    """

    loaded: bool
    predicted: bool | None
    detail: str
    load_seconds: float
    predict_seconds: float | None = None

    @property
    def ok(self) -> bool:
        """Loaded and predicted on its input example."""
        return self.loaded and self.predicted is True


def predict_on_input_example(
    model_uri: str,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> LoadCheck:
    """Load the version through mlflow.pyfunc and predict on its logged input example.

    Never raises for a broken model: the failure is the result.
    """
    began = time.perf_counter()
    try:
        model = load_pyfunc(model_uri, tracking_uri=tracking_uri, registry_uri=registry_uri)
    except ModelLoadError as exc:
        return LoadCheck(False, None, str(exc), time.perf_counter() - began)
    load_seconds = time.perf_counter() - began
    example = model.input_example
    if example is None:
        return LoadCheck(
            True,
            None,
            f"loads in {load_seconds:.1f}s, but was logged without an input example to predict on",
            load_seconds,
        )
    began = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*non-writable", category=UserWarning)
            output = model.predict(example)
    except Exception as exc:  # the model's own failure is the evidence
        return LoadCheck(
            True,
            False,
            f"loads, but predicting on its input example failed: {type(exc).__name__}: "
            f"{_first_line(exc)}",
            load_seconds,
            time.perf_counter() - began,
        )
    predict_seconds = time.perf_counter() - began
    rows = len(output) if hasattr(output, "__len__") else 1
    return LoadCheck(
        True,
        True,
        f"loads in {load_seconds:.1f}s and predicts on its input example "
        f"({rows} row{'s' if rows != 1 else ''}) in {predict_seconds * 1000:.0f} ms",
        load_seconds,
        predict_seconds,
    )


def download_artifact(
    uri: str,
    dst_dir: str | os.PathLike[str],
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> Path:
    """Fetch an artifact (e.g. a holdout file behind ``runs:/<id>/holdout.csv``) into ``dst_dir``.

    Usable as :data:`registry_ops.gates.evaluation.Downloader` via
    ``functools.partial(download_artifact, dst_dir=...)``.

    Raises:
        ModelLoadError: the download failed.
    """
    _quiet()
    with _translated(f"cannot download {redact(uri)}"):
        import mlflow.artifacts

        return Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=_resolve(uri, tracking_uri, registry_uri),
                dst_path=os.fspath(dst_dir),
                tracking_uri=tracking_uri,
                registry_uri=registry_uri or tracking_uri,
            )
        )


# ---- Spark --------------------------------------------------------------------------


@contextmanager
def _pyspark_warnings() -> Iterator[None]:
    """Silence pyspark's and MLflow's warnings about choices made here on purpose."""
    with warnings.catch_warnings():
        # pyspark 4.x warns on every pandas conversion under pandas 3; the
        # conversions used here (numeric columns and arrays) are tested.
        warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas")
        warnings.filterwarnings("ignore", message=".*copy keyword is deprecated")
        logger = logging.getLogger("mlflow.pyfunc")
        level = logger.level
        # env_manager="local" is deliberate: the evaluating process already
        # has the model's packages; MLflow warns about it on every UDF.
        logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            logger.setLevel(level)


def local_spark_session(master: str = "local[2]", app_name: str = "registry-ops") -> Any:
    """A quiet, local-only Spark session for scoring.

    No UI, bound to 127.0.0.1 (nothing listens on outside interfaces, no
    hostname lookups), few shuffle partitions (holdouts are small), Arrow
    transfers, and Python workers running this interpreter, so the UDF sees
    the same packages (``env_manager="local"``).

    Raises:
        EvaluationError: pyspark is not installed or Java is missing.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EvaluationError(
            "the Spark engine needs pyspark: pip install 'registry-ops[spark]'"
        ) from None
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise EvaluationError("the Spark engine needs Java 17 or later (JAVA_HOME or java on PATH)")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    local = master.startswith("local")
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Only errors from the JVM: its default log4j profile prints start-up
    # chatter at WARN before setLogLevel can run.
    log4j = Path(tempfile.gettempdir()) / "registry-ops-spark-log4j2.properties"
    log4j.write_text(
        "rootLogger.level = error\n"
        "rootLogger.appenderRef.stderr.ref = console\n"
        "appender.console.type = Console\n"
        "appender.console.name = console\n"
        "appender.console.target = SYSTEM_ERR\n"
        "appender.console.layout.type = PatternLayout\n"
        "appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n\n",
        encoding="utf-8",
    )
    with _translated("cannot start Spark", EvaluationError), _pyspark_warnings():
        builder = (
            SparkSession.builder.master(master)
            .appName(app_name)
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log4j.as_uri()}")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        )
        if local:  # a cluster's executors must reach the driver: bind loopback only locally
            builder = (
                builder.config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.sql.shuffle.partitions", "2")
            )
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
    return spark


def _tensor_result_type(outputs: Any) -> str | None:
    """The UDF result type for a tensor output signature; None: let MLflow infer it.

    MLflow infers ``array<array<float>>`` for a ``(-1, k)`` tensor and then
    fails to convert the model's ``n x k`` array row by row: ask for one
    flat array per row instead.
    """
    if outputs is None or not outputs.is_tensor_spec() or len(outputs.inputs) != 1:
        return None
    shape = tuple(outputs.inputs[0].shape)
    return "array<double>" if len(shape) >= 2 else "double"


def spark_predict(
    model_uri: str,
    frame: pd.DataFrame,
    *,
    spark: Any,
    result_type: str | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> npt.NDArray[Any]:
    """Predictions of ``mlflow.pyfunc.spark_udf`` for every row of ``frame``, in row order.

    The model's input signature decides how columns reach it: a single
    tensor input gets one array column built from ``frame``'s columns (cast
    to the tensor's dtype), anything else a struct of the named columns.
    ``result_type`` defaults to what MLflow infers from the output
    signature (``double`` without one). Array results come back as an
    ``n x k`` matrix.

    Raises:
        ModelLoadError: the model cannot be loaded.
        EvaluationError: the Spark job failed.
    """
    _quiet()
    import mlflow.models
    import mlflow.pyfunc
    from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

    local, holder = _local_copy(model_uri, tracking_uri, registry_uri)
    try:
        with _translated(f"cannot read the model at {redact(model_uri)}"):
            signature = mlflow.models.Model.load(local).signature
        schema = getattr(signature, "inputs", None)
        if result_type is None:
            result_type = _tensor_result_type(getattr(signature, "outputs", None))
        with _translated(f"cannot build a Spark UDF for {redact(model_uri)}"), _pyspark_warnings():
            udf = mlflow.pyfunc.spark_udf(
                spark, local, result_type=result_type, env_manager="local"
            )
        row = "__registry_ops_row"
        features = [str(c) for c in frame.columns]
        data = frame.assign(**{row: np.arange(len(frame), dtype=np.int64)})
        with (
            _translated(f"scoring {redact(model_uri)} on Spark failed", EvaluationError),
            _pyspark_warnings(),
        ):
            sdf = spark.createDataFrame(data)
            if schema is not None and schema.is_tensor_spec() and len(schema.inputs) == 1:
                dtype = np.dtype(schema.inputs[0].type)
                spark_type = {"f": "float" if dtype.itemsize == 4 else "double"}.get(
                    dtype.kind, "long" if dtype.kind in "iu" else "double"
                )
                column = F.array(*[F.col(c).cast(spark_type) for c in features])
            else:
                column = F.struct(*[F.col(c) for c in features])
            scored = sdf.select(F.col(row), udf(column).alias("prediction")).toPandas()
    finally:
        if holder is not None:
            holder.cleanup()
    scored = scored.sort_values(row)
    values: npt.NDArray[Any] = scored["prediction"].to_numpy()
    if len(values) and isinstance(values[0], list | np.ndarray):
        return np.stack([np.asarray(v) for v in values])
    return values


def spark_evaluate(
    model_uri: str,
    holdout: Holdout,
    *,
    spark: Any | None = None,
    metrics: list[str] | None = None,
    task: str | None = None,
    result_type: str | None = None,
    progress: Progress | None = None,
    model: str = "model",
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> Evaluation:
    """Score ``holdout`` with the Spark engine; metrics as :func:`evaluation.evaluate` computes.

    Without ``spark`` a local session is started and stopped again (10-20 s
    of start-up: pass a session to score several models). ``seconds`` is
    the scoring job's wall time (UDF creation, model load on the workers,
    scoring, collecting), without session start-up. No latency metric: see
    :func:`registry_ops.gates.evaluation.evaluate_predictions`. ``progress`` is
    called once, when the job has finished.
    """
    own = spark is None
    session: Any = local_spark_session() if spark is None else spark
    try:
        began = time.perf_counter()
        predictions = spark_predict(
            model_uri,
            holdout.X,
            spark=session,
            result_type=result_type,
            tracking_uri=tracking_uri,
            registry_uri=registry_uri,
        )
        seconds = time.perf_counter() - began
    finally:
        if own:
            session.stop()
    if progress is not None:
        progress(ProgressEvent(model, 1, 1, holdout.rows, holdout.rows))
    return evaluate_predictions(
        predictions,
        holdout,
        metrics=metrics,
        task=task,
        engine="spark",
        seconds=seconds,
        model=model,
    )
