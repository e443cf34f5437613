"""Inverse-CDF sampling of one draw's parameters, in numba.

Each parameter has a family code, up to four float parameters and an (offset, length)
into a shared ``pool`` of tables. Every continuous family except the uniform is sampled
from a two-part *quantile table* built with scipy's exact quantile function:

* the bulk, ``u`` in ``[TB_EDGE, 1 - TB_EDGE]``, on ``TB_N`` equal steps of ``u``
  (one multiply and one linear interpolation: no transcendental function per draw);
* the tails, on ``QT_SIZE`` points of ``t = log(u / (1 - u))`` in
  ``[-QT_LIMIT, QT_LIMIT]``, which puts as many points in the tails as in the bulk.

The interpolation error is about 1e-5 standard deviations at worst (1.5e-5 sd measured
for very skewed shapes such as gamma with shape 0.1, at the edge of the bulk) and far
smaller elsewhere (checked against ``scipy.stats`` in the tests); its effect on a mean is
below 1e-6 sd, much less than the Monte Carlo error of any feasible run.

Codes are part of the compiled kernels' contract; keep them stable.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mkba_sim.kernels.rng import stream_uniform
from mkba_sim.kernels.special import ndtr, ndtri

__all__ = [
    "DISCRETE",
    "EXPR",
    "FIXED",
    "POSTERIOR",
    "QT_LIMIT",
    "QT_SIZE",
    "TABLE",
    "TB_EDGE",
    "TB_N",
    "UNIFORM",
    "apply_copula",
    "correlate",
    "dq_lognormal",
    "dq_lognormal_mean",
    "dq_lognormal_median",
    "dq_normal",
    "dq_poisson",
    "dq_success_rate",
    "dq_triangular",
    "dq_uniform",
    "fill_params",
    "fill_uniforms",
    "q_discrete",
    "q_posterior",
    "q_table",
    "q_table_bulk",
    "quantile",
    "sample_draw",
]

from mkba_sim.kernels.layout import (
    DISCRETE,
    EXPR,
    FIXED,
    POSTERIOR,
    QT_LIMIT,
    QT_SIZE,
    TABLE,
    TB_EDGE,
    TB_N,
    UNIFORM,
)

_TB_SCALE = TB_N / (1.0 - 2.0 * TB_EDGE)
_QT_STEP = 2.0 * QT_LIMIT / (QT_SIZE - 1)


@njit(cache=True, inline="always")
def q_table_bulk(u: float, pool: np.ndarray, off: np.int64) -> float:
    """:func:`q_table`'s bulk branch, branch-free: exact for ``u`` in the bulk.

    For ``u`` in a tail it returns a finite value from the edge of the bulk, which the
    caller replaces by ``q_table(u)``; it exists so that loops over many draws vectorise.
    """
    x = (u - TB_EDGE) * _TB_SCALE
    k = min(max(int(x), 0), TB_N - 1)
    a = pool[off + k]
    return a + (x - k) * (pool[off + k + 1] - a)


@njit(cache=True, inline="always")
def q_table(u: float, pool: np.ndarray, off: np.int64) -> float:
    """TABLE quantile: linear interpolation in the bulk or the logit tail table."""
    if TB_EDGE <= u <= 1.0 - TB_EDGE:
        x = (u - TB_EDGE) * _TB_SCALE
        k = int(x)
        if k >= TB_N:
            k = TB_N - 1
        a = pool[off + k]
        return a + (x - k) * (pool[off + k + 1] - a)
    off += TB_N + 1
    x = (math.log(u / (1.0 - u)) + QT_LIMIT) / _QT_STEP
    if x <= 0.0:
        return pool[off]
    k = int(x)
    if k >= QT_SIZE - 1:
        return pool[off + QT_SIZE - 1]
    a = pool[off + k]
    return a + (x - k) * (pool[off + k + 1] - a)


@njit(cache=True, inline="always")
def q_discrete(u: float, pool: np.ndarray, off: np.int64, n: np.int64) -> float:
    """DISCRETE quantile: pool[off:off+n] support values, pool[off+n:off+2n] their CDF."""
    lo = 0
    hi = int(n) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if pool[off + n + mid] < u:
            lo = mid + 1
        else:
            hi = mid
    return pool[off + lo]


@njit(cache=True, inline="always")
def q_posterior(u: float, pool: np.ndarray, off: np.int64, n: np.int64) -> float:
    """POSTERIOR: draw number floor(u n) of the n stored draws."""
    k = int(u * n)
    if k >= n:
        k = int(n) - 1
    return pool[off + k]


@njit(cache=True)
def quantile(
    code: np.int64, u: float, fpar: np.ndarray, ipar: np.ndarray, j: np.int64, pool: np.ndarray
) -> float:
    """Quantile function of parameter ``j`` at ``u`` in (0, 1).

    ``fpar[j]`` and ``ipar[j]`` hold its float parameters and (pool offset, length).
    Generated kernels call the per-code functions directly.
    """
    if code == TABLE:
        return q_table(u, pool, ipar[j, 0])
    if code == FIXED:
        return fpar[j, 0]
    if code == UNIFORM:
        return fpar[j, 0] + u * (fpar[j, 1] - fpar[j, 0])
    if code == DISCRETE:
        return q_discrete(u, pool, ipar[j, 0], ipar[j, 1])
    if code == POSTERIOR:
        return q_posterior(u, pool, ipar[j, 0], ipar[j, 1])
    return math.nan


@njit(cache=True)
def apply_copula(
    u: np.ndarray,
    corr_members: np.ndarray,
    corr_ptr: np.ndarray,
    chol: np.ndarray,
    chol_ptr: np.ndarray,
    z: np.ndarray,
) -> None:
    """Gaussian copula, in place: correlate the uniforms of each correlation block.

    Members' uniforms are mapped to normal scores, multiplied by the block's Cholesky
    factor and mapped back (Nelsen 2006, *An Introduction to Copulas*, §5.3).
    """
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
                v = 5e-324
            elif v >= 1.0:
                v = 1.0 - 1.1102230246251565e-16
            u[corr_members[start + i]] = v


@njit(cache=True)
def sample_draw(
    draw: np.int64,
    key: np.uint64,
    streams: np.ndarray,
    design: np.ndarray,
    row: np.int64,
    corr_members: np.ndarray,
    corr_ptr: np.ndarray,
    chol: np.ndarray,
    chol_ptr: np.ndarray,
    codes: np.ndarray,
    stream_of: np.ndarray,
    fpar: np.ndarray,
    ipar: np.ndarray,
    pool: np.ndarray,
    u: np.ndarray,
    z: np.ndarray,
    out: np.ndarray,
) -> None:
    """Fill ``out`` with one draw's parameter values (the generic, table-driven form).

    There is one uniform per *stream* (a parameter name, or a posterior source whose
    variables share a draw index), from the counter-based generator or, when ``design``
    is not empty, from ``design[row, k]``. Correlation blocks go through
    :func:`apply_copula`; parameter ``j`` then applies its quantile function to the
    uniform of stream ``stream_of[j]`` (``-1`` for fixed values). Generated kernels do
    the same with the loop unrolled.
    """
    n_streams = streams.shape[0]
    if design.shape[0] > 0:
        for k in range(n_streams):
            u[k] = design[row, k]
    else:
        for k in range(n_streams):
            u[k] = stream_uniform(key, streams[k], draw)
    apply_copula(u, corr_members, corr_ptr, chol, chol_ptr, z)
    for j in range(codes.shape[0]):
        k = stream_of[j]
        uj = 0.5 if k < 0 else u[k]
        out[j] = quantile(codes[j], uj, fpar, ipar, j, pool)


@njit(cache=True, nogil=True, error_model="numpy")
def fill_uniforms(
    ub: np.ndarray,
    i0: np.int64,
    i1: np.int64,
    start: np.int64,
    key: np.uint64,
    streams: np.ndarray,
    design: np.ndarray,
) -> None:
    """Uniforms of draws ``start + i0 .. start + i1 - 1`` into ``ub[k, :]``, one row per stream.

    Stream by stream over consecutive draws, so the counter-based generator runs as a
    vector loop; the values are those of :func:`~mkba_sim.kernels.rng.stream_uniform`, or
    the chunk's design rows ``design[i, k]`` when ``design`` is not empty.
    """
    if design.shape[0] > 0:
        for k in range(streams.shape[0]):
            for i in range(i0, i1):
                ub[k, i - i0] = design[i, k]
    else:
        for k in range(streams.shape[0]):
            for i in range(i0, i1):
                ub[k, i - i0] = stream_uniform(key, streams[k], start + i)


@njit(cache=True, nogil=True, error_model="numpy")
def correlate(
    ub: np.ndarray,
    n_t: np.int64,
    corr_members: np.ndarray,
    corr_ptr: np.ndarray,
    chol: np.ndarray,
    chol_ptr: np.ndarray,
    u: np.ndarray,
    z: np.ndarray,
) -> None:
    """:func:`apply_copula` on each draw (column) of a sub-block's uniforms, in place."""
    if corr_ptr.shape[0] < 2:
        return
    n_streams = ub.shape[0] - 1
    for t in range(n_t):
        for k in range(n_streams):
            u[k] = ub[k, t]
        apply_copula(u, corr_members, corr_ptr, chol, chol_ptr, z)
        for k in range(n_streams):
            ub[k, t] = u[k]


