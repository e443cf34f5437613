"""The first result in a fresh process (issue 7): what it may skip, never what it returns.

Three things keep a first result light, each tested here against the full path:

- a :class:`~mkba_sim.results.Result` from a simulation keeps its variables as laid-out
  arrays and builds the xarray Dataset on first access; ``summary``, ``to_dict``,
  ``draws`` and the attributes read the same values from either;
- quantile tables are kept between processes (:mod:`mkba_sim.io.tables`) and read back
  bit for bit, so a warm process need not import scipy to build them;
- a fresh process that simulates a model seen before imports neither xarray, pandas,
  Dask nor scipy.special (numba itself imports scipy.linalg to look for BLAS).
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mkba_sim
from mkba_sim._gc import paused_gc
from mkba_sim.distributions import Normal, parse_distribution
from mkba_sim.distributions import base as dbase
from mkba_sim.engine import simulate_model
from mkba_sim.io.tables import TableCache
from mkba_sim.results import Result

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "benchmarks" / "reference_model.toml"
PERSPECTIVES = REPO / "models" / "examples" / "cbt_perspectives.toml"
TABLE_FAMILIES = [
    {"dist": "normal", "mean": 99_000, "sd": 5_000},
    {"dist": "lognormal", "median": 23_000, "sigma": 0.25756026},
    {"dist": "gamma", "mean": 2.7, "sd": 0.5},
    {"dist": "beta", "alpha": 6, "beta": 8},
    {"dist": "pert", "low": 1, "mode": 2, "high": 5},
    {"dist": "triangular", "low": 0, "mode": 1, "high": 3},
]


def _reads(res: Result) -> dict[str, Any]:
    """Everything a Result answers without the caller touching its Dataset."""
    out: dict[str, Any] = {
        "repr": repr(res),
        "scenarios": res.scenarios,
        "has_draws": res.has_draws,
        "to_dict": res.to_dict(),
        "summaries": {s: res.summary(s) for s in res.scenarios},
    }
    if res.has_draws:
        out["draws"] = {
            (s, q): res.draws(s, q)
            for s in res.scenarios
            for q in ("benefits", "costs", "net", "bcr")
        }
    return out


def test_paused_gc_restores_the_collectors_state() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block found it paused
    assert gc.isenabled()
    with pytest.raises(KeyError), paused_gc():
        raise KeyError("x")
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()


@pytest.mark.parametrize(
    ("path", "keep"), [(REFERENCE, False), (PERSPECTIVES, False), (PERSPECTIVES, True)]
)
def test_laid_out_result_reads_as_its_dataset(path: Path, keep: bool) -> None:
    res = mkba_sim.simulate(path, draws=8_192, seed=3, keep_draws=keep)
    assert res._layout is not None  # not built yet
    lazy = _reads(res)
    ds = res.dataset  # built now; every read below goes through xarray
    assert res._layout is None and res.dataset is ds
    assert dict(res.attrs) == dict(ds.attrs)
    full = _reads(res)
    again = _reads(Result(ds))  # as a loaded result
    draws_lazy = lazy.pop("draws", {})
    for other in (full, again):
        draws = other.pop("draws", {})
        assert other == lazy
        assert draws.keys() == draws_lazy.keys()
        for k, v in draws.items():
            np.testing.assert_array_equal(v, draws_lazy[k])
    if path == PERSPECTIVES:  # the optional parts of a summary were read too
        s = lazy["summaries"]["base"]
        assert "perspectives" in s and "per_participant" in s


def test_layout_view_rejects_unknown_labels_as_xarray_does() -> None:
    res = mkba_sim.simulate(REFERENCE, draws=4_096, seed=1)
    with pytest.raises(KeyError):
        res.summary("no such scenario")
    with pytest.raises(KeyError):
        res.dataset.sel(scenario="no such scenario")


def _fresh_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dbase, "_memo", {})


@pytest.mark.parametrize("spec", TABLE_FAMILIES, ids=lambda s: str(s["dist"]))
def test_kept_table_is_the_computed_table(
    spec: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = parse_distribution(spec)
    computed = dbase.quantile_table(dist.ppf, dist.isf)
    store = TableCache(tmp_path)
    _fresh_memo(monkeypatch)
    first = dbase.encode_with(dist, store).table  # computed and kept
    key = dbase.table_key(dist)
    assert key is not None and (tmp_path / f"{key}.npy").is_file()
    _fresh_memo(monkeypatch)
    kept = dbase.encode_with(dist, store).table  # read back
    assert first is not None and kept is not None
    assert kept.tobytes() == computed.tobytes() == first.tobytes()
    assert not kept.flags.writeable
    assert dbase.median_is_finite(dist, store)


@dataclass(frozen=True)
class _OwnNormal(Normal):
    """A user's family: its ppf is code the table key cannot name."""

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return 2.0 * super().ppf(u)


