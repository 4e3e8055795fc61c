"""Arithmetic of a gate relative to the version that holds the target now.

The meaning is that of :class:`mlflow.models.MetricThreshold` as applied by
``mlflow.validate_evaluation_results`` (mlflow 3.x,
``mlflow/models/evaluation/validation.py``), with the holder as MLflow's
"baseline":

* ``threshold``: with ``greater_is_better`` the candidate must be
  ``>= threshold``, otherwise ``<= threshold``.
* ``min_absolute_change``: the candidate must be ``>= holder + change``
  (greater is better) or ``<= holder - change`` (lower is better).
* ``min_relative_change`` (a fraction in [0, 1]): the change relative to the
  magnitude of the holder's value, ``(candidate - holder) / |holder|`` (or
  ``(holder - candidate) / |holder|`` when lower is better), must be at least
  that fraction; i.e. the candidate must be ``>= holder + f * |holder|`` or
  ``<= holder - f * |holder|``. When the holder's value is 0 the relative
  change is undefined and MLflow falls back to "strictly better than the
  holder" (by 1e-10); so do we, except for ``min_relative_change: 0``, which
  keeps its plain meaning "no worse than the holder".

Where MLflow's implementation is wrong for a reconciler, this module differs
on purpose (each case has a test in ``tests/test_relative_gate.py``):

* ``min_absolute_change: 0`` is accepted and means "no worse than the holder"
  (MLflow refuses it as "must be positive"); ``min_relative_change: 0``
  works the same, and may be written as an integer (MLflow insists on float).
* a holder that lacks the metric fails the gate naming the metric (MLflow
  raises a bare ``KeyError``).
* comparisons are tolerant of float rounding: a value within
  ``math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)`` of a bound meets it, so
  0.3 meets "at least 0.2 + 0.1" (MLflow compares ``Decimal`` images of the
  floats and fails it). 1e-9 relative is far below any meaningful metric
  difference and far above double rounding noise (about 1e-16 relative).
* with no current holder (a target's first promotion) the change checks pass
  and say "no current holder: first promotion"; an absolute ``threshold``
  still applies (MLflow fails every change check without a baseline).
* NaN on either side fails, with a message (MLflow lets NaN pass some
  comparisons and fail others).

Pure: no MLflow import, so plans and tests stay fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = [
    "ABS_TOL",
    "REL_TOL",
    "RelativeOutcome",
    "RelativeThreshold",
    "check_relative",
    "meets",
]

# Tolerance of every comparison with a bound; see the module docstring.
REL_TOL = 1e-9
ABS_TOL = 1e-12
# MLflow's margin for "strictly better" when the holder's value is 0 and a
# relative change is required (validation.py: ``baseline + 1e-10``).
_ZERO_BASELINE_MARGIN = 1e-10


def _number(value: object) -> bool:
    # bool is an int subclass; ``threshold: true`` in YAML is a mistake, not 1.
    return isinstance(value, int | float) and not isinstance(value, bool)


def meets(value: float, bound: float, greater_is_better: bool) -> bool:
    """Whether ``value`` is at least as good as ``bound``, tolerating float rounding.

    ``>=`` when greater is better, ``<=`` otherwise; values within
    :data:`REL_TOL` / :data:`ABS_TOL` of the bound count as equal to it.
    NaN never meets anything.
    """
    if math.isnan(value) or math.isnan(bound):
        return False
    if value >= bound if greater_is_better else value <= bound:
        return True
    return math.isclose(value, bound, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _signed(value: float) -> str:
    return f"{value:+.6g}"


@dataclass(frozen=True)
class RelativeThreshold:
    """The rule of one relative gate; the same fields as ``MetricThreshold``.

    Raises ``ValueError`` on construction when the rule is meaningless: no
    bound at all, a negative change, a relative change above 1, NaN or a
    non-number.
    """

    greater_is_better: bool
    min_absolute_change: float | None = None
    min_relative_change: float | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        """Validate like ``MetricThreshold``, but accept 0 changes (see module docstring)."""
        if not isinstance(self.greater_is_better, bool):
            raise ValueError("greater_is_better must be true or false")
        for field_name in ("threshold", "min_absolute_change", "min_relative_change"):
            value = getattr(self, field_name)
            if value is None:
                continue
            if not _number(value):
                raise ValueError(f"{field_name} must be a number, got {value!r}")
            if math.isnan(value):
                raise ValueError(f"{field_name} must be a number, got NaN")
        if self.min_absolute_change is not None and self.min_absolute_change < 0:
            raise ValueError(
                f"min_absolute_change must be 0 or more (0: no worse than the current holder), "
                f"got {self.min_absolute_change}"
            )
        if self.min_relative_change is not None and not 0 <= self.min_relative_change <= 1:
            raise ValueError(
                f"min_relative_change is a fraction between 0 and 1 (0.05 = 5%), "
                f"got {self.min_relative_change}"
            )
        if (
            self.threshold is None
            and self.min_absolute_change is None
            and self.min_relative_change is None
        ):
            raise ValueError(
                "a relative gate needs min_absolute_change, min_relative_change or threshold"
            )

    @property
    def compares_to_holder(self) -> bool:
        """Whether any check needs the current holder's value."""
        return self.min_absolute_change is not None or self.min_relative_change is not None

    def describe(self, metric: str) -> str:
        """A short gate name, e.g. ``val_accuracy >= current holder + 0.01``."""
        op = ">=" if self.greater_is_better else "<="
        sign = "+" if self.greater_is_better else "-"
        parts = []
        if self.min_absolute_change is not None:
            if self.min_absolute_change == 0:
                parts.append(f"{metric} {op} current holder")
            else:
                parts.append(
                    f"{metric} {op} current holder {sign} {_fmt(self.min_absolute_change)}"
                )
        if self.min_relative_change is not None:
            parts.append(
                f"{metric} {op} current holder {sign} {_fmt(self.min_relative_change * 100)}%"
            )
        if self.threshold is not None:
            parts.append(f"{metric} {op} {_fmt(self.threshold)}")
        # Two change checks on one metric read better without repeating the name.
        return " and ".join(parts)


