"""Mergeable running summaries of a simulation, in a fixed reduction order.

Per block of draws the kernel returns, for every series of the statistics plan
(:mod:`mkba_sim.engine.stats`), the sum and sum of squares about a fixed shift (the
pilot mean, for numerical accuracy), integer counters and histograms. Blocks are merged
here in draw order, so the result does not depend on the number of threads or on which
thread ran which block; integer counts do not depend on any order.

Streaming quantiles come from a fixed-range histogram with ``N_BINS`` bins over the
range seen in a pilot of the first draws, widened by half its width on each side. Within
a bin the quantile is interpolated linearly, so its error is at most one bin width
(range / (N_BINS - 2)); a quantile that falls into the under- or overflow bin is reported
as NaN rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mkba_sim.engine.stats import StatsPlan

__all__ = ["COUNT_DTYPE", "COUNT_MAX", "N_BINS", "Accumulator", "histogram_quantiles"]

N_BINS = 2**16 + 2
# A thread's (or a task's) histogram counts while the kernel runs: 32-bit, which halves
# the histograms' share of the cache (five histograms of 2**16 bins are 1.3 MB, not
# 2.6 MB), measurably faster on the reference model (docs/benchmarks.md). A buffer is
# folded into 64-bit totals before it could hold more than COUNT_MAX counts.
COUNT_DTYPE = np.uint32
COUNT_MAX = 2**32 - 1


@dataclass
class Accumulator:
    """Running totals over blocks: moments, counters, histograms, first bad draws."""

    stats: StatsPlan
    shift: np.ndarray  # [n_series]
    hist_lo: np.ndarray  # [n_hist]
    hist_scale: np.ndarray  # [n_hist]
    n: int = 0
    sums: np.ndarray = field(init=False)
    counts: np.ndarray = field(init=False)
    hist: np.ndarray = field(init=False)
    first_bad: np.ndarray = field(init=False)
    _hist_empty: bool = field(init=False, default=True)

    def __post_init__(self) -> None:
        st = self.stats
        self.sums = np.zeros((st.n_series, 2))
        self.counts = np.zeros(st.n_counts, dtype=np.int64)
        self.hist = np.zeros((st.n_hist, N_BINS), dtype=np.int64)
        self.first_bad = np.full(st.n_scenarios, -1, dtype=np.int64)

    def add(
        self,
        start: int,
        n: int,
        block_sums: np.ndarray,
        block_counts: np.ndarray,
        bad: np.ndarray,
        hist: np.ndarray | None,
    ) -> None:
        """Merge one chunk of ``n`` draws from ``start``: ``block_sums`` [B, n_series, 2]
        in block order, ``block_counts`` [B, n_counts], ``bad`` [B, S] (chunk draw index
        or -1), ``hist`` [n_hist, N_BINS] summed over threads (``None``: the histograms
        are added once for the whole run, by :meth:`add_histograms`)."""
        for b in range(block_sums.shape[0]):
            self.sums += block_sums[b]
        self.counts += block_counts.sum(axis=0)
        if hist is not None:
            self.add_histograms(hist)
        for s in range(bad.shape[1]):
            hit = bad[:, s][bad[:, s] >= 0]
            if hit.size and self.first_bad[s] < 0:
                self.first_bad[s] = start + int(hit.min())
        self.n += n

    def add_histograms(self, hist: np.ndarray) -> None:
        """Add histogram counts ``[n_hist, N_BINS]`` (integers: any order gives the same);
        the first call takes ``hist`` over instead of adding it to zeros."""
        if self._hist_empty:
            self.hist = hist
        else:
            self.hist += hist
        self._hist_empty = False

    def n_kept(self) -> np.ndarray:
        """Draws kept per scenario (all draws less those dropped as non-finite)."""
        st = self.stats
        return np.array(
            [self.n - self.counts[st.dropped_column(s)] for s in range(st.n_scenarios)],
            dtype=np.int64,
        )

    def n_valid(self) -> np.ndarray:
        """Draws each series is summarised over: kept draws, or draws where it is defined."""
        kept = self.n_kept()
        st = self.stats
        out = np.empty(st.n_series, dtype=np.int64)
        for i, se in enumerate(st.series):
            out[i] = kept[se.scenario] if se.defined < 0 else self.counts[st.n_exceed + se.defined]
        return out

    def mean(self) -> np.ndarray:
        """Mean of each series."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.shift + self.sums[:, 0] / self.n_valid()

    def sd(self) -> np.ndarray:
        """Sample standard deviation of each series."""
        m = self.n_valid()
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (self.sums[:, 1] - self.sums[:, 0] ** 2 / m) / (m - 1)
        return np.sqrt(np.maximum(var, 0.0))

    def mcse(self) -> np.ndarray:
        """Monte Carlo standard error of each mean (independent draws)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sd() / np.sqrt(self.n_valid())

    def exceed(self) -> tuple[np.ndarray, np.ndarray]:
        """P(series > threshold) and its MCSE per series (NaN where not counted)."""
        st = self.stats
        nv = self.n_valid()
        p = np.full(st.n_series, np.nan)
        for i, se in enumerate(st.series):
            if se.exceed >= 0 and nv[i] > 0:
                p[i] = self.counts[se.exceed] / nv[i]
        with np.errstate(invalid="ignore", divide="ignore"):
            return p, np.sqrt(p * (1.0 - p) / nv)

    def defined_fraction(self) -> np.ndarray:
        """Share of kept draws in which each series is defined (1 for most series)."""
        kept = self.n_kept()
        st = self.stats
        out = np.ones(st.n_series)
        for i, se in enumerate(st.series):
            if se.defined >= 0:
                k = kept[se.scenario]
                out[i] = self.counts[st.n_exceed + se.defined] / k if k else np.nan
        return out

    def edges(self, h: int) -> np.ndarray:
        """Edges of the regular bins of histogram ``h``."""
        return self.hist_lo[h] + np.arange(N_BINS - 1) / self.hist_scale[h]


def histogram_quantiles(counts: np.ndarray, edges: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Quantiles from a histogram with under/overflow bins at both ends.

    ``counts`` has ``len(edges) + 1`` entries: underflow, the regular bins between
    consecutive edges, overflow. Linear interpolation within the bin; NaN when the
    quantile lies in the under- or overflow bin.
    """
    total = counts.sum()
    out = np.full(len(probs), np.nan)
    if total == 0:
        return out
    cum = np.cumsum(counts)
    target = np.asarray(probs, dtype=float) * total
    k = np.searchsorted(cum, target, side="left")
    ok = (k > 0) & (k < len(counts) - 1)
    k, target = k[ok], target[ok]
    before = cum[k - 1]
    inside = counts[k]
    frac = np.where(inside > 0, (target - before) / np.maximum(inside, 1), 0.0)
    out[ok] = edges[k - 1] + frac * (edges[k] - edges[k - 1])
    return out
