"""benchmarks/bench_bayes.py without running a fit (a real run takes about 10 minutes).

What is checked: the target is the issue's 20 s over "today's" 29 s as a ratio; the
command line; the child's environment keeps none of the user's caches or settings; the
output check refuses a failed, cached or foreign fit; the PASS/FAIL/N/A line.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_bayes", REPO / "benchmarks" / "bench_bayes.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bb = _load()
SRC = Path("/tmp/version/src")


def test_target_is_the_issues_ratio() -> None:
    assert abs(bb.TARGET_RATIO - 20 / 29) < 1e-15
    assert bb.BASELINE_COMMIT == "325138b"
    assert bb.command(Path("m.toml")) == ["bayes", "m.toml", "--prior", "mixture", "--json"]


def test_arguments() -> None:
    args = bb.parse_args([])
    assert args.rounds == 2 and args.warm and not args.check and args.json is None
    args = bb.parse_args(["--rounds", "3", "--no-warm", "--check", "--json", "x.json"])
    assert args.rounds == 3 and not args.warm and args.check and args.json == Path("x.json")
    for bad in ("0", "-1", "two"):
        with pytest.raises(argparse.ArgumentTypeError, match="whole number"):
            bb.positive_int(bad)


def test_child_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's PyTensor flags, caches and import path do not reach the child."""
    monkeypatch.setenv("PYTENSOR_FLAGS", "compiledir=/home/user/pt,floatX=float32")
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", "/home/user/pyc")
    monkeypatch.setenv("MKBA_SIM_CACHE", "/home/user/cache")
    monkeypatch.setenv("PYTHONPATH", "/home/user/src")
    env = bb.fit_env(SRC, Path("/tmp/c"), Path("/tmp/p"))
    assert env["PYTENSOR_FLAGS"] == "compiledir=/tmp/p"
    assert env["MKBA_SIM_CACHE"] == "/tmp/c"
    assert env["NUMBA_CACHE_DIR"] == "/tmp/c/numba"
    assert env["PYTHONPATH"] == str(SRC)
    assert "PYTHONPYCACHEPREFIX" not in env


def _output(**cache: Any) -> str:
    sub = {
        "prior": {"name": "mixture"},
        "draws": 4000,
        "variables": {"p_treated": {"mean": 0.49}},
        "cache": {"from_cache": False, "fit_seconds": 40.5, "path": "x.nc", **cache},
    }
    return json.dumps({"submodels": {"nazorg_plus_recidivism": sub}})


STDERR = f"warning\nbench_bayes: mkba_sim from {SRC}/mkba_sim/__init__.py\n"


def test_output_check() -> None:
    got = bb.check_output(_output(), STDERR, SRC)
    assert got == {"fit_seconds": 40.5, "draws": 4000, "means": {"p_treated": 0.49}}
    with pytest.raises(bb.BenchError, match="from a cache"):
        bb.check_output(_output(from_cache=True), STDERR, SRC)
    with pytest.raises(bb.BenchError, match="no posterior summary"):
        bb.check_output("Traceback ...", STDERR, SRC)
    with pytest.raises(bb.BenchError, match="not /tmp/version/src"):
        bb.check_output(_output(), STDERR.replace(str(SRC), "/work/main/src"), SRC)


def _doc(current: float, baseline: float) -> dict[str, Any]:
    row = {"wall_seconds": 0.0, "cpu_seconds": 10.0, "fit_seconds": 5.0}
    res: dict[str, Any] = {
        "rounds": 2,
        "cold": {
            "current": {**row, "wall_seconds": current},
            "baseline": {**row, "wall_seconds": baseline},
        },
    }
    res["ratio"] = bb.ratios(res)
    return {"fit": res}


def test_target_line() -> None:
    (ok,) = bb.targets(_doc(40.0, 100.0))
    assert ok["status"] == "PASS" and "0.40×" in ok["detail"]
    (bad,) = bb.targets(_doc(70.0, 100.0))
    assert bad["status"] == "FAIL" and "0.70×" in bad["detail"]
    (na,) = bb.targets({"fit": {"skipped": "commit 325138b not available"}})
    assert na["status"] == "N/A" and "not available" in na["detail"]
