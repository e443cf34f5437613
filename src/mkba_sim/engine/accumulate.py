"""Mergeable running summaries of a simulation, in a fixed reduction order.

Per block of draws the kernel returns sums and sums of squares of each statistic about a
fixed shift (the pilot mean, for numerical accuracy), counts of events and integer
histograms. Blocks are merged here in draw order, so the result does not depend on the
number of threads; integer counts do not depend on any order.

Streaming quantiles come from a fixed-range histogram with ``N_BINS`` bins over the
range seen in a pilot of the first draws, widened by half its width on each side. Within
a bin the quantile is interpolated linearly, so its error is at most one bin width
(range / (N_BINS - 2)); a quantile that falls into the under- or overflow bin is reported
as NaN rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["N_BINS", "Accumulator", "histogram_quantiles"]

N_BINS = 2**16 + 2


@dataclass
class Accumulator:
    """Running totals over blocks: moments, counts and histograms."""

    n_stats: int
    n_scen: int
    shift: np.ndarray
    hist_lo: np.ndarray  # [S, 2]
    hist_scale: np.ndarray  # [S, 2]
    n: int = 0
    sums: np.ndarray = field(init=False)
    n_valid: np.ndarray = field(init=False)
    counts: np.ndarray = field(init=False)
    hist: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.sums = np.zeros((self.n_stats, 2))
        self.counts = np.zeros((self.n_scen, 3), dtype=np.int64)
        self.hist = np.zeros((self.n_scen, 2, N_BINS), dtype=np.int64)
        self.n_valid = np.zeros(self.n_stats, dtype=np.int64)

    def add(
        self,
        n: int,
        block_sums: np.ndarray,
        block_counts: np.ndarray,
        lane_hist: np.ndarray,
        n_valid: np.ndarray,
    ) -> None:
        """Merge one chunk: ``block_sums`` [B, n_stats, 2] in block order."""
        for b in range(block_sums.shape[0]):
            self.sums += block_sums[b]
        self.counts += block_counts.sum(axis=0)
        self.hist += lane_hist.sum(axis=0)
        self.n_valid += n_valid
        self.n += n

    def mean(self) -> np.ndarray:
        """Mean of each statistic."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.shift + self.sums[:, 0] / self.n_valid

    def sd(self) -> np.ndarray:
        """Sample standard deviation of each statistic."""
        m = self.n_valid
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (self.sums[:, 1] - self.sums[:, 0] ** 2 / m) / (m - 1)
        return np.sqrt(np.maximum(var, 0.0))

    def mcse(self) -> np.ndarray:
        """Monte Carlo standard error of each mean (independent draws)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sd() / np.sqrt(self.n_valid)

    def probabilities(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P(net > 0), P(bcr > 1 | bcr defined) and the share of draws with costs > 0."""
        c = self.counts.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return c[:, 0] / self.n, c[:, 1] / c[:, 2], c[:, 2] / self.n

    def edges(self, s: int, h: int) -> np.ndarray:
        """Edges of the regular bins of histogram ``h`` (0 net, 1 bcr) of scenario ``s``."""
        lo, scale = self.hist_lo[s, h], self.hist_scale[s, h]
        return lo + np.arange(N_BINS - 1) / scale


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
    for i, p in enumerate(probs):
        target = p * total
        k = int(np.searchsorted(cum, target, side="left"))
        if k == 0 or k >= len(counts) - 1:
            continue
        before = cum[k - 1]
        inside = counts[k]
        frac = (target - before) / inside if inside > 0 else 0.0
        out[i] = edges[k - 1] + frac * (edges[k] - edges[k - 1])
    return out
