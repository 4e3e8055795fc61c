"""The registry as registry-ops may use it: provenance records without a valid MAC left out.

A version's provenance record (the ``registry_ops.provenance`` tag) decides
things: whether a holder was put there by an apply (drift, and the alert of a
protected target), when a version held a target (the rollback exemption,
``requires_previous``), which earlier targets the next stamp carries on. Any
registry writer can set that tag, so with ``REGISTRY_OPS_PLAN_KEY`` set each
record carries a MAC bound to the model, the version and its whole content
(:mod:`registry_ops.core.records`), and :func:`authenticated` gives the readers
a view of the registry in which a record that does not verify is absent. A
forged record, or a genuine one copied onto another version, then decides
exactly what no record decides.

Absent, rather than flagged: every reader (planner, gates, drift, the apply
log's drift check, history) already knows what a version without a record
means, and none of them can forget to look at a flag. Nothing else of a
version changes, so what a saved plan pins of it reads the same at plan and
at apply.

Without a key nothing is removed: records are used as written, and the
readers that show them say that they are unauthenticated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from registry_ops.core.provenance import PROVENANCE_TAG
from registry_ops.core.records import RecordKey, Trust
from registry_ops.core.state import Observed, ObservedModel, ObservedVersion

PROVENANCE_KIND = "provenance"


def dump(record: Mapping[str, Any]) -> str:
    """A record as a tag value: canonical, compact JSON."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def load(text: str | None) -> dict[str, Any] | None:
    """A record read from a tag value; None when it is no JSON object.

    A tag is at most a few thousand characters, but ``[[[[...`` that deep
    exhausts the parser's recursion: that is unreadable too, not a crash.
    """
    if not text:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def seal_provenance(text: str, model: str, version: int, key: RecordKey) -> str:
    """The provenance tag value ``text`` (as :func:`~registry_ops.core.provenance.stamp`
    writes it) with its MAC added; unchanged without a key."""
    if not key.enabled:
        return text
    data = load(text)
    if data is None:
        raise ValueError("a provenance record must be a JSON object")
    return dump(key.seal(PROVENANCE_KIND, model, version, data))


def provenance_trust(model: str, version: ObservedVersion, key: RecordKey) -> Trust | None:
    """What ``version``'s provenance record is worth (None: it has none)."""
    text = version.tags.get(PROVENANCE_TAG)
    if text is None:
        return None
    if not key.enabled:
        return Trust.UNKEYED
    data = load(text)
    if data is None:
        return Trust.UNVERIFIED
    return key.check(PROVENANCE_KIND, model, version.version, data)


def unverified(model: ObservedModel, key: RecordKey) -> list[int]:
    """The versions of ``model`` whose provenance record does not verify."""
    return [
        number
        for number, version in sorted(model.versions.items())
        if provenance_trust(model.name, version, key) is Trust.UNVERIFIED
    ]


def authenticated_versions(
    model: str, versions: Mapping[int, ObservedVersion], key: RecordKey
) -> dict[int, ObservedVersion]:
    """``versions`` of ``model`` with every provenance record that does not verify removed."""
    out = dict(versions)
    if not key.enabled:
        return out
    for number, version in versions.items():
        if provenance_trust(model, version, key) is Trust.UNVERIFIED:
            tags = {k: v for k, v in version.tags.items() if k != PROVENANCE_TAG}
            out[number] = replace(version, tags=tags)
    return out


def authenticated_model(model: ObservedModel, key: RecordKey) -> ObservedModel:
    """``model`` with every provenance record that does not verify removed."""
    versions = authenticated_versions(model.name, model.versions, key)
    if all(versions[n] is v for n, v in model.versions.items()):
        return model
    return replace(model, versions=versions)


def authenticated(observed: Observed, key: RecordKey) -> Observed:
    """The registry as registry-ops may use it: see the module docstring."""
    if not key.enabled:
        return observed
    return Observed({name: authenticated_model(m, key) for name, m in observed.models.items()})
