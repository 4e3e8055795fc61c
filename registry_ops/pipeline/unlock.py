"""``force-unlock``: break a model's apply lease, leaving a trace of who did it."""

from __future__ import annotations

import json

from registry_ops.core.provenance import actor, now_iso
from registry_ops.errors import RegistryOpsError
from registry_ops.pipeline.lease import LEASE_TAG, UNLOCK_TAG, Lease
from registry_ops.registry import Registry


def force_unlock(registry: Registry, model: str) -> Lease | None:
    """Delete ``model``'s lease; return the lease broken (None when there was none).

    The unlock is recorded on the model (``registry_ops.last_force_unlock``):
    it also marks the model as managed, so a holder that the crashed apply
    left unstamped is still found and stamped by the next apply.
    """
    tags = registry.read_model_tags([model])
    if model not in tags:
        raise RegistryOpsError(f"registered model '{model}' does not exist in MLflow")
    lease = Lease.from_tag(tags[model].get(LEASE_TAG))
    if lease is None:
        return None
    record = {"by": actor(), "at": now_iso(), "lease": json.loads(lease.to_tag())}
    registry.set_model_tag(model, UNLOCK_TAG, json.dumps(record, sort_keys=True))
    registry.delete_model_tag(model, LEASE_TAG)
    return lease
