"""Scalar helpers for generated model kernels, with NumPy's NaN semantics."""

from __future__ import annotations

import math

from numba import njit

__all__ = ["flog", "fmax", "fmin", "fsqrt"]


@njit(cache=True, inline="always")
def fmin(a: float, b: float) -> float:
    """``np.minimum`` for scalars: NaN if either argument is NaN."""
    if a != a or b != b:
        return math.nan
    return a if a < b else b


@njit(cache=True, inline="always")
def fmax(a: float, b: float) -> float:
    """``np.maximum`` for scalars: NaN if either argument is NaN."""
    if a != a or b != b:
        return math.nan
    return a if a > b else b


@njit(cache=True, inline="always")
def flog(a: float) -> float:
    """``np.log`` for scalars: -inf at 0, NaN below."""
    if a > 0.0:
        return math.log(a)
    if a == 0.0:
        return -math.inf
    return math.nan


@njit(cache=True, inline="always")
def fsqrt(a: float) -> float:
    """``np.sqrt`` for scalars: NaN below 0."""
    if a >= 0.0:
        return math.sqrt(a)
    return math.nan
