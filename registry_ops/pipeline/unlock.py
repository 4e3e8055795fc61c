"""``force-unlock``: break a model's apply lease, leaving a trace of who did it."""

from __future__ import annotations

import json

from registry_ops.core.provenance import actor, now_iso
from registry_ops.core.text import printable
from registry_ops.errors import RegistryOpsError
from registry_ops.pipeline.lease import LEASE_TAG, UNLOCK_TAG, Lease
from registry_ops.registry import Registry


def held(registry: Registry, model: str) -> Lease | None:
    """``model``'s lease as it stands (None when there is none), to show and confirm."""
    tags = registry.read_model_tags([model])
    if model not in tags:
        raise RegistryOpsError(f"registered model '{printable(model)}' does not exist in MLflow")
    return Lease.from_tag(tags[model].get(LEASE_TAG))


def force_unlock(registry: Registry, model: str, expected: Lease | None = None) -> Lease | None:
    """Delete ``model``'s lease; return the lease broken (None when there was none).

    With ``expected`` (the lease the user confirmed breaking), a lease that has
    changed hands since is refused instead: that is an apply that just started.
    The unlock is recorded on the model (``registry_ops.last_force_unlock``):
    it also marks the model as managed, so a holder that the crashed apply
    left unstamped is still found and stamped by the next apply.
    """
    lease = held(registry, model)
    if lease is None:
        return None
    if expected is not None and lease.token != expected.token:
        raise RegistryOpsError(
            f"the apply lease on {printable(model)} changed hands while confirming: it is now "
            f"held by {printable(lease.describe())}; nothing was released"
        )
    record = {"by": actor(), "at": now_iso(), "lease": json.loads(lease.to_tag())}
    registry.set_model_tag(model, UNLOCK_TAG, json.dumps(record, sort_keys=True))
    registry.delete_model_tag(model, LEASE_TAG)
    return lease
