"""Smoke tests of benchmarks/bench_engine.py (about 20 s) and bench_analysis_ready.py (35 s).

The benchmark's speed ratios mean something only if every engine computes the same
model. So: the model file matches the specification (shared/benchmarks/REFERENCE_MODEL.md),
the hand-written NumPy and squigglepy versions reproduce the closed-form mean, and a
``--quick`` run completes with every section, every engine correct and the JSON output.

Tolerance for means: |mean − closed form| ≤ 5 MCSE (MCSE = sd / √n of the same draws).
A correct model fails this with probability ≈ 6e-7; with 200,000 draws 5 MCSE is about
1,200 EUR (0.6 % of the mean), so a wrong parameter or formula term shows.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks" / "bench_engine.py"
CLOSED_FORM = 200_571.5  # as stated in REFERENCE_MODEL.md
MAX_Z = 5.0


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_engine", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load()

#: REFERENCE_MODEL.md's table, in the model file's parametrisations.
SPEC: dict[str, dict[str, Any]] = {
    "salary": {"dist": "normal", "mean": 99_000, "sd": 5_000},
    "case_costs": {"dist": "lognormal", "median": 23_000},  # sigma checked separately
    "lam0": {"dist": "gamma", "mean": 2.7, "sd": 0.5},
    "p0": {"dist": "beta", "alpha": 50, "beta": 50},
    "pt": {"dist": "beta", "alpha": 6, "beta": 8},
    "lamt": {"dist": "gamma", "shape": 8, "rate": 6},
    "cost_offence": {"dist": "triangular", "low": 500, "mode": 1_000, "high": 1_500},
    "police_incidents": {"dist": "gamma", "shape": 35, "rate": 12},
    "police_cost": {"dist": "normal", "mean": 236, "sd": 40},
    "detention_days": {"dist": "uniform", "low": 0, "high": 12},
    "detention_cost": {"dist": "normal", "mean": 250, "sd": 25},
    "work_share": {"dist": "beta", "alpha": 3, "beta": 11},
    "benefit_cost": {"dist": "normal", "mean": 19_680, "sd": 1_500},
    "attribution": {"dist": "uniform", "low": 0.3, "high": 0.7},
}


def test_model_file_matches_the_specification() -> None:
    doc = tomllib.loads(bench.MODEL_PATH.read_text())
    assert doc["populations"] == {"clients": 69}
    assert doc["model"]["horizon_years"] == 1 and doc["model"]["discount_rate"] == 0
    params = doc["parameters"]
    assert set(params) == set(SPEC)
    for name, expected in SPEC.items():
        got = {k: params[name][k] for k in expected}
        assert got == expected, name
    # lognormal: median 23,000, sigma from the 90% interval [15,000, 35,000]
    sigma = math.log(35 / 15) / (2 * 1.6448536269514722)
    assert params["case_costs"]["sigma"] == pytest.approx(sigma, abs=1e-8)
    assert abs(bench.CASE_COSTS_SIGMA - sigma) < 1e-12
    assert doc["derived"] == {"avoided_offences": "clients * (p0 * lam0 - pt * lamt) / 2"}
    items = {(it["side"], it["value"]) for it in doc["items"]}
    assert items == {
        ("benefit", "avoided_offences * cost_offence"),
        ("benefit", "clients * police_incidents * police_cost"),
        ("benefit", "clients * detention_days * detention_cost"),
        ("benefit", "clients * work_share * benefit_cost * attribution"),
        ("cost", "salary"),
        ("cost", "case_costs"),
    }
    assert all(it["years"] == [1] for it in doc["items"])


def test_closed_form_mean() -> None:
    assert bench.closed_form_mean() == pytest.approx(CLOSED_FORM, abs=0.1)
    # the formula at the inputs' means is the mean (independent inputs, products only)
    means = {
        "salary": 99_000,
        "case_costs": 23_000 * math.exp(bench.CASE_COSTS_SIGMA**2 / 2),
        "lam0": 2.7,
        "p0": 0.5,
        "pt": 6 / 14,
        "lamt": 8 / 6,
        "cost_offence": 1_000,
        "police_incidents": 35 / 12,
        "police_cost": 236,
        "detention_days": 6,
        "detention_cost": 250,
        "work_share": 3 / 14,
        "benefit_cost": 19_680,
        "attribution": 0.5,
    }
    assert bench.net_from_inputs(means) == pytest.approx(bench.closed_form_mean(), rel=1e-12)


@pytest.mark.parametrize(
    ("fn_name", "n"),
    [
        ("numpy_net", 200_000),
        ("squigglepy_net", 200_000),
        ("squigglepy_net_algebra", 200_000),
        ("squigglepy_net_per_draw", 2_000),
    ],
)
def test_hand_written_models_mean_within_5_mcse(fn_name: str, n: int) -> None:
    net = getattr(bench, fn_name)(n, 12345)
    assert net.shape == (n,)
    est = bench.summarize(net)
    assert abs(est["mean"] - bench.closed_form_mean()) <= MAX_Z * est["mcse"]
    assert est["q05"] < est["mean"] < est["q95"]


def test_hand_written_numpy_is_reproducible() -> None:
    np.testing.assert_array_equal(bench.numpy_net(100, 7), bench.numpy_net(100, 7))


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, json.loads(out.read_text())


def test_quick_run_has_every_section(quick: tuple[str, dict[str, Any]]) -> None:
    text, doc = quick
    for heading in ("1. First result", "2. Throughput", "3. Streaming", "Targets"):
        assert heading in text
    assert {"machine", "first_call", "throughput", "streaming", "checks"} <= set(doc)
    engines = {r["engine"] for r in doc["throughput"] if "skipped" not in r}
    assert engines == {
        bench.NUMBA,
        bench.NUMPY_PATH,
        bench.SQ_FAST,
        bench.SQ_ALGEBRA,
        bench.SQ_PER_DRAW,
        bench.HAND_NUMPY,
    }
    assert {r["threads"] for r in doc["throughput"] if r["engine"] == bench.NUMBA} == {1, 2}
    # every target was evaluated (PASS or FAIL; speed targets are not asserted: quick
    # sizes are too small for them and the machine may be busy)
    assert len(doc["checks"]) >= 6
    assert all(c["status"] in ("PASS", "FAIL") for c in doc["checks"])
    assert doc["first_call"]["empty_cache"]["cache_files"] > 0


def test_quick_run_every_engine_is_correct(quick: tuple[str, dict[str, Any]]) -> None:
    _, doc = quick
    correctness = [c for c in doc["checks"] if c["name"].startswith("correct:")]
    assert len(correctness) == 7  # six engines and the streaming CLI runs
    assert all(c["status"] == "PASS" for c in correctness), correctness


def test_quick_run_engines_agree_on_p_net_positive(quick: tuple[str, dict[str, Any]]) -> None:
    """Same model, same spread: P(net > 0) agrees within 5 standard errors of the difference."""
    _, doc = quick
    n = doc["reference_draws"]
    rows = [r for r in doc["throughput"] if r["draws"] == n and "skipped" not in r]
    ref = next(r for r in rows if r["engine"] == bench.NUMBA and r["threads"] == 2)
    p = ref["p_net_positive"]
    se = math.sqrt(2 * max(p * (1 - p), 1 / n) / n)
    for r in rows:
        assert abs(r["p_net_positive"] - p) <= MAX_Z * se, r["engine"]


def test_quick_run_streams_in_constant_memory(quick: tuple[str, dict[str, Any]]) -> None:
    _, doc = quick
    small, big = doc["streaming"]
    assert big["draws"] == 10 * small["draws"]
    assert 0 < big["peak_rss_bytes"] < bench.TARGET_PEAK_RSS
    assert big["peak_rss_bytes"] < small["peak_rss_bytes"] + 64 * 2**20


# --- benchmarks/bench_analysis_ready.py (issue 7), about 35 s ---------------------------

BENCH_AR = REPO / "benchmarks" / "bench_analysis_ready.py"


@pytest.fixture(scope="module")
def analysis_ready(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench_ar") / "quick.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH_AR), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, json.loads(out.read_text())


def test_analysis_ready_quick_run(analysis_ready: tuple[str, dict[str, Any]]) -> None:
    """Every section and target is there, and changing numbers reused the kernel."""
    text, doc = analysis_ready
    assert doc["schema"] == "mkba_sim.bench_analysis_ready/1"
    for heading in ("1. Warm rerun", "2. Sweep", "3. New structure", "4. Fresh process"):
        assert heading in text
    assert "5. Throughput" in text and "Targets" in text
    assert {"machine", "rerun", "sweep", "compile", "fresh", "throughput", "checks"} <= set(doc)
    # every target evaluated (speed targets are not asserted: --quick sizes are tiny and
    # the machine may be busy)
    assert len(doc["checks"]) == 11
    assert all(c["status"] in ("PASS", "FAIL") for c in doc["checks"])
    # changed file, overrides and sweep: the base run's kernel, no other
    rerun = doc["rerun"]
    base = rerun["base_kernel_key"]
    assert set(rerun["base_kernel_keys"]) == {base}
    kinds = {v["kind"] for v in rerun["variants"]}
    assert kinds == {"file", "override"}
    for v in rerun["variants"]:
        assert set(v["kernel_keys"]) == {base}, v["name"]
        assert v["seconds"] > 0 and v["ratio"] > 0
    sweep = doc["sweep"]
    assert sweep["base_kernel_key"] == base and sweep["kernel_keys"] == [base]
    assert sweep["max_step_error"] <= 1e-6 * sweep["high"]  # common random numbers
    # a new structure is compiled: its own key, one new generated module in the cache
    ref, *_ = doc["compile"]["empty_cache"]["runs"]
    new = doc["compile"]["warm_kernels"]["runs"][0]
    assert ref["kernel_key"] == base and new["kernel_key"] != base
    assert new["kernel_files_after"] == new["kernel_files_before"] + 1
    fresh = doc["fresh"]
    assert fresh["first_result"]["kernel_keys"] == [base]
    assert fresh["import"]["import_seconds"] > 0
    assert fresh["first_result"]["import_seconds_by_package"]
    tp = doc["throughput"]
    assert tp["streams"] == 14
    assert {r["threads"] for r in tp["engine"]} == {1, 2}
    for r in tp["engine"]:
        assert abs(r["floor_mean_uniform"] - 0.5) < 0.01  # the floor kernel's uniforms
        assert abs(r["z"]) <= MAX_Z


def _load_ar() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_analysis_ready", BENCH_AR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_same_run_targets_replace_absolute_seconds() -> None:
    """With the engine before issue 7 measured in the same run (section 6), the issue's
    absolute seconds become ratios against it: T / today × that engine's time; the
    absolute figures are kept as INFO lines, which --check ignores."""
    ar = _load_ar()

    def fresh(imp: float, first: float, new: float) -> dict[str, Any]:
        return {
            "import": {"seconds": imp},
            "first_result": {"seconds": first},
            "new_structure": {"seconds": new},
        }

    rate = {"baseline": 9e6, "current": 9.5e6}
    base = {
        "commit": ar.BASELINE_COMMIT,
        "rounds": 3,
        "first_result_draws": 10_000,
        "new_structure_draws": 100_000,
        "engines": {k: {t: {"draws_per_second": r} for t in ("2", "1")} for k, r in rate.items()},
        "ratio": {"2": 9.5 / 9, "1": 9.5 / 9},
        "fresh": {"baseline": fresh(2.0, 6.0, 20.0), "current": fresh(0.01, 1.9, 13.0)},
    }
    base["fresh_ratio"] = {
        k: base["fresh"]["current"][k]["seconds"] / base["fresh"]["baseline"][k]["seconds"]
        for k in ("import", "first_result", "new_structure")
    }
    sweep = {"values": 50, "draws": 10**6, "threads": 2, "median_seconds": 0.2, "max_step_error": 0}
    # 5 s at 27 M/s is 15 s at 9 M/s: 14.9 s passes, 15.1 s fails
    for total, expect in ((14.9, "PASS"), (15.1, "FAIL")):
        doc = {"baseline": base, "sweep": {**sweep, "total_seconds": total}}
        checks = {c["name"]: c["status"] for c in ar.targets(doc)}
        scaled = [s for n, s in checks.items() if "scaled by the engine before" in n]
        assert scaled == [expect]
        absolute = [s for n, s in checks.items() if "[absolute" in n]
        assert absolute == ["INFO"]
    checks = ar.targets({"baseline": base})
    by_kind = {c["name"].split(":")[0]: c["status"] for c in checks}
    # import 0.005× ≤ 0.3/1.7; first result 0.317× ≤ 1/3; new structure 0.65× > 5/8
    assert by_kind["import mkba_sim in a fresh process"] == "PASS"
    assert [s for n, s in by_kind.items() if n.startswith("first result")] == ["PASS"]
    assert [s for n, s in by_kind.items() if n.startswith("a never-seen")] == ["FAIL"]
    assert [c["status"] for c in checks if "throughput of the engine before" in c["name"]] == [
        "PASS"
    ]
    # without the same-run baseline the absolute targets are targets again
    doc = {"sweep": {**sweep, "total_seconds": 14.9}}
    assert [c["status"] for c in ar.targets(doc)] == ["FAIL", "PASS"]  # > 5 s; step check
