"""Versions of one model side by side: metrics, who holds what, deltas.

``registry-ops compare MODEL [VERSION...]`` is built here as plain data, so
the table logic is tested without MLflow: :func:`select` picks the versions
(from an :class:`~registry_ops.core.state.ObservedModel`), :func:`build` lays out
the table from their metric evidence, and :func:`collect` does both around the
adapter's batched reads (``read_state([model])`` and one
``read_metrics(versions)``), never a call per version. Renderers live in
:mod:`registry_ops.render.compare`.

A version's metrics are read as gates and ``status`` read them
(:mod:`registry_ops.core.metrics`): its logged model's, else its source run's;
a metric logged per dataset is one row per dataset (``accuracy[validation]``),
and each value keeps its source.

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

from registry_ops.core.gate_result import jsonable
from registry_ops.core.metric_book import MetricBook
from registry_ops.core.metrics import Reading
from registry_ops.core.state import Observed, ObservedModel, ObservedVersion
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

    def read_metrics(self, versions: Iterable[ObservedVersion]) -> MetricBook:
        """The metric evidence of the versions (runs and logged models), batched."""
        ...

    def prompts(self, names: Iterable[str]) -> dict[str, ObservedModel]:
        """Which of ``names`` (not found by a read) are MLflow prompts."""
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
    model_id: str | None = None  # the version's logged model (MLflow 3)
    #: metric -> where its value came from (logged model or run, dataset, step, note)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)

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
        """What the default cap left out, and what to know about values shown (a deleted
        run, a run's value standing in for its logged model's); None when nothing."""
        notes = [
            f"v{c.version} {name}: {source['note']}"
            for c in self.columns
            for name, source in c.sources.items()
            if source.get("note")
        ]
        if self.omitted:
            notes.insert(
                0,
                f"showing {len(self.columns)} of {self.total_versions} versions (the newest, "
                f"and every alias and Production/Staging holder); name versions to compare "
                f"others, or raise --limit",
            )
        return "; ".join(notes) or None

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
                    "model_id": c.model_id,
                    "metrics": {k: _finite(v) for k, v in c.metrics.items()},
                    "deltas": {k: _finite(_tidy(v)) for k, v in c.deltas.items()},
                    "sources": jsonable(c.sources),
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


def _rows(metric_names: Sequence[str], tables: Iterable[dict[str, Reading]]) -> list[str]:
    """The row labels: every one any version has, sorted; or those ``metric_names`` pick,
    in their order (a name picks its own row and its rows per dataset)."""
    found: dict[str, str] = {}
    for table in tables:
        found.update((name, r.key) for name, r in table.items())
    if not metric_names:
        return sorted(found)
    rows: list[str] = []
    for wanted in dict.fromkeys(metric_names):
        picked = [n for n in sorted(found) if wanted in (n, found[n])] or [wanted]
        rows += [n for n in picked if n not in rows]
    return rows


def build(
    model: ObservedModel,
    versions: Sequence[int],
    book: MetricBook,
    metric_names: Sequence[str] = (),
    total_versions: int | None = None,
    omitted: int = 0,
) -> Comparison:
    """The comparison of ``versions`` of ``model``, from their metric evidence.

    ``metric_names`` picks and orders the rows; by default every metric any
    compared version has (one row per dataset it was logged for), sorted by
    name. A version lacking a metric shows no value and no delta for it.
    """
    ref, ref_by = reference(model, versions)
    columns: list[Column] = []
    tables = {v: book.of(model.versions[v]).table() for v in versions}
    names = _rows(metric_names, tables.values())
    values = {v: {k: r.value for k, r in t.items()} for v, t in tables.items()}
    base = values.get(ref, {}) if ref is not None else {}
    for version in versions:
        mine = {k: values[version][k] for k in names if k in values[version]}
        deltas = (
            {}
            if version == ref
            else {k: mine[k] - base[k] for k in names if k in mine and k in base}
        )
        observed = model.versions[version]
        columns.append(
            Column(
                version=version,
                holds=holds(model, version),
                run_id=observed.run_id,
                metrics=mine,
                deltas=deltas,
                model_id=observed.model_id,
                sources={k: tables[version][k].to_dict() for k in mine},
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
    """Read ``model`` and its compared versions' metrics (batched reads) and build.

    Raises:
        RegistryOpsError: the model is not registered, or a named version does not exist.
    """
    observed = registry.read_state([model]).get(model)
    if observed is None:
        if registry.prompts([model]):
            raise RegistryOpsError(
                f"{model!r} is an MLflow prompt, not a registered model; registry-ops does not "
                "compare prompts"
            )
        raise RegistryOpsError(f"model {model!r} is not registered in MLflow")
    versions, omitted = select(observed, requested, limit)
    chosen = [observed.versions[v] for v in versions]
    runs, models = MetricBook.wanted(chosen)
    book = registry.read_metrics(chosen) if runs or models else MetricBook()
    return build(observed, versions, book, metric_names, omitted=omitted)