def test_table_keys_name_the_parameters_and_only_tabulated_families() -> None:
    a = parse_distribution({"dist": "gamma", "shape": 8.0, "rate": 6.0})
    b = parse_distribution({"dist": "gamma", "shape": 8.0, "rate": 6.000000000000001})
    c = parse_distribution({"dist": "beta", "alpha": 8.0, "beta": 6.0})
    keys = {dbase.table_key(d) for d in (a, b, c)}
    assert len(keys) == 3 and None not in keys
    assert dbase.table_key(a) == dbase.table_key(
        parse_distribution({"dist": "gamma", "shape": 8, "rate": 6.0})
    )
    assert dbase.table_key(_OwnNormal(0.0, 1.0)) is None  # code outside mkba_sim: not kept
    own = dbase.encode_with(_OwnNormal(0.0, 1.0), TableCache(Path("/nonexistent"))).table
    assert own is not None and np.all(np.diff(own[: dbase.ks.TB_N + 1]) >= 0)
    for spec in (
        {"dist": "uniform", "low": 0, "high": 1},
        {"dist": "fixed", "value": 2},
        {"dist": "discrete", "values": [1, 2]},
    ):
        assert dbase.table_key(parse_distribution(spec)) is None


def test_a_damaged_table_file_is_recomputed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = parse_distribution({"dist": "beta", "alpha": 50, "beta": 50})
    key = dbase.table_key(dist)
    assert key is not None
    computed = dbase.quantile_table(dist.ppf, dist.isf)
    store = TableCache(tmp_path)
    for junk in (b"not a table", b"", None):
        path = tmp_path / f"{key}.npy"
        if junk is None:  # a readable array of the wrong layout
            np.save(path, np.zeros(7))
        else:
            path.write_bytes(junk)
        _fresh_memo(monkeypatch)
        assert dbase.median_is_finite(dist, store)  # answered by computing
        table = dbase.encode_with(dist, store).table
        assert table is not None and table.tobytes() == computed.tobytes()
        back = store.get(key)
        assert back is not None and back.tobytes() == computed.tobytes()  # replaced


def test_unwritable_table_cache_only_costs_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder would be")
    store = TableCache(blocker / "tables")
    dist = parse_distribution({"dist": "gamma", "mean": 2.7, "sd": 0.5})
    _fresh_memo(monkeypatch)
    table = dbase.encode_with(dist, store).table
    assert table is not None
    assert table.tobytes() == dbase.quantile_table(dist.ppf, dist.isf).tobytes()


def _without_run_attrs(ds: Any) -> Any:
    """The Dataset without the attributes that differ between runs (times)."""
    out = ds.copy()
    for k in ("created", "run_seconds", "compile_seconds", "draws_per_second"):
        out.attrs.pop(k, None)
    return out


def test_kept_tables_give_the_same_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m = mkba_sim.load_model(REFERENCE)
    store = TableCache(tmp_path)
    out = []
    for _ in range(2):  # computed and kept, then read back
        _fresh_memo(monkeypatch)
        out.append(_without_run_attrs(simulate_model(m, 20_000, 7, tables=store).dataset))
    assert len(list(tmp_path.glob("*.npy"))) > 0
    assert out[0].identical(out[1])
    _fresh_memo(monkeypatch)
    plain = _without_run_attrs(simulate_model(m, 20_000, 7).dataset)
    assert plain.identical(out[0])


_CHILD = """
import gc, json, sys
runs = [0, 0, 0]
gc.callbacks.append(lambda phase, info: phase == "stop" and runs.__setitem__(
    info["generation"], runs[info["generation"]] + 1))
import mkba_sim
m = mkba_sim.load_model(sys.argv[1])
res = mkba_sim.simulate(m, draws=10_000, seed=1)
summary = res.summary("base")
heavy = ("xarray", "pandas", "dask", "pyarrow", "scipy.special", "scipy.stats", "mkba_sim.fitting")
print(json.dumps({"loaded": [h for h in heavy if h in sys.modules], "summary": summary,
                  "collections": runs, "gc_enabled": gc.isenabled()}))
"""


@pytest.mark.parametrize(
    "model", [REFERENCE, REPO / "models" / "reclasseren_in_de_buurt.toml"], ids=lambda p: p.stem
)
def test_a_warm_fresh_process_imports_no_xarray_nor_scipy_special(model: Path) -> None:
    """The reference model, and a seed model with effect sizes given by their 95% CIs
    (their standard errors need z(0.975), kept as a constant) and beta distributions."""
    env = dict(os.environ)

    def child() -> dict[str, Any]:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(model)],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        out: dict[str, Any] = json.loads(proc.stdout)
        return out

    first = child()  # fills the caches (kernel, tables) if this cache is new
    second = child()
    # numba's BLAS check imports scipy.linalg; should a scipy version make that import
    # scipy.special, it is numba's import, not ours
    probe = "import sys, scipy.linalg.cython_blas; print('scipy.special' in sys.modules)"
    by_numba = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300
    ).stdout.strip()
    allowed = ["scipy.special"] if by_numba == "True" else []
    assert [m for m in second["loaded"] if m not in allowed] == []
    assert second["summary"] == first["summary"]
    # the collector is paused while numba, pydantic and the kernel load (mkba_sim._gc):
    # without that, this first result ran ~290 collections, 30-40 of them full ones
    assert second["gc_enabled"]
    assert second["collections"][2] == 0, second["collections"]
    here = mkba_sim.simulate(model, draws=10_000, seed=1).summary("base")
    assert json.loads(json.dumps(here)) == second["summary"]
