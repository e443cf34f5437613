"""Block statistics of a sub-block of per-draw values, driven by the statistics plan.

The generated model kernel writes each draw's *series* values (item PVs, totals, ratio,
balances) into a buffer ``sv[series, t]`` and whether each scenario's draw was kept into
``ok[scenario, t]``; :func:`accumulate` then adds them to the block's statistics, series
by series in draw order — the same additions, in the same order, as a loop over draws.
It is compiled once for mkba_sim, not per model (see :mod:`mkba_sim.engine.stats`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["accumulate"]


@njit(cache=True, nogil=True, error_model="numpy")
def accumulate(
    sv: np.ndarray,
    ok: np.ndarray,
    n_t: np.int64,
    series_scenario: np.ndarray,
    shift: np.ndarray,
    exceed: np.ndarray,
    thr: np.ndarray,
    hist: np.ndarray,
    hist_lo: np.ndarray,
    hist_scale: np.ndarray,
    defined: np.ndarray,
    n_exceed: np.int64,
    bs: np.ndarray,
    bc: np.ndarray,
    lh: np.ndarray,
) -> None:
    """Add draws ``0 .. n_t - 1`` of ``sv`` to the block's sums ``bs``, counts ``bc`` and
    this thread's histograms ``lh`` (32-bit counts, see
    :data:`mkba_sim.engine.accumulate.COUNT_DTYPE`).

    For series *i* of scenario *s*, only draws with ``ok[s, t]`` count; a series with
    ``defined[i] >= 0`` (the ratio) counts only where it is not NaN, and that count goes
    to ``bc[n_exceed + defined[i]]``. ``bs[i]`` holds the sum and sum of squares of
    ``x - shift[i]``; ``bc[exceed[i]]`` counts ``x > thr[exceed[i]]``; histogram
    ``hist[i]`` puts ``x`` into bin ``floor(clamp((x - lo) scale, -1, n_bins - 2) + 1)``:
    bin 0 below the range, the last bin above it.
    """
    top = lh.shape[1] - 2.0
    for i in range(sv.shape[0]):
        x_row = sv[i]  # one-dimensional views: see kernels.sampling.fill_params
        ok_row = ok[series_scenario[i]]
        zs = shift[i]
        e = exceed[i]
        h = hist[i]
        d = defined[i]
        sa = bs[i, 0]
        sq = bs[i, 1]
        if e < 0 and h < 0 and d < 0:  # moments only (most series): no other branch
            for t in range(n_t):
                if ok_row[t]:
                    xs = x_row[t] - zs
                    sa += xs
                    sq += xs * xs
        else:
            # counters in registers and ``ce += x > th`` without a branch: whether a
            # draw's balance is above zero is a coin toss the branch predictor loses
            th = thr[e] if e >= 0 else np.inf
            hl = hist_lo[h] if h >= 0 else 0.0
            hs = hist_scale[h] if h >= 0 else 1.0
            h_row = lh[max(h, 0)]
            ce = 0
            cd = 0
            for t in range(n_t):
                x = x_row[t]
                if not ok_row[t] or (d >= 0 and x != x):
                    continue
                cd += 1
                xs = x - zs
                sa += xs
                sq += xs * xs
                ce += x > th
                if h >= 0:
                    f = min(max((x - hl) * hs, -1.0), top)
                    h_row[int(f + 1.0)] += 1
            if e >= 0:
                bc[e] += ce
            if d >= 0:
                bc[n_exceed + d] += cd
        bs[i, 0] = sa
        bs[i, 1] = sq