@njit(cache=True, nogil=True, error_model="numpy")
def fill_params(
    pb: np.ndarray,
    ub: np.ndarray,
    n_t: np.int64,
    codes: np.ndarray,
    stream_of: np.ndarray,
    fpar: np.ndarray,
    ipar: np.ndarray,
    pool: np.ndarray,
) -> None:
    """Parameter values ``pb[j, t]`` of a sub-block's draws from their uniforms.

    One dispatch on the family code per parameter and sub-block, then a loop over the
    draws that the compiler vectorises. A TABLE parameter is done in two passes: the bulk
    interpolation for every draw, then :func:`q_table` again for the few draws whose
    uniform lies in a tail; both give exactly ``q_table``'s value. The codes, parameters
    and tables are data: no kernel is compiled per model for this step.

    The loops run over one-dimensional views (a parameter's row of ``pb``, its stream's
    row of ``ub``, its table's bulk in ``pool``): with two-dimensional indexing LLVM
    keeps the address arithmetic in the loop, and the table step ran 1.3–1.5× slower
    (``benchmarks/bench_analysis_ready.py``).
    """
    for j in range(codes.shape[0]):
        code = codes[j]
        pj = pb[j]
        uk = ub[stream_of[j]]
        if code == TABLE:
            off = ipar[j, 0]
            bulk = pool[off : off + TB_N + 1]
            for t in range(n_t):
                pj[t] = q_table_bulk(uk[t], bulk, 0)
            for t in range(n_t):
                u = uk[t]
                if not (TB_EDGE <= u <= 1.0 - TB_EDGE):
                    pj[t] = q_table(u, pool, off)
        elif code == FIXED:
            v = fpar[j, 0]
            for t in range(n_t):
                pj[t] = v
        elif code == UNIFORM:
            a = fpar[j, 0]
            w = fpar[j, 1] - fpar[j, 0]
            for t in range(n_t):
                pj[t] = a + uk[t] * w
        elif code == DISCRETE:
            for t in range(n_t):
                pj[t] = q_discrete(uk[t], pool, ipar[j, 0], ipar[j, 1])
        elif code == POSTERIOR:
            for t in range(n_t):
                pj[t] = q_posterior(uk[t], pool, ipar[j, 0], ipar[j, 1])
        else:
            for t in range(n_t):
                pj[t] = math.nan


