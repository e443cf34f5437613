"""Sampling designs: plain Monte Carlo, Latin hypercube and scrambled Sobol.

Monte Carlo uniforms are produced inside the kernel from (seed, stream, draw). The
quasi-random designs come from :mod:`scipy.stats.qmc` (McKay et al. 1979,
doi:10.2307/1268522; Owen 1998 scrambling of Sobol 1967 sequences) and are handed to the
kernel chunk by chunk.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from mkba_sim.errors import SimulationError

__all__ = ["LHS_MAX_BYTES", "SAMPLERS", "Design"]

SAMPLERS = ("mc", "lhs", "sobol")
LHS_MAX_BYTES = 2 * 1024**3


class Design:
    """Yields the uniform design rows for successive chunks of draws.

    Parameters
    ----------
    sampler
        ``"mc"`` (no rows: the kernel generates uniforms), ``"lhs"`` or ``"sobol"``.
    n_draws
        Total draws of the run.
    dim
        Number of random streams (columns).
    seed
        Seed of the scrambling / permutation.
    """

    def __init__(self, sampler: str, n_draws: int, dim: int, seed: np.random.SeedSequence):
        if sampler not in SAMPLERS:
            raise SimulationError(f"unknown sampler {sampler!r}; choose from {SAMPLERS}")
        self.sampler = sampler
        self.dim = dim
        self._pos = 0
        self._lhs: np.ndarray | None = None
        self._sobol: Any = None
        if sampler != "mc" and dim > 0:
            from scipy.stats import qmc  # imported only for quasi-random designs
        if sampler == "lhs" and dim > 0:
            need = n_draws * dim * 8
            if need > LHS_MAX_BYTES:
                raise SimulationError(
                    f"a Latin hypercube of {n_draws:,} draws × {dim} inputs needs "
                    f"{need / 1024**3:.1f} GiB held at once; use --sampler sobol or mc for "
                    "runs this large"
                )
            self._lhs = qmc.LatinHypercube(d=dim, rng=np.random.default_rng(seed)).random(n_draws)
        elif sampler == "sobol" and dim > 0:
            if dim > 21201:
                raise SimulationError("Sobol sequences support at most 21201 inputs")
            bits = 30 if n_draws <= 2**30 else 64
            self._sobol = qmc.Sobol(
                d=dim, scramble=True, bits=bits, rng=np.random.default_rng(seed)
            )

    def reset(self) -> None:
        """Start again from the first row (the pilot reads rows the run reads again)."""
        self._pos = 0
        if self._sobol is not None:
            self._sobol.reset()

    def rows(self, n: int) -> np.ndarray:
        """The next ``n`` rows (an empty (0, 0) array for Monte Carlo)."""
        start = self._pos
        self._pos += n
        if self._lhs is not None:
            return np.ascontiguousarray(self._lhs[start : start + n])
        if self._sobol is not None:
            with warnings.catch_warnings():
                # balance properties need powers of two; the run reports its draw count
                warnings.simplefilter("ignore", UserWarning)
                return np.ascontiguousarray(self._sobol.random(n))
        return np.empty((0, 0))
