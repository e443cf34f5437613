"""Scale-out benchmark: a 2-worker Dask LocalCluster against local threads, same run.

Run from the repository root (``make install`` installs the ``dask`` extra)::

    .venv/bin/python benchmarks/bench_dask.py [--draws 1e8] [--quick] [--json FILE] [--check]

On the reference model (``benchmarks/reference_model.toml``), in one process:

1. Throughput (warm: kernels compiled and workers warmed before timing) of the numba
   engine with 2 local threads and of ``backend="dask"`` on a ``LocalCluster`` of 2
   worker processes with 1 thread each, at ``--draws`` (default 1e8), alternating
   local/dask ``--repeats`` times (the best of each is reported, so that a burst of
   load from another process on the machine hits both alike). Both runs must give the
   same bits (mean, MCSE, P(net > 0), quantiles).
2. Per-task overhead: from Dask's task stream of the timed run, the wall time the
   workers' threads were not computing, per task, and as a share of the mean task
   (default block size: 64 blocks of 4096 draws). Also the round trip of 200 no-op tasks.
3. Scaling at ``--scaling-draws`` (default 1e7): local 1 and 2 threads, a 1-worker and
   the 2-worker cluster, with each cluster run's tasks and overhead per task.
4. Targets of issue 13: dask ≥ 0.9 × local throughput; overhead ≤ 5 % per task.

The report goes to stdout, progress to stderr; ``--json FILE`` writes every number
(schema ``mkba_sim.bench_dask/1``). The exit status is 0 unless ``--check`` is given and
a target fails. Results: ``docs/distributed.md``.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
MODEL_PATH = HERE / "reference_model.toml"
TARGET_RATIO = 0.9
TARGET_OVERHEAD = 0.05
COMPARED = ("mean", "mcse", "p_net_positive", "net_quantile")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _same(a: Any, b: Any) -> bool:
    return all(np.array_equal(a.dataset[v].values, b.dataset[v].values) for v in COMPARED)


def _overhead(stream: list[dict[str, Any]], wall: float, threads: int) -> dict[str, float]:
    """Idle thread time per task: (wall × threads − Σ compute) / tasks."""
    compute = [
        sum(s["stop"] - s["start"] for s in t["startstops"] if s["action"] == "compute")
        for t in stream
        if "run_task" in str(t.get("key"))
    ]
    n = len(compute)
    busy = float(sum(compute))
    per_task = (wall * threads - busy) / n if n else float("nan")
    mean_task = busy / n if n else float("nan")
    return {
        "tasks": n,
        "mean_task_seconds": mean_task,
        "overhead_per_task_seconds": per_task,
        "overhead_share": per_task / (mean_task + per_task) if n else float("nan"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--draws", type=float, default=1e8, help="draws of the timed runs (1e8)")
    p.add_argument("--repeats", type=int, default=1, help="timed runs of each (1)")
    p.add_argument(
        "--scaling-draws", type=float, default=1e7, help="draws of the 1-vs-2 table (1e7)"
    )
    p.add_argument("--quick", action="store_true", help="1e6 draws (smoke test)")
    p.add_argument("--json", default=None, metavar="FILE", help="write every number here")
    p.add_argument("--check", action="store_true", help="exit 1 if a target fails")
    args = p.parse_args(argv)
    draws = int(1e6 if args.quick else args.draws)

    if "MKBA_SIM_CACHE" not in os.environ:  # a cache of its own, removed at the end
        cache = tempfile.mkdtemp(prefix="mkba-bench-dask-")
        os.environ["MKBA_SIM_CACHE"] = cache
        atexit.register(shutil.rmtree, cache, True)
    from distributed import Client, LocalCluster, get_task_stream

    import mkba_sim

    model = mkba_sim.load_model(MODEL_PATH)
    small = int(1e6 if args.quick else args.scaling_draws)
    load0 = os.getloadavg()

    def dask_run(client: Any, n: int, threads: int) -> tuple[Any, float, dict[str, float]]:
        with get_task_stream(client) as ts:
            t = time.perf_counter()
            res = mkba_sim.simulate(model, draws=n, seed=7, backend="dask", scheduler=client)
            wall = time.perf_counter() - t
        return res, wall, _overhead(ts.data, float(res.dataset.attrs["run_seconds"]), threads)

    def local_run(n: int, threads: int) -> tuple[Any, float]:
        t = time.perf_counter()
        res = mkba_sim.simulate(model, draws=n, seed=7, threads=threads)
        return res, time.perf_counter() - t

    scaling: dict[str, dict[str, float]] = {}
    _log("starting a LocalCluster of 2 workers × 1 thread")
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        # warm: compile locally, load on the workers
        mkba_sim.simulate(model, draws=2**16, seed=1, threads=2)
        mkba_sim.simulate(model, draws=2**16, seed=1, backend="dask", scheduler=client)
        t = time.perf_counter()
        client.gather([client.submit(abs, -i, pure=False) for i in range(200)])
        noop = (time.perf_counter() - t) / 200

        best: dict[str, float] = {"local": float("inf"), "dask": float("inf")}
        over: dict[str, float] = {}
        same = True
        for r in range(args.repeats):
            _log(f"[{r + 1}/{args.repeats}] local, 2 threads, {draws:.0e} draws")
            a, wall = local_run(draws, 2)
            best["local"] = min(best["local"], wall)
            _log(f"[{r + 1}/{args.repeats}] dask, 2 workers × 1 thread, {draws:.0e} draws")
            b, wall, ov = dask_run(client, draws, 2)
            if wall <= best["dask"]:
                best["dask"], over = wall, ov
            same = same and _same(a, b)
        _log(f"scaling: dask, 2 workers, {small:.0e} draws")
        ref, wall, ov = dask_run(client, small, 2)
        scaling["dask, 2 workers × 1 thread"] = {"seconds": wall, **ov}
    for threads in (1, 2):
        _log(f"scaling: local, {threads} thread(s), {small:.0e} draws")
        res, wall = local_run(small, threads)
        same = same and _same(ref, res)
        scaling[f"local, {threads} thread{'s' if threads > 1 else ''}"] = {"seconds": wall}
    _log("starting a LocalCluster of 1 worker × 1 thread")
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        mkba_sim.simulate(model, draws=2**16, seed=1, backend="dask", scheduler=client)
        _log(f"scaling: dask, 1 worker, {small:.0e} draws")
        res, wall, ov = dask_run(client, small, 1)
        same = same and _same(ref, res)
        scaling["dask, 1 worker × 1 thread"] = {"seconds": wall, **ov}
    load1 = os.getloadavg()
    rate = {k: draws / v for k, v in best.items()}
    ratio = rate["dask"] / rate["local"]
    checks = {
        "same_bits": same,
        "throughput_ratio": ratio >= TARGET_RATIO,
        "overhead_per_task": over.get("overhead_share", 1.0) <= TARGET_OVERHEAD,
    }
    lines = [
        f"mkba_sim bench_dask — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {load0[0]:.1f} → {load1[0]:.1f}",
        f"reference model, {draws:,} draws, whole simulate() call, best of {args.repeats}",
        f"  local 2 threads          {best['local']:8.2f} s  {rate['local'] / 1e6:7.2f} M draws/s",
        f"  dask 2 workers × 1 thread {best['dask']:7.2f} s  {rate['dask'] / 1e6:7.2f} M draws/s"
        f"  ({ratio:.2f}× local)",
        f"  tasks {over.get('tasks', 0)}, mean task {over.get('mean_task_seconds', 0):.3f} s, "
        f"overhead {1e3 * over.get('overhead_per_task_seconds', 0):.1f} ms per task "
        f"({100 * over.get('overhead_share', 0):.1f} %)",
        f"  no-op task round trip {1e3 * noop:.2f} ms",
        f"scaling at {small:,} draws (whole call; overhead: idle thread time per task)",
        "  | run | seconds | M draws/s | tasks | mean task (s) | overhead/task (ms) | share |",
        "  |---|---|---|---|---|---|---|",
    ]
    for name in sorted(scaling):
        row = scaling[name]
        tail = (
            f"{row['tasks']:.0f} | {row['mean_task_seconds']:.3f} | "
            f"{1e3 * row['overhead_per_task_seconds']:.1f} | {100 * row['overhead_share']:.1f} % |"
            if "tasks" in row
            else "– | – | – | – |"
        )
        lines.append(
            f"  | {name} | {row['seconds']:.2f} | {small / row['seconds'] / 1e6:.2f} | {tail}"
        )
    lines += [f"  {'PASS' if ok else 'FAIL'}  {name}" for name, ok in checks.items()]
    print("\n".join(lines))
    if args.json:
        doc = {
            "schema": "mkba_sim.bench_dask/1",
            "draws": draws,
            "seconds": best,
            "draws_per_second": rate,
            "ratio": ratio,
            "overhead": over,
            "noop_task_seconds": noop,
            "scaling_draws": small,
            "scaling": scaling,
            "load": [load0[0], load1[0]],
            "checks": checks,
        }
        Path(args.json).write_text(json.dumps(doc, indent=2))
    return 1 if args.check and not all(checks.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
