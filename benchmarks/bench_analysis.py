"""Speed targets of the decision analysis (issue 11), measured in one run.

Run from the repository root after ``make install``::

    .venv/bin/python benchmarks/bench_analysis.py [--quick] [--json FILE] [--check]

1. ``mkba-sim analyse`` at its defaults on both seed models, warm (the compiled kernel
   in the cache from a first call), wall time in a fresh process: target ≤ 20 s each.
2. EVPPI of one input from 10^5 draws (linear model, NumPy arrays): target ≤ 1 s.
3. EVSI of one study size from 10^5 draws, regressed on two count statistics (the
   nazorg-plus follow-up's shape; no target: reported, as the default EVSI curve costs
   eight of these).

Caches live in a temporary directory (``MKBA_SIM_CACHE``) removed at the end. The load
average is printed: on a busy machine the times are upper bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TARGET_ANALYSE = 20.0  # seconds, warm, per seed model
TARGET_EVPPI = 1.0  # seconds, one input, 1e5 draws
MODELS = ("nazorg_plus", "reclasseren_in_de_buurt")


def analyse_seconds(model: str, env: dict[str, str], draws: int) -> float:
    """Wall time of ``mkba-sim analyse`` in a fresh process."""
    t = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkba_sim.cli",
            "analyse",
            f"models/{model}.toml",
            "--draws",
            str(draws),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return time.perf_counter() - t


def evppi_seconds(n: int) -> float:
    """Best of three: EVPPI of one input of a linear model from ``n`` draws."""
    from mkba_sim.analysis import evppi

    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 3))
    net = 200 + x @ np.array([300.0, -400.0, 100.0])
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        evppi(net, x[:, [0]])
        best = min(best, time.perf_counter() - t)
    return best


def evsi_seconds(n: int) -> float:
    """Best of three: EVSI of one study of 30 from ``n`` draws (two count statistics)."""
    from mkba_sim.analysis import evsi

    rng = np.random.default_rng(2)
    p = rng.beta(6.0, 7.0, n)
    rho = rng.gamma(2.0, 0.15, n)
    net = 4_000.0 * (0.5 - p) + rng.normal(0.0, 3_000.0, n)
    reoffenders = rng.binomial(30, p)
    stats = np.column_stack([reoffenders, reoffenders + rng.poisson(2 * rho * reoffenders)])
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        evsi(net, stats.astype(np.float64))
        best = min(best, time.perf_counter() - t)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print PASS/FAIL per target."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    p.add_argument("--json", type=Path, help="write the figures to this JSON file")
    p.add_argument("--check", action="store_true", help="exit 1 if a target fails")
    args = p.parse_args(argv)
    draws = 10_000 if args.quick else 100_000
    cache = Path(tempfile.mkdtemp(prefix="mkba-bench-analysis-"))
    env = {**os.environ, "MKBA_SIM_CACHE": str(cache)}
    env.pop("NUMBA_CACHE_DIR", None)
    doc: dict[str, Any] = {"load_start": os.getloadavg(), "draws": draws, "analyse": {}}
    try:
        for model in MODELS:
            analyse_seconds(model, env, 10_000)  # warm the kernel cache
            doc["analyse"][model] = analyse_seconds(model, env, draws)
        doc["evppi_seconds"] = evppi_seconds(10_000 if args.quick else 100_000)
        doc["evsi_seconds"] = evsi_seconds(10_000 if args.quick else 100_000)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    doc["load_end"] = os.getloadavg()
    checks = {
        f"analyse {m} ≤ {TARGET_ANALYSE:g} s": s <= TARGET_ANALYSE
        for m, s in doc["analyse"].items()
    }
    checks[f"EVPPI one input ≤ {TARGET_EVPPI:g} s"] = doc["evppi_seconds"] <= TARGET_EVPPI
    doc["checks"] = checks
    print(f"load average {doc['load_start'][0]:.2f} -> {doc['load_end'][0]:.2f} (2 cores)")
    for m, s in doc["analyse"].items():
        print(f"mkba-sim analyse {m} ({draws:,} draws, warm): {s:.2f} s")
    print(f"EVPPI, one input: {doc['evppi_seconds']:.3f} s")
    print(f"EVSI, one study size (two statistics): {doc['evsi_seconds']:.3f} s")
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2))
    return 1 if args.check and not all(checks.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
