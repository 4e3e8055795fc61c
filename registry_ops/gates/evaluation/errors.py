"""What a live evaluation raises."""

from __future__ import annotations

from registry_ops.errors import RegistryOpsError


class EvaluationError(RegistryOpsError):
    """A live evaluation could not be done: bad settings, predict failed, unusable output."""


class DatasetError(EvaluationError):
    """A holdout dataset is missing, outside the repository, unreadable or unfit."""
