"""Versions of one model side by side: run metrics, who holds what, deltas.

``registry-ops compare MODEL [VERSION...]`` is built here as plain data, so
the table logic is tested without MLflow: :func:`select` picks the versions
(from an :class:`~registry_ops.core.state.ObservedModel`), :func:`build` lays out
the table from their runs' metrics, and :func:`collect` does both around the
adapter's two batched reads (``read_state([model])`` and one
``run_metrics(run_ids)``), never a call per version. Renderers live in
:mod:`registry_ops.render.compare`.

The reference column, the one deltas are taken against, is the first of:

1. the version holding the ``champion`` alias,
2. the version in the ``Production`` stage (the newest, if several),
3. the first version compared,

looked for among the versions compared only, so that every delta is
between two columns of the same table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from registry_ops.core.state import Observed, ObservedModel
from registry_ops.errors import RegistryOpsError

#: Versions shown when none are named: enough to see a trend, narrow enough to read.
DEFAULT_LIMIT = 10
REFERENCE_ALIAS = "champion"
REFERENCE_STAGE = "Production"
# Stages that mark a version; "None" (MLflow's string for no stage) marks nothing.
_STAGE_ORDER = ("Production", "Staging", "Archived")
_VERSION = re.compile(r"[vV]?([0-9]+)")


class MetricsSource(Protocol):
    """What :func:`collect` needs of a registry (``mlflow_adapter.Registry`` has it)."""

    def read_state(self, names: Sequence[str] | None = None) -> Observed:
        """Batched read of the named models."""
        ...

    def run_metrics(self, run_ids: Iterable[str]) -> dict[str, dict[str, float]]:
        """Latest metrics of each run, batched."""
        ...


@dataclass(frozen=True)
class Column:
    """One version of the comparison."""

    version: int
    holds: list[str]
    run_id: str | None
    metrics: dict[str, float]
    #: metric -> this version's value minus the reference's; empty for the reference itself
    deltas: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``v3 [champion, Production]``: the version and what it holds."""
        held = f" [{', '.join(self.holds)}]" if self.holds else ""
        return f"v{self.version}{held}"