# --- per-draw quantiles of dependent parameters (distributions/dependent.py) ----------
# Same formulas and edge values as mkba_sim.distributions.dependent.quantile; a
# generated kernel calls dq_<kind>(u, *arguments) for a parameter whose distribution
# has expression-valued keys.


@njit(cache=True, inline="always")
def dq_normal(u: float, m: float, s: float) -> float:
    """Normal(m, s) quantile; NaN for s < 0."""
    if not s >= 0.0:
        return math.nan
    return m + s * ndtri(u)


@njit(cache=True, inline="always")
def dq_lognormal(u: float, mu: float, sigma: float) -> float:
    """Lognormal(mu, sigma) quantile; NaN for sigma < 0."""
    if not sigma >= 0.0:
        return math.nan
    return math.exp(mu + sigma * ndtri(u))


@njit(cache=True, inline="always")
def dq_lognormal_median(u: float, med: float, sigma: float) -> float:
    """Lognormal quantile from median and sigma; NaN unless median > 0 and sigma ≥ 0."""
    if not (sigma >= 0.0 and med > 0.0):
        return math.nan
    return med * math.exp(sigma * ndtri(u))


@njit(cache=True, inline="always")
def dq_lognormal_mean(u: float, m: float, s: float) -> float:
    """Lognormal quantile from its mean and sd; NaN unless mean > 0 and sd ≥ 0."""
    if not (m > 0.0 and s >= 0.0):
        return math.nan
    s2 = math.log1p((s / m) * (s / m))
    return math.exp(math.log(m) - 0.5 * s2 + math.sqrt(s2) * ndtri(u))


@njit(cache=True, inline="always")
def dq_uniform(u: float, lo: float, hi: float) -> float:
    """Uniform(lo, hi) quantile; NaN for lo > hi."""
    if not lo <= hi:
        return math.nan
    return lo + u * (hi - lo)


@njit(cache=True, inline="always")
def dq_triangular(u: float, lo: float, mode: float, hi: float) -> float:
    """Triangular quantile; NaN unless lo ≤ mode ≤ hi."""
    if not (lo <= mode and mode <= hi):
        return math.nan
    if lo == hi:
        return lo
    w = hi - lo
    if u < (mode - lo) / w:
        return lo + math.sqrt(u * w * (mode - lo))
    return hi - math.sqrt((1.0 - u) * w * (hi - mode))


@njit(cache=True, inline="always")
def dq_poisson(u: float, mu: float) -> float:
    """Poisson(mu) quantile by summing the pmf upwards in log space (mu + 40 sd + 40
    terms at most); NaN for mu < 0."""
    if not mu >= 0.0:
        return math.nan
    if mu == 0.0:
        return 0.0
    lmu = math.log(mu)
    lp = -mu
    cdf = math.exp(lp)
    limit = mu + 40.0 * math.sqrt(mu) + 40.0
    k = 0.0
    while cdf < u and k < limit:
        k += 1.0
        lp = lp + (lmu - math.log(k))
        cdf = cdf + math.exp(lp)
    return k


@njit(cache=True, inline="always")
def dq_success_rate(u: float, mu: float, se: float, p0: float) -> float:
    """Success-rate difference Φ(Φ⁻¹(p0) + d) − p0 of d ~ Normal(mu, se) at base rate p0."""
    if not (p0 > 0.0 and p0 < 1.0 and se >= 0.0):
        return math.nan
    return ndtr(ndtri(p0) + mu + se * ndtri(u)) - p0
