"""Run a simulation: pilot, chunks shared by threads, non-finite policy, precision control.

A draw's random numbers depend only on (seed, draw index, parameter), so the draws are
bit-identical for any number of threads and any chunk size. Each chunk is cut into
blocks of :data:`BLOCK` draws; threads take groups of blocks as they become free (so a
core busy with another process does not hold the others back), each block's sums are
stored at its own index and merged in block order afterwards, so every summary is
bit-identical for any number of threads.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from mkba_sim._cache import cache_root
from mkba_sim._gc import paused_gc
from mkba_sim.distributions.base import TableStore
from mkba_sim.engine.accumulate import (
    COUNT_DTYPE,
    COUNT_MAX,
    N_BINS,
    Accumulator,
    histogram_quantiles,
)
from mkba_sim.engine.codegen import kernel_key, kernel_source, load_kernel
from mkba_sim.engine.designs import SAMPLERS, Design
from mkba_sim.engine.numpy_path import run_chunk_numpy, sample_numpy, scenario_values
from mkba_sim.engine.plan import Numbers, Plan, make_plan
from mkba_sim.errors import SimulationError
from mkba_sim.model import Model
from mkba_sim.model.evaluate import first_non_finite
from mkba_sim.results import PROBS, Result, RunSummary, make_attrs, make_result

__all__ = ["BACKENDS", "BLOCK", "SAMPLERS", "simulate_model"]

BLOCK = 4096
DEFAULT_CHUNK = 2**20
PILOT = 2**14
BACKENDS = ("numba", "numpy", "dask")
MAX_GROUP = 16  # blocks per task handed to a thread

Progress = Callable[[int, int], None]
# on_progress(step, done, total, detail): the protocol of mkba_sim.workflow.ProgressCallback
StepProgress = Callable[[str, int, int, str], None]
SeedLike = int | np.random.SeedSequence | None
ChunkOut = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]


def _seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SimulationError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence(int(seed))


def _seed_attr(ss: np.random.SeedSequence) -> int | str:
    """The seed as recorded: an int when it is one that fits, else its full text."""
    ent = ss.entropy
    if isinstance(ent, int) and not ss.spawn_key and 0 <= ent < 2**63:
        return ent
    return str(ent) + (f" spawn_key={ss.spawn_key}" if ss.spawn_key else "")


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise SimulationError(f"{name} must be an integer ≥ {low}, got {value!r}")
    return int(value)


def default_threads() -> int:
    """Threads used by default: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _worker_signals() -> None:
    """Block Ctrl-C and SIGTERM in a worker thread, so that the operating system delivers
    them to the main thread: there a blocked wait for a task is interrupted at once and
    Python raises ``KeyboardInterrupt``; a signal taken by a worker thread (running a
    nogil kernel) would be seen only when the main thread next runs Python code."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _pool(threads: int) -> ThreadPoolExecutor:
    """A pool of ``threads`` worker threads, made once per size and reused by every run."""
    with _POOLS_LOCK:
        pool = _POOLS.get(threads)
        if pool is None:
            pool = _POOLS[threads] = ThreadPoolExecutor(
                threads, thread_name_prefix="mkba-sim", initializer=_worker_signals
            )
        return pool


class _Runner:
    """Calls the numba kernel (blocks shared by a pool of threads) or the NumPy path."""

    def __init__(
        self, plan: Plan, num: Numbers, backend: str, threads: int, key: np.uint64
    ) -> None:
        self.plan = plan
        self.num = num
        self.backend = backend
        self.threads = threads
        self.key = key
        self.kernel: Any = None
        self.pool: ThreadPoolExecutor | None = None
        # one histogram buffer per worker thread, made on first use (never waited for);
        # the buffers add up over the whole run and are summed once, by histograms().
        # They hold 32-bit counts (COUNT_DTYPE); a buffer that could overflow in its next
        # task is first folded into the 64-bit ``folded`` totals (runs of > 4e9 draws)
        self.buffers: dict[int, np.ndarray] = {}
        self.tally: dict[int, int] = {}
        self.folded: np.ndarray | None = None
        self.numpy_hist: np.ndarray | None = None
        self.lock = threading.Lock()
        if backend == "numba":
            self.kernel, self.kernel_key = load_kernel(plan, cache_root() / "kernels")
            if threads > 1:
                self.pool = _pool(threads)
        else:
            self.kernel_key = kernel_key(kernel_source(plan))

    def close(self) -> None:
        """Release the histogram buffers (the thread pool is kept for the next run)."""
        self.buffers.clear()
        self.tally.clear()
        self.folded = None

    def _buffer(self, draws: int) -> np.ndarray:
        """This thread's histogram buffer, with room for ``draws`` more counts per bin."""
        ident = threading.get_ident()
        with self.lock:
            lh = self.buffers.get(ident)
            if lh is None:
                n_hist = max(self.plan.stats.n_hist, 1)
                lh = self.buffers[ident] = np.zeros((n_hist, N_BINS), dtype=COUNT_DTYPE)
                self.tally[ident] = 0
            if self.tally[ident] + draws > COUNT_MAX:
                self._fold(lh)
                self.tally[ident] = 0
            self.tally[ident] += draws
            return lh

    def _fold(self, lh: np.ndarray) -> None:
        """Move a buffer's counts into the 64-bit totals (integers: exact in any order)."""
        self.folded = lh.astype(np.int64) if self.folded is None else self.folded + lh
        lh[:] = 0

    def chunk(
        self,
        start: int,
        n: int,
        design: np.ndarray,
        shift: np.ndarray,
        hist_lo: np.ndarray,
        hist_scale: np.ndarray,
        keep: bool,
        with_hist: bool = True,
    ) -> ChunkOut:
        """Run draws ``start .. start + n - 1``; histograms (unless ``with_hist`` is
        false, as for the pilot, whose ranges are not known yet) go to the runner's
        buffers and are returned by :meth:`histograms` at the end of the run."""
        plan, num = self.plan, self.num
        if self.kernel is None:
            out = run_chunk_numpy(
                plan,
                num,
                start,
                n,
                BLOCK,
                self.key,
                design,
                shift,
                hist_lo,
                hist_scale,
                N_BINS,
                keep,
            )
            if with_hist:
                self.numpy_hist = out[3] if self.numpy_hist is None else self.numpy_hist + out[3]
            return out[0], out[1], out[2], None, out[4]
        st = plan.stats
        n_blocks = (n + BLOCK - 1) // BLOCK
        sums = np.empty((n_blocks, st.n_series, 2))
        counts = np.empty((n_blocks, max(st.n_counts, 1)), dtype=np.int64)
        bad = np.full((n_blocks, st.n_scenarios), -1, dtype=np.int64)
        width = plan.n_instances + st.n_series
        kept = np.empty((n, width)) if keep else np.empty((0, 0))
        lo_ = hist_lo if hist_lo.size else np.zeros(1)
        sc_ = hist_scale if hist_scale.size else np.ones(1)
        thr = num.thresholds
        s_scen, s_exceed, s_hist, s_defined = st.arrays()
        if not with_hist:
            s_hist = np.full_like(s_hist, -1)

        def task(b0: int, b1: int) -> None:
            lh = self._buffer(min(b1 * BLOCK, n) - b0 * BLOCK)
            self.kernel.run_blocks(
                np.int64(b0),
                np.int64(b1),
                np.int64(start),
                np.int64(n),
                np.int64(BLOCK),
                self.key,
                num.streams,
                design,
                num.corr_members,
                num.corr_ptr,
                num.chol,
                num.chol_ptr,
                num.codes,
                num.stream_of,
                num.fpar,
                num.ipar,
                num.pool,
                num.cst,
                num.pv_weight,
                num.year_coef,
                s_scen,
                shift,
                s_exceed,
                thr,
                s_hist,
                lo_,
                sc_,
                s_defined,
                np.int64(st.n_exceed),
                sums,
                counts,
                bad,
                lh,
                keep,
                kept,
            )

        group = max(1, min(MAX_GROUP, n_blocks // (4 * self.threads)))
        ranges = [(b, min(b + group, n_blocks)) for b in range(0, n_blocks, group)]
        if self.pool is None:
            for b0, b1 in ranges:
                task(b0, b1)
        else:
            futures = [self.pool.submit(task, b0, b1) for b0, b1 in ranges]
            try:
                for fut in futures:
                    fut.result()
            except BaseException:  # e.g. Ctrl-C: queued tasks are dropped, none waits
                for fut in futures:
                    fut.cancel()
                raise
        return sums, counts[:, : st.n_counts], bad, None, (kept if keep else None)

    def histograms(self) -> np.ndarray:
        """The run's histograms ``[n_hist, N_BINS]``, summed over threads (integer
        counts: the sum does not depend on which thread counted what)."""
        n_hist = self.plan.stats.n_hist
        if self.kernel is None:
            if self.numpy_hist is not None:
                return self.numpy_hist
            return np.zeros((n_hist, N_BINS), dtype=np.int64)
        hist = np.zeros((n_hist, N_BINS), dtype=np.int64)
        if self.folded is not None:
            hist += self.folded[:n_hist]
        for lh in self.buffers.values():
            hist += lh[:n_hist]
        return hist

    def stream(
        self,
        jobs: Iterable[tuple[int, int, np.ndarray]],
        shift: np.ndarray,
        hist_lo: np.ndarray,
        hist_scale: np.ndarray,
        keep: bool,
    ) -> Iterator[tuple[int, int, np.ndarray, ChunkOut]]:
        """The chunks ``jobs`` (first draw, draws, design rows), one after the other."""
        for start, n, rows in jobs:
            yield start, n, rows, self.chunk(start, n, rows, shift, hist_lo, hist_scale, keep)


def _pilot_ranges(plan: Plan, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shift (pilot means) and histogram ranges from the pilot draws."""
    stats = kept[:, plan.n_instances :]
    finite = np.isfinite(stats)
    n_finite = finite.sum(axis=0)
    shift = np.where(finite, stats, 0.0).sum(axis=0) / np.maximum(n_finite, 1)
    hs = plan.stats.hist_series()
    v = stats[:, hs]
    fin = finite[:, hs]
    any_finite = fin.any(axis=0)
    a = np.where(any_finite, np.where(fin, v, np.inf).min(axis=0, initial=np.inf), -1.0)
    b = np.where(any_finite, np.where(fin, v, -np.inf).max(axis=0, initial=-np.inf), 1.0)
    span = b - a
    flat = span <= 1e-12 * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
    span = np.where(flat, np.maximum(1.0, np.abs(a)) * 1e-6, span)
    lo = a - 0.5 * span
    scale = (N_BINS - 2) / (2.0 * span)
    return shift, lo, scale


def _non_finite_error(
    plan: Plan, num: Numbers, key: np.uint64, design: np.ndarray, s: int, draw: int, row: int
) -> SimulationError:
    """The one clear message for a draw with a non-finite value (non_finite = "stop")."""
    params = sample_numpy(num, key, np.array([draw], dtype=np.int64), design[row : row + 1], plan)
    checked, _ = scenario_values(plan, num, s, params)
    sc = plan.scenario(s)
    values: dict[str, float] = {n: float(num.cst[plan.pop_slot[(s, n)]]) for n in sc.populations}
    values.update({n: float(params[0, j]) for n, j in plan.instance_of[sc.name].items()})
    values.update({k.split(".", 1)[1]: float(np.asarray(v)[0]) for k, v in checked.items()})
    consts = {nid: num.cst[c] for (s2, nid), c in plan.num_slot.items() if s2 == s}
    bad = first_non_finite(sc, values, consts)
    where = f"{bad.key} is {bad.value}: {bad.why}" if bad else "a non-finite value"
    shown = ", ".join(f"{n} = {values[n]:.6g}" for n in (bad.inputs[:8] if bad else ()))
    return SimulationError(
        f"{plan.model.path}: scenario {plan.scenarios[s]!r}, draw {draw}: {where}"
        + (f" ({shown})" if shown else "")
        + '. Fix the model, or set non_finite = "drop" in [model] to drop such draws '
        "(every output then reports how many)"
    )


@dataclass(frozen=True)
class _Checked:
    draws: int
    sampler: str
    threads: int
    chunk: int
    backend: str


def _check_arguments(
    draws: object,
    sampler: str,
    backend: str,
    threads: object,
    chunk_size: object,
    targets: tuple[float | None, float | None],
) -> _Checked:
    n = _check_int("draws", draws, 2)
    if sampler not in SAMPLERS:
        raise SimulationError(f"unknown sampler {sampler!r}; choose from {', '.join(SAMPLERS)}")
    if backend not in BACKENDS:
        raise SimulationError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    n_threads = default_threads() if threads is None else _check_int("threads", threads, 1)
    limit = 4 * default_threads()
    if n_threads > limit:
        raise SimulationError(
            f"threads must be at most {limit} (four per core this process may use), got {n_threads}"
        )
    chunk = DEFAULT_CHUNK if chunk_size is None else _check_int("chunk_size", chunk_size, 1)
    chunk = -(-chunk // BLOCK) * BLOCK
    for name, t in zip(("target_mcse_p", "target_mcse_mean"), targets, strict=True):
        if t is not None and not (isinstance(t, int | float) and t > 0 and math.isfinite(t)):
            raise SimulationError(f"{name} must be a positive number, got {t!r}")
    if any(t is not None for t in targets) and sampler != "mc":
        raise SimulationError(
            "precision targets need plain Monte Carlo (--sampler mc): "
            "quasi-random designs have no simple standard error"
        )
    return _Checked(n, sampler, n_threads, chunk, backend)


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
    overrides: Mapping[str, Any] | None = None,
    reseed: Mapping[str, SeedLike] | None = None,
    target_mcse_p: float | None = None,
    target_mcse_mean: float | None = None,
    progress: Progress | None = None,
    attrs: Mapping[str, Any] | None = None,
    on_progress: StepProgress | None = None,
    scheduler: Any = None,
    workers: int | None = None,
    draws_store: Any = None,
    tables: TableStore | None = None,
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
        Worker threads (default: the cores this process may use). Results do not depend
        on it.
    chunk_size
        Draws per chunk (rounded up to a multiple of 4096); memory is proportional to it,
        not to ``draws``, unless ``keep_draws``.
    keep_draws
        Keep every draw's inputs, item values and balances (exact quantiles; needed for
        sensitivity analysis).
    scenarios
        Only these scenarios (default: all).
    backend
        ``"numba"`` (fast, local threads), ``"numpy"`` (the reference path) or
        ``"dask"`` (the numba kernel on the workers of a Dask cluster, the same bits as
        ``"numba"``; see ``docs/distributed.md``).
    overrides
        ``{name: value}`` for this run only, in every scenario: a number fixes a
        parameter or population, :class:`~mkba_sim.model.overrides.Quantile` fixes a
        parameter at its own quantile, a distribution replaces it. The compiled kernel
        is reused and the other inputs keep their random numbers (common random numbers
        with the unchanged run).
    reseed
        ``{name: seed}``: these inputs draw the random numbers they would draw in a run
        with that seed, every other input those of ``seed`` (the "A_B" reruns of
        Saltelli's Sobol' estimators; Monte Carlo sampling only).
    target_mcse_p, target_mcse_mean
        Stop early once the Monte Carlo standard error of P(net > 0) and/or of the mean
        net balance are below these targets in every scenario (checked after each chunk;
        Monte Carlo sampling only).
    progress
        Called as ``progress(done, total)`` after each chunk.
    attrs
        Further provenance for the result (e.g. the posteriors used).
    on_progress
        Called as ``on_progress(step, done, total, detail)``
        (:class:`mkba_sim.workflow.ProgressCallback`): ``("compile", 0, 1, backend)``
        before the kernel is loaded or compiled and ``("compile", 1, 1, ...)`` once the
        pilot has run through it; then ``("draws", done, total, "")`` from ``done = 0``
        and after each chunk, ending with ``done == total`` (for a run stopped early by
        a precision target, both are the draws made).
    scheduler, workers
        With ``backend="dask"``: a scheduler address (``"tcp://host:8786"``) or a
        :class:`distributed.Client` to use, or else the number of worker processes of a
        new ``LocalCluster`` (default 2, with ``threads`` threads each, default 1) that
        is closed after the run.
    draws_store
        With ``backend="dask"`` and ``keep_draws``: a
        :class:`~mkba_sim.io.draws_store.BlockStore`; the workers write the kept draws
        there and the result's draws are read from it lazily (quantiles then come from
        the streaming histograms).

    Raises
    ------
    SimulationError
        For bad arguments, and — unless the model says ``non_finite = "drop"`` — for a
        draw with a NaN or infinite derived quantity or item, naming it, its scenario,
        the draw and that draw's input values.
    """
    targets = (target_mcse_p, target_mcse_mean)
    a = _check_arguments(draws, sampler, backend, threads, chunk_size, targets)
    ss = _seed_sequence(seed)
    key = np.uint64(ss.generate_state(1, dtype=np.uint64)[0])
    design_seed = np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, 1))
    plan = make_plan(model, scenarios)
    rekey: dict[str, np.uint64] = {}
    for name, other in (reseed or {}).items():
        if a.sampler != "mc":
            raise SimulationError("reseed needs plain Monte Carlo (sampler 'mc')")
        k2 = np.uint64(_seed_sequence(other).generate_state(1, dtype=np.uint64)[0])
        rekey[name] = np.uint64(key ^ k2)
    num = plan.numbers(overrides, rekey, tables)
    policy = model.settings.non_finite
    t0 = time.perf_counter()
    if on_progress is not None:
        on_progress("compile", 0, 1, a.backend)
    runner: Any
    if draws_store is not None and (a.backend != "dask" or not keep_draws):
        raise SimulationError("a draws store needs backend='dask' and keep_draws=True")
    if a.backend == "dask":
        from mkba_sim.engine.distributed import DaskRunner

        runner = DaskRunner(plan, num, key, scheduler, workers, threads, draws_store, a.draws)
        attrs = {**dict(attrs or {}), **runner.info()}
    else:
        runner = _Runner(plan, num, a.backend, a.threads, key)
    try:
        return _run(
            plan,
            num,
            runner,
            a,
            key,
            design_seed,
            ss,
            keep_draws,
            targets,
            progress,
            policy,
            attrs,
            t0,
            on_progress,
        )
    finally:
        runner.close()


def _run(
    plan: Plan,
    num: Numbers,
    runner: Any,
    a: _Checked,
    key: np.uint64,
    design_seed: np.random.SeedSequence,
    ss: np.random.SeedSequence,
    keep_draws: bool,
    targets: tuple[float | None, float | None],
    progress: Progress | None,
    policy: str,
    attrs: Mapping[str, Any] | None,
    t0: float,
    on_progress: StepProgress | None = None,
) -> Result:
    st = plan.stats
    n_pilot = min(a.draws, PILOT)
    design = Design(a.sampler, a.draws, num.streams.shape[0], design_seed)
    pilot_rows = design.rows(n_pilot)
    design.reset()
    ones = np.ones(st.n_hist)
    with paused_gc():  # the pilot loads or compiles the kernel: see mkba_sim._gc
        pilot = runner.chunk(
            0, n_pilot, pilot_rows, np.zeros(st.n_series), np.zeros(st.n_hist), ones, True, False
        )
    pilot_kept = pilot[4]
    assert pilot_kept is not None
    if policy == "stop":
        _raise_first_bad(plan, num, key, pilot_rows, 0, pilot[2])
    shift, hist_lo, hist_scale = _pilot_ranges(plan, pilot_kept)
    compile_seconds = time.perf_counter() - t0
    if on_progress is not None:
        on_progress("compile", 1, 1, f"{compile_seconds:.1f} s")
        on_progress("draws", 0, a.draws, "")

    acc = Accumulator(st, shift, hist_lo, hist_scale)
    kept_parts: list[np.ndarray] = []
    net_idx = [st.index(s, "total", "net") for s in range(st.n_scenarios)]
    precision = any(t is not None for t in targets)
    stopped_early = False
    start = 0
    t1 = time.perf_counter()
    chunks = runner.stream(_jobs(design, a), shift, hist_lo, hist_scale, keep_draws)
    with contextlib.closing(chunks):
        for _, n, rows, (sums, counts, bad, hist, kept) in chunks:
            if policy == "stop":
                _raise_first_bad(plan, num, key, rows, start, bad)
            acc.add(start, n, sums, counts, bad, hist)
            if kept is not None:
                kept_parts.append(kept)
            start += n
            if progress is not None:
                progress(start, a.draws)
            if on_progress is not None and start < a.draws:
                on_progress("draws", start, a.draws, "")
            if precision and _targets_met(acc, net_idx, *targets):
                stopped_early = start < a.draws
                break
    acc.add_histograms(runner.histograms())
    if on_progress is not None:
        on_progress("draws", start, start if stopped_early else a.draws, "")
    run_seconds = time.perf_counter() - t1
    kept_all = np.concatenate(kept_parts) if kept_parts else None
    lazy = kept_all is not None and not isinstance(kept_all, np.ndarray)  # a draws store
    exact = (kept_all is not None and not lazy) or acc.n == n_pilot
    source = kept_all if kept_all is not None and not lazy else pilot_kept
    summary = _summary(plan, acc, source if exact else None, keep_draws, kept_all, num.cst)
    m = plan.model
    run_attrs: dict[str, Any] = {
        "model_path": m.path,
        "model_sha256": m.sha256,
        "model_title": m.title,
        "price_year": m.settings.price_year,
        "currency": m.settings.currency,
        "seed": _seed_attr(ss),
        "n_draws": acc.n,
        "draws_requested": a.draws,
        "stopped_early": stopped_early,
        "sampler": a.sampler,
        "backend": a.backend,
        "threads": a.threads,
        "chunk_size": a.chunk,
        "keep_draws": keep_draws,
        "non_finite": policy,
        "n_dropped_total": int(acc.n * st.n_scenarios - acc.n_kept().sum()),
        "overrides": dict(num.overrides),
        "kernel_key": runner.kernel_key,
        "quantile_method": "exact" if exact else "histogram",
        "quantile_accuracy": (
            "exact (type 7, linear interpolation)"
            if exact
            else "histogram of 65536 bins over twice the pilot range: error at "
            "most one bin width; NaN if outside the range"
        ),
        "target_mcse_p": targets[0],
        "target_mcse_mean": targets[1],
        "compile_seconds": compile_seconds,
        "run_seconds": run_seconds,
        "draws_per_second": acc.n / run_seconds if run_seconds > 0 else float("nan"),
        "pm": [{"name": p.name, "side": p.side, "note": p.note, "source": p.source} for p in m.pm],
        "notes": m.settings.notes,
        **dict(attrs or {}),
    }
    return make_result(summary, make_attrs("mkba_sim.engine", run_attrs))


def _jobs(design: Design, a: _Checked) -> Iterator[tuple[int, int, np.ndarray]]:
    """The run's chunks after the pilot: (first draw, draws, design rows), in order."""
    start = 0
    while start < a.draws:
        n = min(a.chunk, a.draws - start)
        yield start, n, design.rows(n)
        start += n


def _raise_first_bad(
    plan: Plan, num: Numbers, key: np.uint64, rows: np.ndarray, start: int, bad: np.ndarray
) -> None:
    """Raise the non-finite error for the earliest bad draw of a chunk, if any."""
    if not np.any(bad >= 0):
        return
    best: tuple[int, int] | None = None
    for s in range(bad.shape[1]):
        hit = bad[:, s][bad[:, s] >= 0]
        if hit.size and (best is None or int(hit.min()) < best[0]):
            best = (int(hit.min()), s)
    assert best is not None
    i, s = best
    raise _non_finite_error(plan, num, key, rows, s, start + i, i)


def _summary(
    plan: Plan,
    acc: Accumulator,
    kept: np.ndarray | None,
    keep_draws: bool,
    draws: Any = None,
    cst: np.ndarray | None = None,
) -> RunSummary:
    st = plan.stats
    probs = np.array(PROBS)
    quant = np.full((st.n_series, len(probs)), np.nan)
    for h, i in enumerate(st.hist_series()):
        if kept is not None:
            v = kept[:, plan.n_instances + i]
            v = v[np.isfinite(v)]
            if v.size:
                quant[i] = np.quantile(v, probs)
        else:
            quant[i] = histogram_quantiles(acc.hist[h], acc.edges(h), probs)
    side: dict[str, str] = {}
    holder: dict[str, str] = {}
    for s in range(st.n_scenarios):
        for it in plan.scenario(s).items:
            side.setdefault(it.name, it.side)
            holder.setdefault(it.name, it.stakeholder)
    p, p_se = acc.exceed()
    n_inst = plan.n_instances
    draws = kept if draws is None else draws  # the kept draws (lazy when from a store)
    with_draws = keep_draws and draws is not None
    return RunSummary(
        scenarios=plan.scenarios,
        descriptions=tuple(plan.scenario(s).description for s in range(st.n_scenarios)),
        currency=plan.model.settings.currency,
        series_scenario=np.array([se.scenario for se in st.series], dtype=np.int64),
        series_kind=tuple(se.kind for se in st.series),
        series_name=tuple(se.name for se in st.series),
        mean=acc.mean(),
        sd=acc.sd(),
        mcse=acc.mcse(),
        n_valid=acc.n_valid(),
        p_exceed=p,
        p_exceed_mcse=p_se,
        defined_fraction=acc.defined_fraction(),
        quantiles=quant,
        n_draws=acc.n,
        n_kept=acc.n_kept(),
        item_side=side,
        item_stakeholder=holder,
        horizon=max(plan.scenario(s).settings.horizon_years for s in range(st.n_scenarios)),
        hist_series=np.array(st.hist_series(), dtype=np.int64),
        hist_counts=acc.hist,
        hist_lo=acc.hist_lo,
        hist_width=1.0 / acc.hist_scale,
        input_labels=tuple(i.label for i in plan.instances),
        input_units=tuple(plan.unit_of(j) for j in range(plan.n_instances)),
        input_draws=draws[:, :n_inst] if with_draws else None,
        series_draws=draws[:, n_inst:] if with_draws else None,
        perspectives={p.name: p.stakeholders for p in plan.model.base.perspectives},
        per_participant=plan.model.settings.per_participant,
        participants=_participants(plan, cst),
        participant_unit=plan.model.base.population_units.get(
            plan.model.settings.per_participant or "", plan.model.settings.per_participant or ""
        ),
    )


def _participants(plan: Plan, cst: np.ndarray | None) -> np.ndarray | None:
    """The number of participants of each scenario (overrides applied), if the model has one."""
    pop = plan.model.settings.per_participant
    if pop is None:
        return None
    values = cst if cst is not None else plan.cst_default
    return np.array([float(values[plan.pop_slot[(s, pop)]]) for s in range(len(plan.scenarios))])


def _targets_met(
    acc: Accumulator, net_idx: list[int], target_p: float | None, target_mean: float | None
) -> bool:
    if acc.n < 2 * BLOCK:
        return False
    _, p_se = acc.exceed()
    if target_p is not None and np.any(p_se[net_idx] > target_p):
        return False
    return not (target_mean is not None and np.any(acc.mcse()[net_idx] > target_mean))
