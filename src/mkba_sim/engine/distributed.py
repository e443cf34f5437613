"""Run the blocks of a simulation on a Dask cluster, with the same bits as on one machine.

The draw grid is the local run's: chunks of draws, each cut into blocks of
:data:`~mkba_sim.engine.run.BLOCK` draws. Here a chunk's blocks are cut into *tasks* of
consecutive blocks and submitted to :mod:`dask.distributed`; each task returns the
per-block sums, counters, first bad draws and its own histograms, and the client merges
the blocks in draw order (:class:`~mkba_sim.engine.accumulate.Accumulator`). A draw's
random numbers depend only on (seed, stream, draw index), sums are merged in block order
and counts are integers, so every summary is bit-identical to a local run, whatever the
number of workers, their threads or which worker ran which task (and whether a task ran
twice because its worker died).

What a worker gets is plain data (:func:`worker_payload`): the generated kernel's source
(structure only, no text of the model file), its key, and the run's arrays (numbers,
posterior draw tables, statistics plan). The worker writes and compiles the kernel in
its *own* cache directory (``mkba_sim._cache.cache_root`` as the worker's environment
sets it), checks that its key matches the client's (same mkba_sim kernels), and keeps
the loaded module for the following tasks. Nothing is unpickled from the model's files
and no model object travels.

Dask is imported only inside functions; the extra is ``pip install 'mkba_sim[dask]'``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from mkba_sim._cache import cache_root
from mkba_sim.engine.accumulate import COUNT_DTYPE, COUNT_MAX, N_BINS
from mkba_sim.engine.codegen import kernel_key, kernel_source, load_kernel_source
from mkba_sim.engine.plan import Numbers, Plan
from mkba_sim.errors import SimulationError

__all__ = [
    "KEEP_TASK_BLOCKS",
    "DaskRunner",
    "dask_client",
    "run_task",
    "worker_payload",
    "worker_versions",
]

KEEP_TASK_BLOCKS = 256
"""Most blocks (of 4096 draws) in one task that keeps its draws (2**20 draws, about
8 bytes × (inputs + series) each). Without kept draws a task may be a whole chunk: a
default chunk of 2**20 draws, or more when ``chunk_size`` is raised for a large
cluster. Shorter runs are cut finer, into at least four tasks per worker thread."""

ChunkOut = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]
Job = tuple[int, int, np.ndarray]  # (first draw, draws, design rows) of one chunk

_NUMBER_FIELDS = (
    "streams",
    "codes",
    "stream_of",
    "fpar",
    "ipar",
    "pool",
    "corr_members",
    "corr_ptr",
    "chol",
    "chol_ptr",
    "cst",
    "pv_weight",
    "year_coef",
    "thresholds",
)


def _missing_dask() -> SimulationError:
    return SimulationError(
        "backend 'dask' needs dask.distributed, which is not installed: "
        "pip install 'mkba_sim[dask]'"
    )


def worker_payload(plan: Plan, num: Numbers, key: np.uint64) -> dict[str, Any]:
    """Everything a worker needs to run blocks of this run, as plain data.

    The kernel's source holds the model's structure only (array slots and generated
    variable names, :mod:`mkba_sim.engine.codegen`); every number is an array here.
    """
    st = plan.stats
    s_scen, s_exceed, s_hist, s_defined = st.arrays()
    source = kernel_source(plan)
    return {
        "source": source,
        "kernel_key": kernel_key(source),
        "key": int(key),
        "numbers": {f: np.asarray(getattr(num, f)) for f in _NUMBER_FIELDS},
        "series": {"scenario": s_scen, "exceed": s_exceed, "hist": s_hist, "defined": s_defined},
        "n_exceed": int(st.n_exceed),
        "n_hist": int(st.n_hist),
        "n_series": int(st.n_series),
        "n_counts": int(st.n_counts),
        "n_scenarios": int(st.n_scenarios),
        "width": int(plan.n_instances + st.n_series),
    }


# ------------------------------------------------------------------ on the worker

_KERNELS: dict[str, Any] = {}  # on a worker: kernel key -> loaded module
_WARM: set[tuple[str, str, str]] = set()  # on the client: (scheduler, kernel key, worker)
_KERNELS_LOCK = threading.Lock()


def _worker_kernel(payload: dict[str, Any]) -> Any:
    """The loaded kernel module of ``payload``, generated in this worker's cache once."""
    want = payload["kernel_key"]
    mod = _KERNELS.get(want)
    if mod is not None:
        return mod
    with _KERNELS_LOCK:
        mod = _KERNELS.get(want)
        if mod is None:
            mod, got = load_kernel_source(payload["source"], cache_root() / "kernels")
            if got != want:
                raise SimulationError(
                    f"this worker's mkba_sim kernels differ from the client's (kernel key "
                    f"{got} here, {want} on the client): install the same mkba_sim version "
                    "on every worker"
                )
            _KERNELS[want] = mod
    return mod


