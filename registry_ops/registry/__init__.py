"""Every MLflow call registry-ops makes: the only package that imports mlflow.

:class:`Registry` is one connection, assembled from one module per concern:

* :mod:`~registry_ops.registry.connection`: the client, HTTP retry defaults,
  quiet logging and the fail-fast probe;
* :mod:`~registry_ops.registry.failures`: every failure re-raised as
  :class:`~registry_ops.errors.RegistryError`, one sentence, credentials redacted;
* :mod:`~registry_ops.registry.reads`: batched reads (a handful of paged
  searches for the state of N models, never a call per version);
* :mod:`~registry_ops.registry.metrics`: metric evidence, batched too: the
  runs and MLflow 3 logged models the versions name;
* :mod:`~registry_ops.registry.writes`: registry writes, one request each;
* :mod:`~registry_ops.registry.applylog`: experiments and runs (the apply log).

Gates' evidence about models is :mod:`~registry_ops.registry.evidence`: it
fetches a version's files (:mod:`~registry_ops.registry.artifacts`) and has it
loaded and scored by a sandboxed child process, never in this one
(:mod:`~registry_ops.registry.sandbox` and :mod:`~registry_ops.registry.confine`
run it, :mod:`~registry_ops.registry.isolated` checks its answers,
:mod:`~registry_ops.registry.modelenv` picks its interpreter; the child itself is
the standalone script :mod:`~registry_ops.registry.model_child`, with
:mod:`~registry_ops.registry.spark_child` for the Spark engine).
:mod:`~registry_ops.registry.pyfunc` loads a model in this process for
:mod:`~registry_ops.registry.loading`, the public ``load_model``. Importing
this package does not import mlflow.
"""

from __future__ import annotations

from registry_ops.registry.metrics import MetricReads
from registry_ops.registry.reads import Reads
from registry_ops.registry.writes import Writes

__all__ = ["Registry"]


class Registry(Reads, MetricReads, Writes):
    """A connection to one MLflow tracking server and model registry.

    ``Registry(tracking_uri, registry_uri=None, on_retry=None)``: ``on_retry``
    is told, in one short sentence, each time a request is retried (the CLI
    shows it on a terminal). Over HTTP the server is probed at once with a
    short fuse, so a dead or hung one fails within seconds.
    """
