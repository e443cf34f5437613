"""Run a simulation: pilot, chunks on all cores, optional precision control.

A draw's random numbers depend only on (seed, draw index, parameter), so the draws are
bit-identical for any number of threads and any chunk size; summaries are reduced block
by block in draw order, so they are bit-identical for any number of threads.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np

from mkba_sim._cache import cache_root
from mkba_sim.engine.accumulate import N_BINS, Accumulator
from mkba_sim.engine.assemble import build_result
from mkba_sim.engine.codegen import load_kernel
from mkba_sim.engine.designs import SAMPLERS, Design
from mkba_sim.engine.numpy_path import run_chunk_numpy
from mkba_sim.engine.plan import Plan, make_plan
from mkba_sim.errors import SimulationError
from mkba_sim.model import Model
from mkba_sim.results import Result

__all__ = ["BACKENDS", "BLOCK", "SAMPLERS", "RunSettings", "simulate_model"]

BLOCK = 4096
DEFAULT_CHUNK = 2**20
PILOT = 2**14
BACKENDS = ("numba", "numpy")

Progress = Callable[[int, int], None]
SeedLike = int | np.random.SeedSequence | None


@dataclass(frozen=True)
class RunSettings:
    """What was asked for; stamped on the result."""

    draws: int
    seed_entropy: str
    sampler: str
    threads: int
    chunk_size: int
    backend: str
    keep_draws: bool
    target_mcse_p: float | None
    target_mcse_mean: float | None


def _seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SimulationError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence(int(seed))


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise SimulationError(f"{name} must be an integer ≥ {low}, got {value!r}")
    return int(value)


class _Runner:
    """Calls the numba kernel or the NumPy path on chunks of draws."""

    def __init__(self, plan: Plan, backend: str, threads: int, key: np.uint64) -> None:
        self.plan = plan
        self.backend = backend
        self.threads = threads
        self.key = key
        self.kernel = load_kernel(plan, cache_root() / "kernels") if backend == "numba" else None

    def chunk(
        self,
        start: int,
        n: int,
        design: np.ndarray,
        shift: np.ndarray,
        hist_lo: np.ndarray,
        hist_scale: np.ndarray,
        keep: bool,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        plan = self.plan
        if self.kernel is None:
            return run_chunk_numpy(
                plan, start, n, BLOCK, self.key, design, shift, hist_lo, hist_scale, N_BINS, keep
            )
        n_blocks = (n + BLOCK - 1) // BLOCK
        n_scen = len(plan.scenarios)
        sums = np.empty((n_blocks, plan.n_stats, 2))
        counts = np.empty((n_blocks, n_scen, 3), dtype=np.int64)
        hist = np.zeros((self.threads, n_scen, 2, N_BINS), dtype=np.int64)
        width = len(plan.instances) + plan.n_stats
        kept = np.empty((n, width)) if keep else np.empty((0, 0))
        previous = numba.get_num_threads()
        numba.set_num_threads(self.threads)
        try:
            self.kernel.run_chunk(
                np.int64(start),
                np.int64(n),
                np.int64(BLOCK),
                np.int64(self.threads),
                self.key,
                plan.streams,
                design,
                plan.corr_members,
                plan.corr_ptr,
                plan.chol,
                plan.chol_ptr,
                plan.codes,
                plan.fpar,
                plan.ipar,
                plan.pool,
                plan.item_ptr,
                plan.pv_weight,
                shift,
                hist_lo,
                hist_scale,
                sums,
                counts,
                hist,
                keep,
                kept,
            )
        finally:
            numba.set_num_threads(previous)
        return sums, counts, hist, (kept if keep else None)


def _pilot_ranges(plan: Plan, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shift (pilot means) and histogram ranges from the pilot draws."""
    n_inst = len(plan.instances)
    stats = kept[:, n_inst:]
    finite = np.isfinite(stats)
    n_finite = finite.sum(axis=0)
    shift = np.where(finite, stats, 0.0).sum(axis=0) / np.maximum(n_finite, 1)
    n_scen = len(plan.scenarios)
    lo = np.zeros((n_scen, 2))
    scale = np.ones((n_scen, 2))
    for s in range(n_scen):
        for h, which in enumerate(("net", "bcr")):
            v = stats[:, plan.total_index(s, which)]
            v = v[np.isfinite(v)]
            if v.size == 0:
                a, b = -1.0, 1.0
            else:
                a, b = float(v.min()), float(v.max())
            span = b - a
            if span <= 1e-12 * max(1.0, abs(a), abs(b)):
                span = max(1.0, abs(a)) * 1e-6
            lo[s, h] = a - 0.5 * span
            scale[s, h] = (N_BINS - 2) / (2.0 * span)
    return shift, lo, scale


