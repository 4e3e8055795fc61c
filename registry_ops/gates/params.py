"""Checks of gate parameters that kinds share: thresholds are finite, ``min`` <= ``max``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeGuard

from registry_ops.gates import ParamPath, ParamProblem, Written


def check_bounds(
    base: ParamPath, bounds: Mapping[Any, Any], written: Written
) -> list[ParamProblem]:
    """Finite numbers, and min <= max, in one mapping of thresholds found at ``base``.

    A NaN threshold compares false with every value and an infinite one is met
    by every value, so either would let every candidate through.
    """
    found: list[ParamProblem] = []
    for key, value in bounds.items():
        if isinstance(value, float) and not math.isfinite(value):
            path = (*base, key)
            message = (
                f"expected a finite number, got {written(path) or str(value).lower()}: "
                "a NaN or infinite threshold would let every candidate through"
            )
            found.append(ParamProblem(path, message))
    low, high = bounds.get("min"), bounds.get("max")
    if is_number(low) and is_number(high) and low > high:
        message = f"min {low} is greater than max {high}: no value can pass this gate"
        found.append(ParamProblem((*base, "min"), message))
    return found


def is_number(value: Any) -> TypeGuard[int | float]:
    """A finite int or float (not a bool, which YAML gives for ``yes``)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
