"""The plain NumPy reference path: the same draws as the numba kernel, vectorised.

Same counter-based uniforms, same quantile formulas (including the quantile tables),
same expression trees evaluated by :func:`mkba_sim.model.evaluate_scenario`, same block
layout of the summaries. Tests check it agrees with the numba path; the benchmark uses
it as the vectorised-NumPy baseline.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from mkba_sim.engine.plan import Plan, scenario_of
from mkba_sim.kernels import sampling as ks
from mkba_sim.model.evaluate import evaluate_scenario

__all__ = ["quantile_numpy", "run_chunk_numpy", "stream_uniform_numpy"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def stream_uniform_numpy(key: np.uint64, stream: np.uint64, draws: np.ndarray) -> np.ndarray:
    """Vectorised :func:`mkba_sim.kernels.rng.stream_uniform`."""
    d = draws.astype(np.uint64)
    z = (np.uint64(key) ^ np.uint64(stream)) + (d + np.uint64(1)) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def quantile_numpy(
    code: int, u: np.ndarray, fpar: np.ndarray, ipar: np.ndarray, pool: np.ndarray
) -> np.ndarray:
    """Vectorised :func:`mkba_sim.kernels.sampling.quantile`."""
    if code == ks.TABLE:
        off = int(ipar[0])
        bulk = pool[off : off + ks.TB_N + 1]
        x = (u - ks.TB_EDGE) * (ks.TB_N / (1.0 - 2.0 * ks.TB_EDGE))
        k = np.clip(x.astype(np.int64), 0, ks.TB_N - 1)
        a = bulk[k]
        out = a + (x - k) * (bulk[k + 1] - a)
        tails = np.flatnonzero((u < ks.TB_EDGE) | (u > 1.0 - ks.TB_EDGE))
        if tails.size:
            ut = u[tails]
            tail = pool[off + ks.TB_N + 1 : off + ks.TB_N + 1 + ks.QT_SIZE]
            x = (np.log(ut / (1.0 - ut)) + ks.QT_LIMIT) / (2.0 * ks.QT_LIMIT / (ks.QT_SIZE - 1))
            kt = np.clip(x.astype(np.int64), 0, ks.QT_SIZE - 2)
            w = np.clip(x - kt, 0.0, 1.0)
            out[tails] = tail[kt] + w * (tail[kt + 1] - tail[kt])
        return out
    if code == ks.FIXED:
        return np.full(u.shape, fpar[0])
    if code == ks.UNIFORM:
        return fpar[0] + u * (fpar[1] - fpar[0])
    if code == ks.DISCRETE:
        n = int(ipar[1])
        values = pool[ipar[0] : ipar[0] + n]
        cdf = pool[ipar[0] + n : ipar[0] + 2 * n]
        return values[np.minimum(np.searchsorted(cdf, u, side="left"), n - 1)]
    if code == ks.POSTERIOR:
        n = int(ipar[1])
        k = np.minimum((u * n).astype(np.int64), n - 1)
        return pool[ipar[0] + k]
    raise ValueError(f"unknown distribution code {code}")


def sample_numpy(plan: Plan, key: np.uint64, draws: np.ndarray, design: np.ndarray) -> np.ndarray:
    """Parameter values [n, n_instances] for the given draw indices."""
    n = draws.shape[0]
    n_streams = plan.streams.shape[0]
    if design.shape[0] > 0:
        u = np.asfortranarray(design[:, :n_streams])
    else:
        u = np.empty((n, n_streams), order="F")
        for k in range(n_streams):
            u[:, k] = stream_uniform_numpy(key, plan.streams[k], draws)
    for b in range(plan.corr_ptr.shape[0] - 1):
        members = plan.corr_members[plan.corr_ptr[b] : plan.corr_ptr[b + 1]]
        m = members.shape[0]
        chol = plan.chol[plan.chol_ptr[b] : plan.chol_ptr[b] + m * m].reshape(m, m)
        z = special.ndtri(u[:, members]) @ chol.T
        u[:, members] = np.clip(special.ndtr(z), 5e-324, 1.0 - 1.1102230246251565e-16)
    p = np.empty((n, len(plan.instances)), order="F")
    for j in range(len(plan.instances)):
        k = plan.stream_of[j]
        uj = np.full(n, 0.5) if k < 0 else u[:, k]
        p[:, j] = quantile_numpy(int(plan.codes[j]), uj, plan.fpar[j], plan.ipar[j], plan.pool)
    return p


def run_chunk_numpy(
    plan: Plan,
    start: int,
    n: int,
    block: int,
    key: np.uint64,
    design: np.ndarray,
    shift: np.ndarray,
    hist_lo: np.ndarray,
    hist_scale: np.ndarray,
    n_bins: int,
    keep: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """NumPy version of the generated ``run_chunk``; returns (sums, counts, hist, kept)."""
    draws = np.arange(start, start + n, dtype=np.int64)
    p = sample_numpy(plan, key, draws, design)
    n_scen = len(plan.scenarios)
    stats = np.empty((n, plan.n_stats), order="F")
    for s in range(n_scen):
        sc = scenario_of(plan, s)
        inputs = {name: p[:, j] for name, j in plan.instance_of[sc.name].items()}
        totals = evaluate_scenario(sc, inputs)
        base = int(plan.item_ptr[s])
        for k, it in enumerate(sc.items):
            stats[:, base + k] = np.broadcast_to(totals.item_pv[it.name], (n,))
        ben = np.broadcast_to(totals.benefits, (n,))
        cost = np.broadcast_to(totals.costs, (n,))
        t0 = plan.total_index(s, "benefits")
        stats[:, t0] = ben
        stats[:, t0 + 1] = cost
        stats[:, t0 + 2] = ben - cost
        with np.errstate(divide="ignore", invalid="ignore"):
            stats[:, t0 + 3] = np.where(cost > 0.0, ben / np.where(cost > 0.0, cost, 1.0), np.nan)
    n_blocks = (n + block - 1) // block
    starts = np.arange(n_blocks) * block
    sums = np.empty((n_blocks, plan.n_stats, 2))
    for i in range(plan.n_stats):
        x = stats[:, i] - shift[i]
        x[~np.isfinite(x)] = 0.0
        sums[:, i, 0] = np.add.reduceat(x, starts)
        sums[:, i, 1] = np.add.reduceat(x * x, starts)
    counts = np.zeros((n_blocks, n_scen, 3), dtype=np.int64)
    hist = np.zeros((1, n_scen, 2, n_bins), dtype=np.int64)
    for s in range(n_scen):
        net = stats[:, plan.total_index(s, "net")]
        bcr = stats[:, plan.total_index(s, "bcr")]
        ok = np.isfinite(bcr)
        counts[:, s, 0] = np.add.reduceat((net > 0.0).astype(np.int64), starts)
        counts[:, s, 1] = np.add.reduceat((ok & (bcr > 1.0)).astype(np.int64), starts)
        counts[:, s, 2] = np.add.reduceat(ok.astype(np.int64), starts)
        for h, v in enumerate((net, bcr)):
            v = v[np.isfinite(v)]
            f = (v - hist_lo[s, h]) * hist_scale[s, h]
            idx = np.where(
                f < 0.0,
                0,
                np.where(f >= n_bins - 2, n_bins - 1, np.floor(np.clip(f, 0, n_bins)) + 1),
            )
            hist[0, s, h] += np.bincount(idx.astype(np.int64), minlength=n_bins)
    kept = np.concatenate([p, stats], axis=1) if keep else None
    return sums, counts, hist, kept
