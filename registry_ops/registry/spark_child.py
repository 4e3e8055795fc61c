"""The Spark engine of the scoring child: ``mlflow.pyfunc.spark_udf`` on a session it starts.

Imported by :mod:`model_child` (copied next to it) for ``mode: spark``; standard library,
numpy, pandas, mlflow and pyspark only. The session is this child's: its JVM and Python
workers are the child's own processes, so they inherit its environment (no secret), its
confinement and its time limit. A cluster's master URL (``spark://``, ``yarn``,
``k8s://``) comes in the request: there the executors that load the model are the
cluster's, not this machine's.

Memory: ``RLIMIT_AS`` cannot bound a JVM (it reserves far more address space than it
uses), so the parent sets none here; the request's ``memory_mb`` becomes the driver's heap
(``spark.driver.memory``) and the Python workers' limit (``spark.executor.pyspark.memory``,
which Spark enforces with ``RLIMIT_AS`` in each worker, where the model runs).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from model_child import Failure, _one_line, as_output, read_features

_LOG4J = (
    "rootLogger.level = error\n"
    "rootLogger.appenderRef.stderr.ref = console\n"
    "appender.console.type = Console\n"
    "appender.console.name = console\n"
    "appender.console.target = SYSTEM_ERR\n"
    "appender.console.layout.type = PatternLayout\n"
    "appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n\n"
)


def session(master: str, memory_mb: int | None, scratch: str) -> Any:
    """A quiet Spark session: no UI, loopback only when local, scratch files in ``scratch``."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise Failure(
            "spark", "the Spark engine needs pyspark: pip install 'registry-ops[spark]'"
        ) from exc
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    local = master.startswith("local")
    if local:
        os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    log4j = Path(scratch) / "log4j2.properties"
    log4j.write_text(_LOG4J, encoding="utf-8")
    # Only errors from the JVM, its temporary files in the child's own directory, and no
    # performance-data file under /tmp (the sandbox allows no writes there).
    java = (
        f"-Dlog4j2.configurationFile={log4j.as_uri()} -Djava.io.tmpdir={scratch} -XX:-UsePerfData"
    )
    builder = (
        SparkSession.builder.master(master)
        .appName("registry-ops")
        .config("spark.driver.extraJavaOptions", java)
        .config("spark.executor.extraJavaOptions", java)
        .config("spark.local.dir", scratch)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    if memory_mb:
        builder = builder.config("spark.driver.memory", f"{max(memory_mb // 2, 512)}m").config(
            "spark.executor.pyspark.memory", f"{memory_mb}m"
        )
    if local:  # a cluster's executors must reach the driver: bind loopback only locally
        builder = (
            builder.config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "2")
        )
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # a missing Java, a refused master URL, ...
        raise Failure("spark", f"cannot start Spark: {_one_line(exc)}") from exc
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _tensor_result_type(outputs: Any) -> str | None:
    """The UDF result type for a tensor output signature; None: let MLflow infer it.

    MLflow infers ``array<array<float>>`` for a ``(-1, k)`` tensor and then fails to
    convert the model's ``n x k`` array row by row: ask for one flat array per row instead.
    """
    if outputs is None or not outputs.is_tensor_spec() or len(outputs.inputs) != 1:
        return None
    shape = tuple(outputs.inputs[0].shape)
    return "array<double>" if len(shape) >= 2 else "double"


def spark_predict(spark: Any, model_path: str, frame: Any) -> npt.NDArray[Any]:
    """Predictions of ``mlflow.pyfunc.spark_udf`` for every row of ``frame``, in row order.

    The model's input signature decides how columns reach it: a single tensor input gets
    one array column built from ``frame``'s columns (cast to the tensor's dtype), anything
    else a struct of the named columns. Array results come back as an ``n x k`` matrix.
    """
    import mlflow.models
    import mlflow.pyfunc
    from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

    try:
        signature = mlflow.models.Model.load(model_path).signature
    except Exception as exc:  # a missing or unreadable MLmodel file
        raise Failure("load", _one_line(exc)) from exc
    schema = getattr(signature, "inputs", None)
    result_type = _tensor_result_type(getattr(signature, "outputs", None))
    try:
        # env_manager="local": this child's interpreter is the model's environment already.
        udf = mlflow.pyfunc.spark_udf(
            spark, model_path, result_type=result_type, env_manager="local"
        )
    except Exception as exc:  # the UDF loads the model's metadata and checks it
        raise Failure("load", f"cannot build a Spark UDF: {_one_line(exc)}") from exc
    row = "__registry_ops_row"
    features = [str(c) for c in frame.columns]
    data = frame.assign(**{row: np.arange(len(frame), dtype=np.int64)})
    try:
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
    except Exception as exc:  # the job failed: the model raised on a worker, or Spark did
        raise Failure("predict", f"scoring on Spark failed: {_one_line(exc)}") from exc
    values: npt.NDArray[Any] = scored.sort_values(row)["prediction"].to_numpy()
    if len(values) and isinstance(values[0], list | np.ndarray):
        return np.stack([np.asarray(v) for v in values])
    return values


def spark_score(request: dict[str, Any], out: str) -> dict[str, Any]:
    """``mode: spark``: score every row through spark_udf; no per-batch timings."""
    scratch = os.environ.get("TMPDIR") or out
    spark = session(request["spark_master"], request.get("memory_mb"), scratch)
    try:
        features = read_features(request["features"], request["columns"])
        began = time.perf_counter()
        predictions = as_output(spark_predict(spark, request["model"], features))
        seconds = time.perf_counter() - began
    finally:
        spark.stop()
    np.save(os.path.join(out, "predictions.npy"), predictions, allow_pickle=False)
    return {"ok": True, "seconds": seconds}
