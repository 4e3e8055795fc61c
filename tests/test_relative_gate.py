"""The relative gate's arithmetic: MetricThreshold's meaning, minus MLflow's edge-case bugs."""

from __future__ import annotations

import math
import random

import pytest

from registry_ops.gates.relative import RelativeThreshold, check_relative, meets

GIB = RelativeThreshold(greater_is_better=True, min_absolute_change=0.01)
LOSS = RelativeThreshold(greater_is_better=False, min_absolute_change=0.01)


def check(rule: RelativeThreshold, cand: float | None, held: float | None, metric: str = "m"):  # type: ignore[no-untyped-def]
    return check_relative(
        metric,
        rule,
        None if cand is None else {metric: cand},
        None if held is None else {metric: held},
    )


# ---- ordinary semantics ------------------------------------------------------------


def test_absolute_change_greater_is_better() -> None:
    assert check(GIB, 0.95, 0.93).passed
    assert check(GIB, 0.935, 0.93).passed is False
    out = check(GIB, 0.95, 0.93)
    assert out.candidate == 0.95 and out.holder == 0.93
    assert out.absolute_change == pytest.approx(0.02)
    assert out.relative_change == pytest.approx(0.02 / 0.93)
    assert out.required == pytest.approx(0.94)
    assert out.min_absolute_change == 0.01 and out.greater_is_better
    assert out.first_promotion is False


def test_absolute_change_lower_is_better_flips_direction() -> None:
    assert check(LOSS, 0.30, 0.35).passed
    assert not check(LOSS, 0.345, 0.35).passed  # better, but by less than 0.01
    out = check(LOSS, 0.40, 0.35)
    assert not out.passed
    assert out.required == pytest.approx(0.34)
    assert "needs <= 0.34 (holder - 0.01)" in out.detail
    # raw signed change, not flipped
    assert out.absolute_change == pytest.approx(0.05)


def test_relative_change_is_relative_to_the_holder_magnitude() -> None:
    rule = RelativeThreshold(greater_is_better=True, min_relative_change=0.1)
    assert check(rule, 0.55, 0.5).passed  # +10%
    assert not check(rule, 0.54, 0.5).passed
    # negative baseline (an R2 below 0): divide by |holder| so "better" stays better
    assert check(rule, -0.45, -0.5).passed
    assert not check(rule, -0.55, -0.5).passed
    lower = RelativeThreshold(greater_is_better=False, min_relative_change=0.1)
    assert check(lower, 0.45, 0.5).passed
    assert not check(lower, 0.46, 0.5).passed


def test_relative_change_from_a_zero_holder_means_strictly_better() -> None:
    rule = RelativeThreshold(greater_is_better=True, min_relative_change=0.1)
    assert check(rule, 0.01, 0.0).passed
    assert not check(rule, 0.0, 0.0).passed
    out = check(rule, 0.0, 0.0)
    assert "strictly better" in out.detail
    assert out.relative_change is None
    # ... but 0 keeps its meaning: no worse
    assert check(RelativeThreshold(greater_is_better=True, min_relative_change=0), 0.0, 0.0).passed


def test_absolute_threshold() -> None:
    rule = RelativeThreshold(greater_is_better=True, threshold=0.9)
    assert check(rule, 0.9, None).passed
    assert not check(rule, 0.89, None).passed
    out = check(rule, 0.89, 0.5)
    assert "needs >= 0.9 (threshold)" in out.detail
    lower = RelativeThreshold(greater_is_better=False, threshold=0.35)
    assert check(lower, 0.3, None).passed and not check(lower, 0.4, None).passed


def test_all_checks_reported_together() -> None:
    rule = RelativeThreshold(
        greater_is_better=True, threshold=0.96, min_absolute_change=0.01, min_relative_change=0.05
    )
    out = check(rule, 0.95, 0.93)
    assert not out.passed
    assert "threshold" in out.detail and "holder + 5%" in out.detail
    assert out.required == pytest.approx(0.9765)  # the strictest bound


# ---- where MLflow's own implementation is wrong --------------------------------------


def test_zero_absolute_change_means_no_worse_than_the_holder() -> None:
    # MLflow: "`min_absolute_change` parameter must be a positive number."
    rule = RelativeThreshold(greater_is_better=True, min_absolute_change=0)
    assert check(rule, 0.93, 0.93).passed
    assert check(rule, 0.94, 0.93).passed
    assert not check(rule, 0.92, 0.93).passed
    assert rule.describe("val_accuracy") == "val_accuracy >= current holder"


def test_holder_lacking_the_metric_fails_naming_it() -> None:
    # MLflow: a raw KeyError('val_accuracy') from validate_evaluation_results.
    out = check_relative("val_accuracy", GIB, {"val_accuracy": 0.9}, {"val_loss": 0.3})
    assert not out.passed
    assert "val_accuracy" in out.detail and "missing from the current holder" in out.detail
    assert out.first_promotion is False


