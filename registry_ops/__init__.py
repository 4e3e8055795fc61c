"""registry-ops: a declarative GitOps promotion pipeline for the MLflow Model Registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from registry_ops.errors import ModelLoadError, RegistryError, RegistryOpsError

if TYPE_CHECKING:
    from registry_ops.registry.loading import (
        AmbiguousTarget,
        Loaded,
        TargetNotResolved,
        load_model,
    )

__version__ = "0.1.0"
__all__ = [
    "AmbiguousTarget",
    "Loaded",
    "ModelLoadError",
    "RegistryError",
    "RegistryOpsError",
    "TargetNotResolved",
    "__version__",
    "load_model",
]

# The Python API lives in registry_ops.registry.loading and is imported on first use, so
# `import registry_ops` (and every CLI command) stays free of mlflow. The error types a
# caller catches around load_model that need no mlflow come from registry_ops.errors.
_API = frozenset({"AmbiguousTarget", "Loaded", "TargetNotResolved", "load_model"})


def __getattr__(name: str) -> Any:
    """The Python API names, imported on first access (PEP 562)."""
    if name in _API:
        from registry_ops.registry import loading as api

        return getattr(api, name)
    raise AttributeError(f"module 'registry_ops' has no attribute {name!r}")
