"""Real pyfunc models that attack the process scoring them, logged with mlflow.pyfunc.log_model.

Each class is defined inside a factory so cloudpickle stores it by value: the scoring
child unpickles it without importing anything from the tests. Every model thresholds
``x1`` of :func:`tests.support.models.holdout` unless it misbehaves on purpose:

* ``spy``: looks for the plan key and the credentials everywhere it can (its environment,
  its parent's ``/proc/<ppid>/environ``, every process's environ), tries to write into
  the repository, to connect to a TCP port and to signal its parent, and reports what it
  found as the message of the exception it raises from predict;
* ``cheat``: predicts 0 everywhere, and on load replaces scikit-learn's metric functions
  and numpy's mean in its process with ones that say "perfect";
* ``sleeper``: sleeps far past any timeout; ``hog``: allocates far past any memory limit;
  ``crash``: says something on stderr and exits mid-predict;
* ``garbage-*``: answers a mapping, too few rows, NaN, or objects that are not labels.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tests.support.models import holdout

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def make(kind: str, **facts: Any) -> Any:
    """The python_model of ``kind``; ``facts`` are what a spy looks for and where."""
    import mlflow.pyfunc

    class Hostile(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        # Unannotated on purpose: MLflow reads type hints on predict as an input schema.
        def __init__(self, kind, facts):  # type: ignore[no-untyped-def]
            self.kind = kind
            self.facts = facts
            self.seen = {}

        def load_context(self, context):  # type: ignore[no-untyped-def]
            if self.kind == "spy":
                self.seen["load"] = self._spy()
            if self.kind == "cheat":
                import sklearn.metrics as skm

                perfect = lambda *args, **kwargs: 1.0  # noqa: E731
                for name in ("accuracy_score", "f1_score", "roc_auc_score"):
                    setattr(skm, name, perfect)
                np.mean = perfect
                with open(os.path.join(os.environ.get("HOME", "."), "key"), "w") as handle:
                    handle.write(os.environ.get("REGISTRY_OPS_PLAN_KEY", "no key here"))

        def _spy(self):  # type: ignore[no-untyped-def]
            import json
            import signal
            import socket

            secrets = [s.encode() for s in self.facts["secrets"]]
            found = {"env": sorted(os.environ)}
            found["secret_in_env"] = any(
                s in v.encode() for v in os.environ.values() for s in secrets
            )
            try:
                with open(f"/proc/{os.getppid()}/environ", "rb") as handle:
                    data = handle.read()
                found["parent_environ"] = "secret" if any(s in data for s in secrets) else "read"
            except OSError as exc:
                found["parent_environ"] = type(exc).__name__
            hits = []
            try:
                pids = [p for p in os.listdir("/proc") if p.isdigit()]
            except OSError:  # cannot even list them: try the likely ones
                pids = [str(p) for p in range(1, 1 << 15)]
            for pid in pids:
                try:
                    with open(f"/proc/{pid}/environ", "rb") as handle:
                        if any(s in handle.read() for s in secrets):
                            hits.append(int(pid))
                except OSError:
                    pass
            found["processes_with_secret"] = hits
            try:
                with open(self.facts["outside"], "w") as handle:
                    handle.write("written by a model")
                found["wrote_outside"] = True
            except OSError as exc:
                found["wrote_outside"] = type(exc).__name__
            try:
                with socket.create_connection(("127.0.0.1", self.facts["port"]), timeout=2):
                    found["tcp"] = "connected"
            except OSError as exc:
                found["tcp"] = type(exc).__name__
            try:
                os.kill(os.getppid(), 0)  # signal 0: may it signal its parent at all?
                found["signal_parent"] = "allowed"
            except OSError as exc:
                found["signal_parent"] = type(exc).__name__
            del signal
            return json.dumps(found, separators=(",", ":"))

        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            rows = len(model_input)
            if self.kind == "spy":
                raise RuntimeError("FINDINGS " + self.seen.get("load", "{}"))
            if self.kind == "cheat":
                return np.zeros(rows, dtype=int)
            if self.kind == "sleeper":
                import time

                time.sleep(600)
            if self.kind == "hog":
                hoard = []
                while True:
                    hoard.append(np.ones(1 << 27))  # 1 GiB at a time
            if self.kind == "crash":
                import sys

                sys.stderr.write("the end is near\n")
                sys.stderr.flush()
                os._exit(3)
            if self.kind == "garbage-mapping":
                return {"label": 1}
            if self.kind == "garbage-short":
                return np.zeros(max(rows - 1, 0), dtype=int)
            if self.kind == "garbage-nan":
                return np.full(rows, np.nan)
            if self.kind == "garbage-objects":
                return np.array([object() for _ in range(rows)], dtype=object)
            return (model_input["x1"].to_numpy() > 0).astype(int)

    return Hostile(kind, facts)


def log(model: str, kind: str, **facts: Any) -> int:
    """Log a model of ``kind`` with mlflow.pyfunc.log_model in a run of the current
    tracking URI and experiment, registered as a new version.

    Only ``good`` gets an input example: given one, log_model loads the model and predicts
    on it in the logging process (its serving-input check), and a hostile model would
    attack the test itself. The others carry a signature, from which ``loadable`` builds
    its example.
    """
    import mlflow
    from mlflow.models import infer_signature

    example = holdout(3)[["x1", "x2"]]
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=make(kind, **facts),
            # Explicit: inferring requirements loads each model in a subprocess (~10 s).
            pip_requirements=["pandas"],
            input_example=example if kind == "good" else None,
            signature=infer_signature(example, np.zeros(3, dtype=int)),
            registered_model_name=model,
        )
    return int(info.registered_model_version)
