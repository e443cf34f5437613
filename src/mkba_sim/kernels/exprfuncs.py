"""Scalar helpers for generated model kernels, with NumPy's NaN semantics.

One function per entry of :data:`mkba_sim.model.expressions.FUNCTION_DEFS` that needs
one (its ``kernel`` field names it); the NumPy implementation beside that entry has the
same edge values, checked in ``tests/test_expr_functions.py``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mkba_sim.kernels.special import ndtr, ndtri

__all__ = [
    "fclip",
    "fexpit",
    "flog",
    "flogit",
    "fmax",
    "fmin",
    "fnormcdf",
    "fnorminv",
    "fround",
    "fsqrt",
]


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


@njit(cache=True, inline="always")
def fnormcdf(x: float) -> float:
    """Standard normal CDF Φ(x) (``normcdf``); NaN for NaN."""
    return ndtr(x)


@njit(cache=True, inline="always")
def fnorminv(p: float) -> float:
    """Standard normal quantile (``norminv``): -inf at 0, +inf at 1, NaN outside [0, 1]."""
    if 0.0 < p < 1.0:
        return ndtri(p)
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    return math.nan


@njit(cache=True, inline="always")
def flogit(p: float) -> float:
    """log(p / (1 - p)) as log(p) - log1p(-p) (``logit``): ±inf at 0 and 1, NaN outside."""
    if 0.0 < p < 1.0:
        return math.log(p) - math.log1p(-p)
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    return math.nan


@njit(cache=True, inline="always")
def fexpit(x: float) -> float:
    """1 / (1 + exp(-x)) without overflow (``expit``); NaN for NaN."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(-abs(x))
    return e / (1.0 + e)


@njit(cache=True, inline="always")
def fclip(x: float, lo: float, hi: float) -> float:
    """min(max(x, lo), hi) with NumPy's NaN semantics (``clip``)."""
    return fmin(fmax(x, lo), hi)


@njit(cache=True, inline="always")
def fround(x: float, digits: float = 0.0) -> float:
    """Round half away from zero to ``digits`` decimals (``round``); negative digits round
    to tens, hundreds, thousands (``round(9840, -3)`` is 10000). NaN if ``digits`` is not
    a whole number. The decimal scaling is done by multiplying (digits ≥ 0) or dividing
    (digits < 0) by an exact power of ten, as in the NumPy version."""
    if digits != np.floor(digits):  # np.floor: a float (math.floor gives an int)
        return math.nan
    pos = digits >= 0.0
    s = 10.0 ** abs(digits)
    y = x * s if pos else x / s
    a = abs(y)
    f = np.floor(a)
    r = math.copysign(f + 1.0 if a - f >= 0.5 else f, y)
    return r / s if pos else r * s
