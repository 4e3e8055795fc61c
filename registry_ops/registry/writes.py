"""Registry writes: one request each, through :meth:`Writes._write`.

``_write`` is the seam every registry write passes (tests count writes and
inject faults there). A write that loses a race with another writer on a SQL
store (a lock, a unique-constraint clash) is retried a few times.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from registry_ops.registry.connection import Connection
from registry_ops.registry.failures import transient

__all__ = ["Writes"]


class Writes(Connection):
    """The changes apply makes to registered models and their versions."""

    def _write(self, what: str, call: Callable[[], object]) -> None:
        with self.calling(what):
            for attempt in range(4):
                try:
                    call()
                    return
                except Exception as exc:
                    if attempt == 3 or not transient(exc):
                        raise
                    time.sleep(0.05 * 2**attempt)

    def set_alias(self, model: str, alias: str, version: int) -> None:
        """Point ``alias`` at ``version`` (moves it if another version held it)."""
        self._write(
            f"setting alias {alias} on {model}",
            lambda: self._writer.set_registered_model_alias(model, alias, str(version)),
        )

    def delete_alias(self, model: str, alias: str) -> None:
        """Remove ``alias`` from ``model``."""
        self._write(
            f"deleting alias {alias} of {model}",
            lambda: self._writer.delete_registered_model_alias(model, alias),
        )

    def transition_stage(self, model: str, version: int, stage: str) -> None:
        """Move one version to ``stage``; other holders are left for explicit changes."""
        self._write(
            f"moving {model} v{version} to {stage}",
            lambda: self._writer.transition_model_version_stage(
                model, str(version), stage, archive_existing_versions=False
            ),
        )

    def set_model_tag(self, model: str, key: str, value: str) -> None:
        """Set one registered-model tag."""
        self._write(
            f"setting tag {key} on {model}",
            lambda: self._writer.set_registered_model_tag(model, key, value),
        )

    def delete_model_tag(self, model: str, key: str) -> None:
        """Delete one registered-model tag (absent already is fine)."""
        from mlflow.exceptions import MlflowException

        def call() -> None:
            try:
                self._writer.delete_registered_model_tag(model, key)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise

        self._write(f"deleting tag {key} of {model}", call)

    def update_description(self, model: str, description: str) -> None:
        """Replace the registered model's description."""
        self._write(
            f"updating the description of {model}",
            lambda: self._writer.update_registered_model(model, description=description),
        )

    def set_version_tag(self, model: str, version: int, key: str, value: str) -> None:
        """Set one tag on one model version."""
        self._write(
            f"tagging {model} v{version}",
            lambda: self._writer.set_model_version_tag(model, str(version), key, value),
        )