@dataclass(frozen=True)
class Comparison:
    """The versions of one model compared, ready to render."""

    model: str
    columns: list[Column]
    #: names of the metric rows, in display order
    metrics: list[str]
    #: the version deltas are taken against (None when no versions are compared)
    reference: int | None
    #: why it is the reference: "champion", "Production" or "first"
    reference_by: str | None
    #: how many versions the model has; more than ``len(columns)`` when capped
    total_versions: int
    #: how many versions the default selection left out (0 when versions were named)
    omitted: int = 0

    def column(self, version: int) -> Column:
        """The column of ``version``."""
        return next(c for c in self.columns if c.version == version)

    def note(self) -> str | None:
        """What the default cap left out, in one sentence; None when nothing was."""
        if not self.omitted:
            return None
        return (
            f"showing {len(self.columns)} of {self.total_versions} versions (the newest, and "
            f"every alias and Production/Staging holder); name versions to compare others, "
            f"or raise --limit"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; non-finite numbers (MLflow allows NaN) become null."""
        return {
            "model": self.model,
            "reference": self.reference,
            "reference_by": self.reference_by,
            "total_versions": self.total_versions,
            "omitted": self.omitted,
            "versions": [
                {
                    "version": c.version,
                    "holds": list(c.holds),
                    "run_id": c.run_id,
                    "metrics": {k: _finite(v) for k, v in c.metrics.items()},
                    "deltas": {k: _finite(_tidy(v)) for k, v in c.deltas.items()},
                }
                for c in self.columns
            ],
            "metrics": list(self.metrics),
        }


def _finite(value: float) -> float | None:
    # json.dump would write NaN/Infinity, which strict JSON parsers refuse.
    return value if math.isfinite(value) else None


def _tidy(delta: float) -> float:
    # 0.966 - 0.636 is 0.32999999999999996 in binary floating point; 12 significant
    # digits drop that noise and keep far more precision than any metric has.
    return float(f"{delta:.12g}") if math.isfinite(delta) else delta


def parse_version(text: str) -> int:
    """``"3"`` or ``"v3"`` as 3 (the output labels versions ``v3``, so both are accepted).

    Raises:
        ValueError: not a version number.
    """
    match = _VERSION.fullmatch(text.strip())
    if not match or int(match[1]) < 1:
        raise ValueError(f"not a version number: {text!r} (expected e.g. 3 or v3)")
    return int(match[1])


def holds(model: ObservedModel, version: int) -> list[str]:
    """The aliases (by name) and then the stage ``version`` holds now."""
    held = sorted(a for a, v in model.aliases.items() if v == version)
    observed = model.versions.get(version)
    if observed is not None and observed.stage in _STAGE_ORDER:
        held.append(observed.stage)
    return held


def select(
    model: ObservedModel, requested: Sequence[int] = (), limit: int = DEFAULT_LIMIT
) -> tuple[list[int], int]:
    """The versions to compare and how many of the model's versions were left out.

    Named versions are kept in the order given (duplicates dropped), and each
    must exist. With none named: every version holding an alias or a
    Production/Staging stage (what people compare against), then the newest
    others up to ``limit`` in all, oldest first.

    Raises:
        RegistryOpsError: a named version does not exist (all of them are named).
    """
    if requested:
        wanted = list(dict.fromkeys(requested))
        unknown = [v for v in wanted if v not in model.versions]
        if unknown:
            have = _ranges(sorted(model.versions)) or "none"
            raise RegistryOpsError(
                f"model {model.name!r} has no version "
                f"{', '.join(f'v{v}' for v in unknown)} (it has: {have})"
            )
        return wanted, 0
    if limit < 1:
        raise ValueError("limit must be at least 1")
    held = set(model.aliases.values()) & set(model.versions)
    held.update(model.stage_holders("Production") + model.stage_holders("Staging"))
    chosen = set(held)
    for version in sorted(model.versions, reverse=True):
        if len(chosen) >= limit:
            break
        chosen.add(version)
    return sorted(chosen), len(model.versions) - len(chosen)


def _ranges(versions: list[int]) -> str:
    """``v1-v4, v7``: a model's version numbers, short even when there are thousands."""
    parts: list[str] = []
    start = prev = None
    for v in [*versions, None]:
        if v is not None and prev is not None and v == prev + 1:
            prev = v
            continue
        if start is not None:
            parts.append(f"v{start}" if start == prev else f"v{start}-v{prev}")
        start = prev = v
    return ", ".join(parts)


def reference(model: ObservedModel, versions: Sequence[int]) -> tuple[int | None, str | None]:
    """The reference version among ``versions`` and the rule that chose it."""
    if not versions:
        return None, None
    champion = model.aliases.get(REFERENCE_ALIAS)
    if champion in versions:
        return champion, REFERENCE_ALIAS
    production = [v for v in model.stage_holders(REFERENCE_STAGE) if v in versions]
    if production:
        return production[-1], REFERENCE_STAGE
    return versions[0], "first"


def build(
    model: ObservedModel,
    versions: Sequence[int],
    run_metrics: dict[str, dict[str, float]],
    metric_names: Sequence[str] = (),
    total_versions: int | None = None,
    omitted: int = 0,
) -> Comparison:
    """The comparison of ``versions`` of ``model``, from their runs' metrics.

    ``metric_names`` picks and orders the rows; by default every metric any
    compared version's run has, sorted by name. A version without a run, or
    whose run lacks a metric, shows no value and no delta for it.
    """
    ref, ref_by = reference(model, versions)
    columns: list[Column] = []
    values: dict[int, dict[str, float]] = {}
    for version in versions:
        run_id = model.versions[version].run_id
        values[version] = dict(run_metrics.get(run_id, {})) if run_id else {}
    names = list(dict.fromkeys(metric_names)) or sorted({k for m in values.values() for k in m})
    base = values.get(ref, {}) if ref is not None else {}
    for version in versions:
        mine = {k: values[version][k] for k in names if k in values[version]}
        deltas = (
            {}
            if version == ref
            else {k: mine[k] - base[k] for k in names if k in mine and k in base}
        )
        columns.append(
            Column(
                version=version,
                holds=holds(model, version),
                run_id=model.versions[version].run_id,
                metrics=mine,
                deltas=deltas,
            )
        )
    return Comparison(
        model=model.name,
        columns=columns,
        metrics=names,
        reference=ref,
        reference_by=ref_by,
        total_versions=len(model.versions) if total_versions is None else total_versions,
        omitted=omitted,
    )


def collect(
    registry: MetricsSource,
    model: str,
    requested: Sequence[int] = (),
    metric_names: Sequence[str] = (),
    limit: int = DEFAULT_LIMIT,
) -> Comparison:
    """Read ``model`` and its compared versions' run metrics (two batched reads) and build.

    Raises:
        RegistryOpsError: the model is not registered, or a named version does not exist.
    """
    observed = registry.read_state([model]).get(model)
    if observed is None:
        raise RegistryOpsError(f"model {model!r} is not registered in MLflow")
    versions, omitted = select(observed, requested, limit)
    runs = {r for v in versions if (r := observed.versions[v].run_id)}
    metrics = registry.run_metrics(runs) if runs else {}
    return build(observed, versions, metrics, metric_names, omitted=omitted)