def simulate_model(
    model: Model,
    draws: int = 1_000_000,
    seed: SeedLike = None,
    *,
    sampler: str = "mc",
    threads: int | None = None,
    chunk_size: int | None = None,
    keep_draws: bool = False,
    scenarios: tuple[str, ...] | None = None,
    backend: str = "numba",
    target_mcse_p: float | None = None,
    target_mcse_mean: float | None = None,
    progress: Progress | None = None,
) -> Result:
    """Simulate every scenario of ``model`` (posterior draws already attached).

    Parameters
    ----------
    model
        A validated model whose posterior parameters hold their draws.
    draws
        Number of draws; with precision targets, the maximum number of draws.
    seed
        Integer or :class:`numpy.random.SeedSequence`; ``None`` draws fresh entropy,
        which is recorded in the result so the run can be repeated.
    sampler
        ``"mc"``, ``"lhs"`` or ``"sobol"``.
    threads
        Worker threads (default: all cores numba sees). Results do not depend on it.
    chunk_size
        Draws per chunk (rounded up to a multiple of 4096); memory is proportional to it,
        not to ``draws``, unless ``keep_draws``.
    keep_draws
        Keep every draw's inputs, item values and totals (exact quantiles; needed for
        sensitivity analysis).
    scenarios
        Only these scenarios (default: all).
    backend
        ``"numba"`` (fast) or ``"numpy"`` (the reference path).
    target_mcse_p, target_mcse_mean
        Stop early once the Monte Carlo standard error of P(net > 0) and/or of the mean
        net balance are below these targets in every scenario (checked after each chunk;
        Monte Carlo sampling only).
    progress
        Called as ``progress(done, total)`` after each chunk.
    """
    draws = _check_int("draws", draws, 2)
    if sampler not in SAMPLERS:
        raise SimulationError(f"unknown sampler {sampler!r}; choose from {', '.join(SAMPLERS)}")
    if backend not in BACKENDS:
        raise SimulationError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    n_threads = (
        numba.config.NUMBA_NUM_THREADS if threads is None else _check_int("threads", threads, 1)
    )
    if n_threads > numba.config.NUMBA_NUM_THREADS:
        raise SimulationError(
            f"threads must be at most {numba.config.NUMBA_NUM_THREADS} "
            "(NUMBA_NUM_THREADS) on this machine"
        )
    chunk = DEFAULT_CHUNK if chunk_size is None else _check_int("chunk_size", chunk_size, 1)
    chunk = -(-chunk // BLOCK) * BLOCK
    targets = (target_mcse_p, target_mcse_mean)
    for name, t in zip(("target_mcse_p", "target_mcse_mean"), targets, strict=True):
        if t is not None and not (isinstance(t, int | float) and t > 0 and math.isfinite(t)):
            raise SimulationError(f"{name} must be a positive number, got {t!r}")
    precision = any(t is not None for t in targets)
    if precision and sampler != "mc":
        raise SimulationError(
            "precision targets need plain Monte Carlo (--sampler mc): "
            "quasi-random designs have no simple standard error"
        )
    ss = _seed_sequence(seed)
    key = np.uint64(ss.generate_state(1, dtype=np.uint64)[0])
    design_seed = np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, 1))
    plan = make_plan(model, scenarios)
    t0 = time.perf_counter()
    runner = _Runner(plan, backend, n_threads, key)
    dim = plan.streams.shape[0]

    n_pilot = min(draws, PILOT)
    design = Design(sampler, draws, dim, design_seed)
    pilot_rows = design.rows(n_pilot)
    design.reset()
    zero_lo, one_scale = np.zeros((len(plan.scenarios), 2)), np.ones((len(plan.scenarios), 2))
    _, _, _, pilot_kept = runner.chunk(
        0, n_pilot, pilot_rows, np.zeros(plan.n_stats), zero_lo, one_scale, True
    )
    assert pilot_kept is not None
    shift, hist_lo, hist_scale = _pilot_ranges(plan, pilot_kept)
    compile_seconds = time.perf_counter() - t0

    acc = Accumulator(plan.n_stats, len(plan.scenarios), shift, hist_lo, hist_scale)
    kept_parts: list[np.ndarray] = []
    bcr_idx = [plan.total_index(s, "bcr") for s in range(len(plan.scenarios))]
    net_idx = [plan.total_index(s, "net") for s in range(len(plan.scenarios))]
    start = 0
    t1 = time.perf_counter()
    while start < draws:
        n = min(chunk, draws - start)
        sums, counts, hist, kept = runner.chunk(
            start, n, design.rows(n), shift, hist_lo, hist_scale, keep_draws
        )
        n_valid = np.full(plan.n_stats, n, dtype=np.int64)
        n_valid[bcr_idx] = counts[:, :, 2].sum(axis=0)
        acc.add(n, sums, counts, hist, n_valid)
        if kept is not None:
            kept_parts.append(kept)
        start += n
        if progress is not None:
            progress(start, draws)
        if precision and _targets_met(acc, net_idx, target_mcse_p, target_mcse_mean):
            break
    run_seconds = time.perf_counter() - t1
    settings = RunSettings(
        acc.n,
        str(ss.entropy) + (f" spawn_key={ss.spawn_key}" if ss.spawn_key else ""),
        sampler,
        n_threads,
        chunk,
        backend,
        keep_draws,
        target_mcse_p,
        target_mcse_mean,
    )
    kept_all = np.concatenate(kept_parts) if kept_parts else None
    if kept_all is None and acc.n == n_pilot:
        kept_all = pilot_kept  # a small run: the pilot holds every draw, so quantiles are exact
    return build_result(plan, acc, settings, kept_all, compile_seconds, run_seconds)


def _targets_met(
    acc: Accumulator, net_idx: list[int], target_p: float | None, target_mean: float | None
) -> bool:
    if acc.n < 2 * BLOCK:
        return False
    p, _, _ = acc.probabilities()
    if target_p is not None and np.any(np.sqrt(p * (1 - p) / acc.n) > target_p):
        return False
    return not (target_mean is not None and np.any(acc.mcse()[net_idx] > target_mean))
