"""The Spark engine: scoring a holdout with ``mlflow.pyfunc.spark_udf``.

Predictions go through the same metric code as in-process scoring
(:func:`registry_ops.gates.evaluation.evaluate_predictions`). mlflow and
pyspark are imported inside functions: importing this module costs nothing
until Spark is actually used. Model files are fetched as
:mod:`registry_ops.registry.artifacts` describes.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from registry_ops.core.redact import redact
from registry_ops.gates.evaluation import (
    Evaluation,
    EvaluationError,
    Holdout,
    Progress,
    ProgressEvent,
    evaluate_predictions,
)
from registry_ops.registry.artifacts import local_copy
from registry_ops.registry.connection import quiet_mlflow
from registry_ops.registry.failures import translated

__all__ = ["local_spark_session", "spark_evaluate", "spark_predict"]


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
    with translated("cannot start Spark", EvaluationError), _pyspark_warnings():
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
    quiet_mlflow()
    import mlflow.models
    import mlflow.pyfunc
    from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

    local, holder = local_copy(model_uri, tracking_uri, registry_uri)
    try:
        with translated(f"cannot read the model at {redact(model_uri)}"):
            signature = mlflow.models.Model.load(local).signature
        schema = getattr(signature, "inputs", None)
        if result_type is None:
            result_type = _tensor_result_type(getattr(signature, "outputs", None))
        with translated(f"cannot build a Spark UDF for {redact(model_uri)}"), _pyspark_warnings():
            udf = mlflow.pyfunc.spark_udf(
                spark, local, result_type=result_type, env_manager="local"
            )
        row = "__registry_ops_row"
        features = [str(c) for c in frame.columns]
        data = frame.assign(**{row: np.arange(len(frame), dtype=np.int64)})
        with (
            translated(f"scoring {redact(model_uri)} on Spark failed", EvaluationError),
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