def test_float_rounding_does_not_fail_an_at_least_equal_check() -> None:
    # MLflow compares Decimal(0.3) >= Decimal(0.2 + 0.1) == 0.3000000000000000444: fails.
    rule = RelativeThreshold(greater_is_better=True, min_absolute_change=0.1)
    assert 0.3 < 0.2 + 0.1
    assert check(rule, 0.3, 0.2).passed
    assert check(RelativeThreshold(True, min_absolute_change=0), 0.3, 0.1 + 0.2).passed
    lower = RelativeThreshold(greater_is_better=False, min_absolute_change=0.1)
    assert check(lower, 0.2, 0.3).passed  # 0.3 - 0.1 == 0.19999999999999998
    # the tolerance is for rounding only, not for real differences
    assert not check(rule, 0.2999999, 0.2).passed
    assert meets(0.1 + 0.2, 0.3, True) and meets(0.3, 0.1 + 0.2, True)
    assert not meets(0.3 - 1e-7, 0.3, True)


def test_no_current_holder_passes_as_first_promotion() -> None:
    # MLflow: "Model comparison failed: metric m was missing from ... the baseline model".
    out = check_relative("val_accuracy", GIB, {"val_accuracy": 0.5}, None)
    assert out.passed and out.first_promotion
    assert out.detail == "no current holder: first promotion"
    assert out.holder is None and out.absolute_change is None
    # the absolute threshold still applies
    rule = RelativeThreshold(greater_is_better=True, min_absolute_change=0.0, threshold=0.9)
    out = check_relative("val_accuracy", rule, {"val_accuracy": 0.5}, None)
    assert not out.passed
    assert out.detail.startswith("no current holder: first promotion; val_accuracy = 0.5 fails")


def test_holder_without_metrics_is_not_a_first_promotion() -> None:
    out = check_relative("m", GIB, {"m": 0.5}, None, has_holder=True, holder_label="v3")
    assert not out.passed and not out.first_promotion
    assert out.detail == "metric 'm' is missing from v3, so the change in m cannot be measured"


@pytest.mark.parametrize(("cand", "held"), [(math.nan, 0.9), (0.9, math.nan), (math.nan, math.nan)])
def test_nan_on_either_side_fails(cand: float, held: float) -> None:
    out = check(GIB, cand, held)
    assert not out.passed
    assert "NaN" in out.detail
    rule = RelativeThreshold(greater_is_better=False, threshold=1.0)
    assert not check(rule, math.nan, None).passed


def test_missing_candidate_metric_fails_naming_it() -> None:
    out = check_relative(
        "val_f1", GIB, {"val_accuracy": 0.9}, {"val_f1": 0.8}, candidate_label="v4"
    )
    assert not out.passed and out.detail == "metric 'val_f1' is missing from v4"
    assert not check_relative("val_f1", GIB, None, {"val_f1": 0.8}).passed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs min_absolute_change"),
        ({"min_absolute_change": -0.1}, "0 or more"),
        ({"min_relative_change": 1.5}, "between 0 and 1"),
        ({"min_relative_change": -0.1}, "between 0 and 1"),
        ({"threshold": math.nan}, "NaN"),
        ({"threshold": True}, "must be a number"),
        ({"threshold": "0.9"}, "must be a number"),
    ],
)
def test_meaningless_rules_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RelativeThreshold(greater_is_better=True, **kwargs)  # type: ignore[arg-type]


def test_details_read_well() -> None:
    out = check_relative("val_accuracy", GIB, {"val_accuracy": 0.95}, {"val_accuracy": 0.93})
    assert out.detail == (
        "val_accuracy = 0.95, the current holder 0.93 (change +0.02, +2.15%); "
        "meets >= 0.94 (holder + 0.01)"
    )
    rule = RelativeThreshold(True, min_absolute_change=0.01, min_relative_change=0.05)
    assert rule.describe("acc") == "acc >= current holder + 0.01 and acc >= current holder + 5%"


# ---- same meaning as mlflow.validate_evaluation_results on ordinary cases ---------------


def test_agrees_with_mlflow_on_ordinary_cases() -> None:
    from mlflow import validate_evaluation_results
    from mlflow.exceptions import MlflowException
    from mlflow.models import EvaluationResult, MetricThreshold

    rng = random.Random(20261124)
    cases = 0
    for _ in range(400):
        gib = rng.random() < 0.5
        kwargs: dict[str, float] = {}
        if rng.random() < 0.6:
            kwargs["min_absolute_change"] = round(rng.uniform(0.001, 0.2), 3)
        if rng.random() < 0.6:
            kwargs["min_relative_change"] = round(rng.uniform(0.001, 0.5), 3)
        if not kwargs or rng.random() < 0.3:
            kwargs["threshold"] = round(rng.uniform(-1, 1), 3)
        cand = rng.uniform(-1, 1)
        held = rng.choice([rng.uniform(-1, 1), 0.0])
        ours = check(RelativeThreshold(greater_is_better=gib, **kwargs), cand, held).passed
        try:
            validate_evaluation_results(
                {"m": MetricThreshold(greater_is_better=gib, **kwargs)},
                EvaluationResult(metrics={"m": cand}, artifacts={}),
                EvaluationResult(metrics={"m": held}, artifacts={}),
            )
            theirs = True
        except MlflowException:
            theirs = False
        assert ours == theirs, (gib, kwargs, cand, held)
        cases += 1
    assert cases == 400
