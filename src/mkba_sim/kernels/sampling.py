"""Inverse-CDF sampling of one draw's parameters, in numba.

Each parameter has a family code, up to four float parameters and an (offset, length)
into a shared ``pool`` of tables. Families without a closed-form quantile (beta, gamma,
PERT) use a *quantile table* on a logit grid: ``t = log(u / (1 - u))`` on
``QT_SIZE`` equally spaced points in ``[-QT_LIMIT, QT_LIMIT]``, linearly interpolated.
The logit grid puts as many points in the tails as in the bulk; the interpolation error
is checked against ``scipy.stats`` in the tests (below 1e-6 of the sd).

Codes are part of the file format of compiled kernels; keep them stable.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mkba_sim.kernels.rng import stream_uniform
from mkba_sim.kernels.special import ndtr, ndtri

__all__ = [
    "FIXED",
    "NORMAL",
    "LOGNORMAL",
    "UNIFORM",
    "TRIANGULAR",
    "QTABLE",
    "DISCRETE",
    "EFFECT",
    "POSTERIOR",
    "QT_LIMIT",
    "QT_SIZE",
    "CONVERT_NONE",
    "CONVERT_BESD",
    "CONVERT_SUCCESS_RATE",
    "CONVERT_LOG_OR",
    "quantile",
    "sample_draw",
]

FIXED = 0
NORMAL = 1
LOGNORMAL = 2
UNIFORM = 3
TRIANGULAR = 4
QTABLE = 5
DISCRETE = 6
EFFECT = 7
POSTERIOR = 8

CONVERT_NONE = 0
CONVERT_BESD = 1
CONVERT_SUCCESS_RATE = 2
CONVERT_LOG_OR = 3

QT_LIMIT = 38.0
QT_SIZE = 16385
_QT_STEP = 2.0 * QT_LIMIT / (QT_SIZE - 1)
_PI_SQRT3 = math.pi / math.sqrt(3.0)


@njit(cache=True)
def convert_effect(d: float, how: int, base_rate: float) -> float:
    """Convert a standardised mean difference ``d`` (see ``distributions.conversions``)."""
    if how == CONVERT_BESD:
        return d / math.sqrt(d * d + 4.0)
    if how == CONVERT_SUCCESS_RATE:
        return ndtr(ndtri(base_rate) + d) - base_rate
    if how == CONVERT_LOG_OR:
        return d * _PI_SQRT3
    return d


@njit(cache=True)
def quantile(
    code: np.int64, u: float, fpar: np.ndarray, ipar: np.ndarray, pool: np.ndarray
) -> float:
    """Quantile function of one parameter at ``u`` in (0, 1)."""
    if code == FIXED:
        return fpar[0]
    if code == NORMAL:
        return fpar[0] + fpar[1] * ndtri(u)
    if code == LOGNORMAL:
        return math.exp(fpar[0] + fpar[1] * ndtri(u))
    if code == UNIFORM:
        return fpar[0] + u * (fpar[1] - fpar[0])
    if code == TRIANGULAR:
        lo = fpar[0]
        mode = fpar[1]
        hi = fpar[2]
        cut = (mode - lo) / (hi - lo)
        if u < cut:
            return lo + math.sqrt(u * (hi - lo) * (mode - lo))
        return hi - math.sqrt((1.0 - u) * (hi - lo) * (hi - mode))
    if code == QTABLE:
        t = math.log(u / (1.0 - u))
        x = (t + QT_LIMIT) / _QT_STEP
        if x <= 0.0:
            return pool[ipar[0]]
        k = int(x)
        if k >= QT_SIZE - 1:
            return pool[ipar[0] + QT_SIZE - 1]
        w = x - k
        base = ipar[0] + k
        return pool[base] + w * (pool[base + 1] - pool[base])
    if code == DISCRETE:
        # pool[off : off+n] = support values, pool[off+n : off+2n] = cumulative probabilities
        off = ipar[0]
        n = ipar[1]
        lo = 0
        hi = n - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if pool[off + n + mid] < u:
                lo = mid + 1
            else:
                hi = mid
        return pool[off + lo]
    if code == EFFECT:
        d = fpar[0] + fpar[1] * ndtri(u)
        return convert_effect(d, np.int64(fpar[2]), fpar[3])
    if code == POSTERIOR:
        n = ipar[1]
        k = int(u * n)
        if k >= n:
            k = n - 1
        return pool[ipar[0] + k]
    return math.nan


@njit(cache=True)
def sample_draw(
    draw: np.int64,
    key: np.uint64,
    codes: np.ndarray,
    streams: np.ndarray,
    fpar: np.ndarray,
    ipar: np.ndarray,
    pool: np.ndarray,
    design_row: np.ndarray,
    design_col: np.ndarray,
    corr_members: np.ndarray,
    corr_ptr: np.ndarray,
    chol: np.ndarray,
    chol_ptr: np.ndarray,
    u: np.ndarray,
    z: np.ndarray,
    out: np.ndarray,
) -> None:
    """Fill ``out`` with one draw's parameter values.

    Uniforms come from the counter-based stream of each parameter, or, when
    ``design_row`` is not empty, from column ``design_col[j]`` of a quasi-random /
    Latin-hypercube design. Correlation blocks then map their members' uniforms to
    normal scores, multiply by the block's Cholesky factor and map back (a Gaussian
    copula), before each parameter's quantile function is applied.
    """
    n_par = codes.shape[0]
    use_design = design_row.shape[0] > 0
    for j in range(n_par):
        if codes[j] == FIXED:
            u[j] = 0.5
        elif use_design:
            u[j] = design_row[design_col[j]]
        else:
            u[j] = stream_uniform(key, streams[j], draw)
    for b in range(corr_ptr.shape[0] - 1):
        start = corr_ptr[b]
        m = corr_ptr[b + 1] - start
        cbase = chol_ptr[b]
        for i in range(m):
            z[i] = ndtri(u[corr_members[start + i]])
        for i in range(m - 1, -1, -1):
            acc = 0.0
            for k in range(i + 1):
                acc += chol[cbase + i * m + k] * z[k]
            z[i] = acc
        for i in range(m):
            v = ndtr(z[i])
            # keep inside the open interval so quantile functions stay finite
            if v <= 0.0:
                v = 1e-300
            elif v >= 1.0:
                v = 1.0 - 1.1102230246251565e-16
            u[corr_members[start + i]] = v
    for j in range(n_par):
        out[j] = quantile(codes[j], u[j], fpar[j], ipar[j], pool)