def worker_versions() -> dict[str, Any]:
    """The versions that must match between the client and every worker (mkba_sim's own
    kernels are compared through the kernel key)."""
    import platform

    import llvmlite
    import numba

    return {
        "python": ".".join(platform.python_version_tuple()[:2]),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "llvmlite": llvmlite.__version__,
    }


def warm_worker(payload: dict[str, Any]) -> dict[str, Any]:
    """Load (and if new, compile) the kernel on this worker; return its versions and threads.

    Runs one block of one draw so numba's compiled code is in memory before the first
    real task. The kernel is serial within a call: a worker with ``k`` Dask threads runs
    ``k`` tasks at once and no numba thread pool is started (``NUMBA_NUM_THREADS`` is set
    to ``k`` on the workers of a local cluster all the same).
    """
    import numba

    run_task(payload, 0, 1, np.empty((0, 0)), *_neutral(payload), False)
    out = worker_versions()
    out["numba_threads"] = int(numba.config.NUMBA_NUM_THREADS)
    out["pid"] = os.getpid()
    try:
        from distributed import get_worker

        out["dask_threads"] = int(get_worker().state.nthreads)
    except (ImportError, ValueError):  # pragma: no cover - called outside a worker
        out["dask_threads"] = 1
    return out


def _neutral(payload: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_hist = payload["n_hist"]
    return np.zeros(payload["n_series"]), np.zeros(n_hist), np.ones(n_hist)


def run_task(
    payload: dict[str, Any],
    start: int,
    n: int,
    design: np.ndarray,
    shift: np.ndarray,
    hist_lo: np.ndarray,
    hist_scale: np.ndarray,
    keep: bool,
    store: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any, Any]:
    """Run draws ``start .. start + n - 1`` (a whole number of blocks, except at the end).

    Returns the per-block sums ``[B, n_series, 2]``, counters ``[B, n_counts]``, first
    bad draw per block and scenario (index from ``start``, else -1), this task's
    histograms ``[n_hist, N_BINS]`` (packed: their non-empty bins) and, with ``keep``,
    the kept draws ``[n, width]`` — or, given a ``store``
    (:class:`mkba_sim.io.draws_store.BlockStore`), the name of the file it wrote them to.
    """
    from mkba_sim.engine.run import BLOCK

    kernel = _worker_kernel(payload)
    nums = payload["numbers"]
    ser = payload["series"]
    n_blocks = (n + BLOCK - 1) // BLOCK
    sums = np.empty((n_blocks, payload["n_series"], 2))
    counts = np.empty((n_blocks, max(payload["n_counts"], 1)), dtype=np.int64)
    bad = np.full((n_blocks, payload["n_scenarios"]), -1, dtype=np.int64)
    # a task's draws per bin fit 32 bits unless the task is longer than COUNT_MAX draws
    ctype = COUNT_DTYPE if n <= COUNT_MAX else np.int64
    hist = np.zeros((max(payload["n_hist"], 1), N_BINS), dtype=ctype)
    kept = np.empty((n, payload["width"])) if keep else np.empty((0, 0))
    kernel.run_blocks(
        np.int64(0),
        np.int64(n_blocks),
        np.int64(start),
        np.int64(n),
        np.int64(BLOCK),
        np.uint64(payload["key"]),
        nums["streams"],
        design,
        nums["corr_members"],
        nums["corr_ptr"],
        nums["chol"],
        nums["chol_ptr"],
        nums["codes"],
        nums["stream_of"],
        nums["fpar"],
        nums["ipar"],
        nums["pool"],
        nums["cst"],
        nums["pv_weight"],
        nums["year_coef"],
        ser["scenario"],
        shift,
        ser["exceed"],
        nums["thresholds"],
        ser["hist"],
        hist_lo if hist_lo.size else np.zeros(1),
        hist_scale if hist_scale.size else np.ones(1),
        ser["defined"],
        np.int64(payload["n_exceed"]),
        sums,
        counts,
        bad,
        hist,
        keep,
        kept,
    )
    out: Any = kept if keep else None
    if keep and store is not None:
        out = store.write(start, kept)
    return sums, counts[:, : payload["n_counts"]], bad, _pack(hist[: payload["n_hist"]]), out


def _pack(hist: np.ndarray) -> tuple[tuple[int, ...], np.ndarray, np.ndarray]:
    """A task's histograms as their non-empty bins (flat index, count): most of the
    2**16 bins of each are empty in one task, and moving them is most of a task's cost."""
    flat = hist.ravel()
    idx = np.flatnonzero(flat)
    itype = np.int32 if flat.size < 2**31 else np.int64
    ctype = np.uint32 if flat.size and int(flat.max()) < 2**32 else np.int64
    return hist.shape, idx.astype(itype), flat[idx].astype(ctype)


def _unpack_into(total: np.ndarray, packed: tuple[tuple[int, ...], np.ndarray, np.ndarray]) -> None:
    """Add packed histograms to ``total`` (integer counts: exact in any order)."""
    _, idx, counts = packed
    total.ravel()[idx] += counts.astype(np.int64)


# ------------------------------------------------------------------ on the client


@contextlib.contextmanager
def dask_client(
    scheduler: Any = None, workers: int | None = None, threads: int | None = None
) -> Iterator[Any]:
    """A :class:`distributed.Client`: the one given, one connected to ``scheduler`` (an
    address such as ``"tcp://10.0.0.5:8786"``) or one of a new ``LocalCluster`` of
    ``workers`` processes with ``threads`` threads each. What this opens, it closes.

    Raises
    ------
    SimulationError
        If dask.distributed is missing or the scheduler cannot be reached.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise _missing_dask() from None
    if scheduler is not None and not isinstance(scheduler, str):
        if not isinstance(scheduler, Client):
            raise SimulationError(
                f"scheduler must be an address or a distributed.Client, got {scheduler!r}"
            )
        with _quiet_client():
            yield scheduler
        return
    if scheduler is not None:
        if workers is not None:
            raise SimulationError("give a scheduler address or a number of workers, not both")
        try:
            client = Client(scheduler)  # waits distributed.comm.timeouts.connect (30 s)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SimulationError(
                f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); start it with "
                "`dask scheduler` or give --workers N for a local cluster"
            ) from None
        with _quiet_client():
            try:
                yield client
            finally:
                client.close(timeout=5)
        return
    n_workers = 2 if workers is None else workers
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise SimulationError(f"workers must be an integer ≥ 1, got {workers!r}")
    per = 1 if threads is None else threads
    env = {"NUMBA_NUM_THREADS": str(per), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=per,
        processes=True,
        dashboard_address=":0",
        env=env,
        silence_logs=logging.ERROR,
    )
    try:
        client = Client(cluster)
        try:
            client.wait_for_workers(n_workers)
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


@contextlib.contextmanager
def _quiet_client() -> Iterator[None]:
    """No traceback from Dask's client logger while a run is on: a lost scheduler is
    reported once, as a :class:`SimulationError`."""
    log = logging.getLogger("distributed.client")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def _lost(client: Any, exc: BaseException) -> SimulationError:
    """The one message for a run the cluster could not finish."""
    import concurrent.futures

    from distributed import KilledWorker
    from distributed.comm import CommClosedError

    where = getattr(getattr(client, "scheduler", None), "address", None) or "the scheduler"
    text = " ".join(str(exc).split()) or "no detail"  # one line
    again = "No result was written; run again (the same seed gives the same numbers)"
    if isinstance(exc, KilledWorker):
        return SimulationError(
            f"the Dask run failed: the workers running one task died, time after time ({text}; "
            "see distributed.scheduler.allowed-failures); check the workers' memory and "
            f"logs. {again}"
        )
    if isinstance(
        exc, concurrent.futures.CancelledError | CommClosedError | OSError | TimeoutError
    ):
        return SimulationError(
            f"the Dask run failed: lost contact with the scheduler {where} "
            f"({type(exc).__name__}: {text}). {again}"
        )
    return SimulationError(
        f"the Dask run failed: a task raised {type(exc).__name__} on a worker: {text}. {again}"
    )


class DaskRunner:
    """Submits a run's chunks, cut into tasks of blocks, to a Dask cluster.

    Same interface as the local runner of :mod:`mkba_sim.engine.run`: :meth:`chunk` for
    one chunk, :meth:`stream` for the run's chunks, several chunks in flight so workers
    never wait for the client to merge.
    """

    def __init__(
        self,
        plan: Plan,
        num: Numbers,
        key: np.uint64,
        scheduler: Any = None,
        workers: int | None = None,
        threads: int | None = None,
        store: Any = None,
        draws: int = 0,
    ) -> None:
        self.store = store
        self.draws = draws
        self._ctx: contextlib.AbstractContextManager[Any] | None = dask_client(
            scheduler, workers, threads
        )
        self.client = self._ctx.__enter__()
        try:
            self._start(plan, num, key)
        except BaseException:
            self.close()
            raise

    def _start(self, plan: Plan, num: Numbers, key: np.uint64) -> None:
        client = self.client
        payload = worker_payload(plan, num, key)
        self.kernel_key = payload["kernel_key"]
        self.n_hist = payload["n_hist"]
        try:
            client.wait_for_workers(1, timeout=60)
        except TimeoutError:
            raise SimulationError(
                f"the Dask scheduler at {client.scheduler.address} has no workers "
                "(waited 60 s); start some with `dask worker ADDRESS`"
            ) from None
        # the payload as a task's result: recomputed from the graph if a worker holding it dies
        self.payload = client.submit(_identity, payload, pure=False)
        info = client.scheduler_info()["workers"]
        self.address = client.scheduler.address
        # warm each worker once per kernel (reruns of an analysis reuse it)
        cold = [w for w in info if (self.address, self.kernel_key, w) not in _WARM]
        warm = [client.submit(warm_worker, self.payload, workers=[w], pure=False) for w in cold]
        try:
            report = client.gather(warm)
        except SimulationError:
            raise
        except Exception as exc:
            raise _lost(client, exc) from None
        mine = worker_versions()
        for w, got in zip(cold, report, strict=True):
            diff = [f"{k} {got[k]} (client {v})" for k, v in mine.items() if got[k] != v]
            if diff:
                raise SimulationError(
                    f"Dask worker {w} has other versions than this client: {', '.join(diff)}. "
                    "Every worker needs the same Python, numpy, numba and llvmlite"
                )
            _WARM.add((self.address, self.kernel_key, w))
        self.workers = len(info)
        self.threads = sum(int(w.get("nthreads", 1)) for w in info.values())

    def info(self) -> dict[str, Any]:
        """Provenance of the cluster used: scheduler address, workers, threads (the
        result's ``threads`` is then the workers' threads in all)."""
        return {
            "threads": self.threads,
            "dask_scheduler": str(self.address),
            "dask_workers": self.workers,
            "dask_threads": self.threads,
        }

    def close(self) -> None:
        """Close the client and cluster this runner opened (not a client it was given)."""
        payload = getattr(self, "payload", None)
        if payload is not None:
            with contextlib.suppress(Exception):
                payload.release()
            self.payload = None
        ctx, self._ctx = self._ctx, None
        if ctx is not None:
            ctx.__exit__(None, None, None)

    def _tasks(self, n: int, keep: bool) -> int:
        """Blocks per task for a chunk of ``n`` draws: as many as the run allows while
        every worker thread still gets four tasks."""
        from mkba_sim.engine.run import BLOCK

        n_blocks = (n + BLOCK - 1) // BLOCK
        run_blocks = (max(self.draws, n) + BLOCK - 1) // BLOCK
        share = math.ceil(run_blocks / (4 * self.threads))
        return max(1, min(n_blocks, share, KEEP_TASK_BLOCKS if keep else n_blocks))

    def _submit(
        self,
        job: Job,
        shift: np.ndarray,
        lo: np.ndarray,
        scale: np.ndarray,
        keep: bool,
        store: Any,
    ) -> list[tuple[int, Any]]:
        from mkba_sim.engine.run import BLOCK

        start, n, rows = job
        step = self._tasks(n, keep) * BLOCK
        out = []
        for off in range(0, n, step):
            m = min(step, n - off)
            part = rows[off : off + m] if rows.shape[0] else rows
            fut = self.client.submit(
                run_task,
                self.payload,
                start + off,
                m,
                part,
                shift,
                lo,
                scale,
                keep,
                store,
                pure=False,
            )
            out.append((off, fut))
        return out

    def _collect(self, futures: list[tuple[int, Any]], store: Any) -> ChunkOut:
        from mkba_sim.engine.run import BLOCK

        parts = []
        for off, fut in futures:
            try:
                sums, counts, bad, hist, part = fut.result()
            except SimulationError:
                raise
            except Exception as exc:
                raise _lost(self.client, exc) from None
            bad = np.where(bad >= 0, bad + off, bad)  # from the task's first draw to the chunk's
            parts.append((sums, counts, bad, hist, part))
            fut.release()
        assert all(off % BLOCK == 0 for off, _ in futures)
        hist = np.zeros(parts[0][3][0], dtype=np.int64)
        for p in parts:
            _unpack_into(hist, p[3])
        kept: Any = None
        if parts[0][4] is not None and store is not None:
            kept = store.open([p[4] for p in parts])  # lazy: files the workers wrote
        elif parts[0][4] is not None:
            kept = np.concatenate([p[4] for p in parts])
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
            hist,
            kept,
        )

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
        """One chunk of draws (the pilot), its kept draws returned, never stored.

        Histograms are returned with every chunk (``with_hist`` is accepted for the
        local runner's interface; the pilot's are not used)."""
        futures = self._submit((start, n, design), shift, hist_lo, hist_scale, keep, None)
        return self._collect(futures, None)

    def histograms(self) -> np.ndarray:
        """Zeros: this runner returns each chunk's histograms with the chunk (the local
        runner's end-of-run interface, so either way of merging counts them once)."""
        return np.zeros((self.n_hist, N_BINS), dtype=np.int64)

    def stream(
        self,
        jobs: Iterable[Job],
        shift: np.ndarray,
        hist_lo: np.ndarray,
        hist_scale: np.ndarray,
        keep: bool,
    ) -> Iterator[tuple[int, int, np.ndarray, ChunkOut]]:
        """Results of the chunks ``jobs`` in order, keeping enough chunks in flight that
        every worker thread has two tasks queued. Closing the iterator early (precision
        targets met, an error, Ctrl-C) cancels the tasks not yet collected."""
        window: deque[tuple[Job, list[tuple[int, Any]]]] = deque()
        it = iter(jobs)
        try:
            while True:
                queued = sum(len(f) for _, f in window)
                while queued < 3 * self.threads:
                    job = next(it, None)
                    if job is None:
                        break
                    futs = self._submit(job, shift, hist_lo, hist_scale, keep, self.store)
                    window.append((job, futs))
                    queued += len(futs)
                if not window:
                    return
                job, futs = window.popleft()
                yield (*job, self._collect(futs, self.store))
        finally:
            left = [f for _, futs in window for _, f in futs]
            if left:
                with contextlib.suppress(Exception):
                    self.client.cancel(left)


def _identity(x: dict[str, Any]) -> dict[str, Any]:
    return x