@dataclass(frozen=True)
class RelativeOutcome:
    """The result of one relative gate: the verdict, a sentence, and the numbers behind it.

    ``absolute_change`` is ``candidate - holder`` and ``relative_change`` is
    ``(candidate - holder) / |holder|``, both signed as raw differences (not
    flipped for lower-is-better metrics), or None when they cannot be
    computed (no holder, a missing or NaN value, a holder value of 0 for the
    relative change). ``required`` is the strictest bound the candidate had
    to meet (the largest when greater is better), for reports.
    """

    metric: str
    passed: bool
    detail: str
    candidate: float | None
    holder: float | None
    absolute_change: float | None
    relative_change: float | None
    required: float | None
    greater_is_better: bool
    threshold: float | None
    min_absolute_change: float | None
    min_relative_change: float | None
    first_promotion: bool


def check_relative(
    metric: str,
    rule: RelativeThreshold,
    candidate_metrics: Mapping[str, float] | None,
    holder_metrics: Mapping[str, float] | None,
    *,
    has_holder: bool | None = None,
    candidate_label: str = "the candidate",
    holder_label: str = "the current holder",
) -> RelativeOutcome:
    """Decide one relative gate; never raises for missing or odd evidence, fails instead.

    Args:
        metric: The metric's name, looked up in both mappings.
        rule: The thresholds.
        candidate_metrics: The candidate's metrics; None when it has none at
            all (no source run): the gate fails naming the metric.
        holder_metrics: The current holder's metrics. None means there is no
            holder unless ``has_holder`` says otherwise.
        has_holder: Whether some version holds the target now. Defaults to
            ``holder_metrics is not None``; pass True with ``holder_metrics``
            None for a holder without metrics (e.g. no source run), which then
            fails the change checks instead of counting as a first promotion.
        candidate_label: How details name the candidate, e.g. ``"v4"``.
        holder_label: How details name the holder, e.g. ``"v3 (current holder)"``.
    """
    holder_exists = holder_metrics is not None if has_holder is None else has_holder
    gib = rule.greater_is_better
    op = ">=" if gib else "<="

    def outcome(
        passed: bool,
        detail: str,
        candidate: float | None = None,
        holder: float | None = None,
        required: float | None = None,
    ) -> RelativeOutcome:
        absolute = relative = None
        if candidate is not None and holder is not None:
            absolute = candidate - holder
            if holder != 0 and math.isfinite(absolute) and math.isfinite(holder):
                relative = absolute / abs(holder)
            if not math.isfinite(absolute):
                absolute = None
        return RelativeOutcome(
            metric=metric,
            passed=passed,
            detail=detail,
            candidate=candidate,
            holder=holder,
            absolute_change=absolute,
            relative_change=relative,
            required=required,
            greater_is_better=gib,
            threshold=rule.threshold,
            min_absolute_change=rule.min_absolute_change,
            min_relative_change=rule.min_relative_change,
            first_promotion=not holder_exists,
        )

    # ---- the candidate's own value -------------------------------------------
    if candidate_metrics is None or metric not in candidate_metrics:
        return outcome(False, f"metric '{metric}' is missing from {candidate_label}")
    cand = float(candidate_metrics[metric])
    if math.isnan(cand):
        return outcome(False, f"{metric} is NaN for {candidate_label}")

    failures: list[str] = []
    met: list[str] = []
    bounds: list[float] = []
    if rule.threshold is not None:
        bounds.append(rule.threshold)
        (met if meets(cand, rule.threshold, gib) else failures).append(
            f"{op} {_fmt(rule.threshold)} (threshold)"
        )

    if not rule.compares_to_holder:
        return _finish(outcome, metric, cand, None, failures, met, bounds, gib, candidate_label)

    # ---- the holder's value ----------------------------------------------------
    if not holder_exists:
        # The first promotion to a target has nothing to improve on: pass the
        # change checks (say so) and keep only the absolute threshold.
        detail = "no current holder: first promotion"
        if rule.threshold is not None:
            verdict = "meets" if not failures else "fails"
            detail += f"; {metric} = {_fmt(cand)} {verdict} {op} {_fmt(rule.threshold)}"
        required = rule.threshold
        return outcome(not failures, detail, cand, None, required)
    if holder_metrics is None or metric not in holder_metrics:
        return outcome(
            False,
            f"metric '{metric}' is missing from {holder_label}, so the change in {metric} "
            "cannot be measured",
            cand,
        )
    held = float(holder_metrics[metric])
    if math.isnan(held):
        return outcome(False, f"{metric} is NaN for {holder_label}", cand)

    # ---- change checks, on the metric's own scale --------------------------------
    sign = 1.0 if gib else -1.0
    if rule.min_absolute_change is not None:
        bound = held + sign * rule.min_absolute_change
        bounds.append(bound)
        (met if meets(cand, bound, gib) else failures).append(
            f"{op} {_fmt(bound)} (holder {'+' if gib else '-'} {_fmt(rule.min_absolute_change)})"
        )
    if rule.min_relative_change is not None:
        if held == 0 and rule.min_relative_change > 0:
            # No relative change from 0: MLflow's fallback, strictly better.
            bound = held + sign * _ZERO_BASELINE_MARGIN
            # No tolerance here: the margin itself is the point.
            strictly = cand >= bound if gib else cand <= bound
            bounds.append(bound)
            (met if strictly else failures).append(
                f"{'>' if gib else '<'} 0 (the holder's value is 0, so a relative change "
                "means strictly better)"
            )
        else:
            bound = held + sign * rule.min_relative_change * abs(held)
            bounds.append(bound)
            (met if meets(cand, bound, gib) else failures).append(
                f"{op} {_fmt(bound)} (holder {'+' if gib else '-'} "
                f"{_fmt(rule.min_relative_change * 100)}%)"
            )
    return _finish(outcome, metric, cand, held, failures, met, bounds, gib, holder_label)


def _finish(
    outcome: Callable[..., RelativeOutcome],
    metric: str,
    cand: float,
    held: float | None,
    failures: list[str],
    met: list[str],
    bounds: list[float],
    gib: bool,
    label: str,
) -> RelativeOutcome:
    """Assemble the sentence: the values, the change, then what failed or held."""
    head = f"{metric} = {_fmt(cand)}"
    if held is not None:
        head += f", {label} {_fmt(held)}"
        change = cand - held
        if math.isfinite(change):
            head += f" (change {_signed(change)}"
            if held != 0 and math.isfinite(held):
                head += f", {change / abs(held) * 100:+.3g}%"
            head += ")"
    required = (max(bounds) if gib else min(bounds)) if bounds else None
    if failures:
        detail = f"{head}; needs {' and '.join(failures)}"
    else:
        detail = f"{head}; meets {' and '.join(met)}"
    return outcome(not failures, detail, cand, held, required)
