"""Is a saved plan still true? The live state and every piece of evidence its gates read.

Apply refuses a saved plan (``StalePlan``, exit 4) once any model it changes
moved, a version fact a gate read changed (run, status, tags, creation
time), or a metric a gate read now reads differently: another value,
another source (logged model, run, dataset, step), a note (the run went to
the trash), or gone. Metrics are read again in the same batched way the plan
read them, and resolved by the same rules
(:meth:`registry_ops.core.metrics.VersionMetrics.read`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from registry_ops.core.metric_book import pin_reads
from registry_ops.core.plan import ModelPlan
from registry_ops.core.state import (
    Observed,
    ObservedVersion,
    fingerprint,
    snapshot_of,
    version_facts,
)
from registry_ops.core.text import printable
from registry_ops.errors import StalePlan

if TYPE_CHECKING:  # the adapter imports mlflow
    from registry_ops.registry import Registry

__all__ = ["check_fresh"]


def check_fresh(models: Sequence[ModelPlan], observed: Observed, registry: Registry) -> None:
    """Raise StalePlan unless every model, and every piece of evidence its gates
    read (version facts, metrics with their sources), is still as the plan saw it."""
    stale = []
    for model_plan in models:
        now = observed.get(model_plan.model)
        if fingerprint(snapshot_of(now)) != model_plan.fingerprint:
            moved = _what_moved(model_plan.snapshot, snapshot_of(now))
            stale.append(f"  {model_plan.model}: {moved}")
            continue
        assert now is not None
        for number, facts in sorted(model_plan.evidence.get("versions", {}).items()):
            version = now.versions.get(int(number))
            live = version_facts(version) if version else None
            if live != facts:
                what = _diff_keys(facts, live)
                stale.append(f"  {model_plan.model}: evidence of v{number} changed ({what})")
    if not stale:
        stale = _stale_metrics(models, observed, registry)
    if stale:
        raise StalePlan(
            "the saved plan is stale: the registry changed since it was made\n"
            + "\n".join(map(printable, stale))
            + "\nRun `registry-ops plan` again."
        )


def _stale_metrics(
    models: Sequence[ModelPlan], observed: Observed, registry: Registry
) -> list[str]:
    """Each pinned metric read again (one batched read for all), as the gates read it."""
    stale: list[str] = []
    pinned: list[tuple[str, ObservedVersion, dict[str, dict[str, Any]]]] = []
    for model_plan in models:
        if model_plan.evidence.get("metrics"):
            # Pinned by run id alone, before logged models and datasets counted.
            stale.append(
                f"  {model_plan.model}: the plan pins its metrics the way an older "
                "registry-ops did (by run only)"
            )
        model = observed.get(model_plan.model)
        for number, pins in sorted(model_plan.evidence.get("metric_reads", {}).items()):
            version = model.versions.get(int(number)) if model else None
            if version is None:
                stale.append(f"  {model_plan.model}: v{number} no longer exists")
                continue
            pinned.append((model_plan.model, version, pins))
    if not pinned:
        return stale
    book = registry.read_metrics(v for _, v, _ in pinned)
    for model_name, version, pins in pinned:
        specs = [(p["metric"], p.get("asked_dataset")) for p in pins.values()]
        live = pin_reads(book.of(version), specs)
        for key, was in sorted(pins.items()):
            now = live.get(key, {})
            if not _same(was, now):
                change = _change(was, now)
                stale.append(f"  {model_name} v{version.version}: metric {key} {change}")
    return stale


def _nan(value: object) -> bool:
    return isinstance(value, float) and value != value or value == "nan"


def _same(was: dict[str, Any], now: dict[str, Any]) -> bool:
    """Equal pins; NaN equals NaN (a saved plan spells it "nan")."""
    if was.keys() != now.keys():
        return False
    return all(was[k] == now[k] or (k == "value" and _nan(was[k]) and _nan(now[k])) for k in was)


def _change(was: dict[str, Any], now: dict[str, Any]) -> str:
    """What differs, in a few words: ``is now 0.1, was 0.95``."""

    def said(pin: dict[str, Any]) -> str:
        return f"missing ({pin['missing']})" if "missing" in pin else str(pin.get("value"))

    if (
        "missing" in was
        or "missing" in now
        or not _same({"value": was.get("value")}, {"value": now.get("value")})
    ):
        return f"is now {said(now)}, was {said(was)}"
    keys = sorted(k for k in set(was) | set(now) if was.get(k) != now.get(k))
    return "now reads " + ", ".join(f"{k} {now.get(k)!r} (was {was.get(k)!r})" for k in keys)


def _diff_keys(before: dict[str, object] | None, after: dict[str, object] | None) -> str:
    if before is None or after is None:
        return "version created or deleted"
    return ", ".join(k for k in sorted(before) if before.get(k) != after.get(k)) or "facts"


def _what_moved(before: dict[str, object] | None, after: dict[str, object] | None) -> str:
    if before is None or after is None:
        return "model was created or deleted"
    moved = [key for key in sorted(before) if before.get(key) != after.get(key)]
    return (", ".join(moved) or "state") + " changed"
