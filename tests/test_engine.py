"""Monte Carlo engine: closed-form answers within MCSE, reproducibility, two paths agree.

Statistical tolerances are stated in Monte Carlo standard errors (MCSE) and every test
uses a fixed seed, so a failure is a bug, not bad luck (4 MCSE: p ≈ 6e-5 per check).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import mkba_sim
from conftest import CORRELATED, NORMALS, POSTERIOR
from mkba_sim.errors import SimulationError

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "benchmarks" / "reference_model.toml"
REFERENCE_MEAN = 200_571.5  # closed form, shared/benchmarks/REFERENCE_MODEL.md


def _load(text: str, tmp_path: Path, name: str = "m.toml") -> mkba_sim.Model:
    path = tmp_path / name
    path.write_text(text)
    return mkba_sim.load_model(path)


@pytest.fixture(scope="module")
def reference() -> mkba_sim.Model:
    return mkba_sim.load_model(REFERENCE)


def test_reference_model_mean_matches_closed_form(reference: mkba_sim.Model) -> None:
    res = mkba_sim.simulate(reference, draws=2**20, seed=11)
    net = res.summary("base")["net"]
    assert abs(net["mean"] - REFERENCE_MEAN) < 4 * net["mcse"]


def test_difference_of_normals_closed_form(tmp_path: Path) -> None:
    model = _load(NORMALS, tmp_path)
    n = 2**19
    res = mkba_sim.simulate(model, draws=n, seed=3, keep_draws=True)
    s = res.summary("base")
    mu, sd = 200.0, 500.0  # net = a - b ~ Normal(200, sqrt(300² + 400²))
    assert abs(s["net"]["mean"] - mu) < 4 * sd / math.sqrt(n)
    # sd of a sample sd is about sd / sqrt(2n)
    assert abs(s["net"]["sd"] - sd) < 4 * sd / math.sqrt(2 * n)
    p = stats.norm.sf(0, mu, sd)
    assert abs(s["p_net_positive"] - p) < 4 * math.sqrt(p * (1 - p) / n)
    assert s["p_net_positive_mcse"] == pytest.approx(math.sqrt(p * (1 - p) / n), rel=0.01)
    # quantile MCSE ≈ sqrt(q(1-q)/n) / f(x_q)
    for q, (lo, hi) in ((0.05, s["net"]["interval90"]), (0.95, s["net"]["interval90"])):
        x = stats.norm.ppf(q, mu, sd)
        se = math.sqrt(q * (1 - q) / n) / stats.norm.pdf(x, mu, sd)
        got = lo if q == 0.05 else hi
        assert abs(got - x) < 4 * se


def test_streaming_quantiles_match_exact(tmp_path: Path) -> None:
    model = _load(NORMALS, tmp_path)
    kept = mkba_sim.simulate(model, draws=200_000, seed=5, keep_draws=True)
    streamed = mkba_sim.simulate(model, draws=200_000, seed=5)
    assert streamed.dataset.attrs["quantile_method"] == "histogram"
    a = kept.dataset["net_quantile"].values
    b = streamed.dataset["net_quantile"].values
    bin_width = float(streamed.dataset["net_hist_width"].sel(scenario="base"))
    # documented accuracy: one bin width, plus the gap between order statistics
    assert np.all(np.abs(a - b) < bin_width + 5.0)


def test_bit_identical_across_threads_and_chunks(reference: mkba_sim.Model) -> None:
    runs = [
        mkba_sim.simulate(reference, draws=50_000, seed=7, threads=t, chunk_size=c, keep_draws=True)
        for t, c in ((1, 2**20), (2, 2**20), (2, 8192), (1, 4096 * 3))
    ]
    first = runs[0].dataset
    for other in runs[1:]:
        np.testing.assert_array_equal(
            first["input_draws"].values, other.dataset["input_draws"].values
        )
        np.testing.assert_array_equal(
            first["total_draws"].values, other.dataset["total_draws"].values
        )
    # summaries are bit-identical for any thread count (same chunking)
    for var in ("mean", "sd", "mcse", "p_net_positive", "item_mean"):
        np.testing.assert_array_equal(first[var].values, runs[1].dataset[var].values)


def test_streaming_summaries_identical_for_threads(reference: mkba_sim.Model) -> None:
    a = mkba_sim.simulate(reference, draws=300_000, seed=9, threads=1)
    b = mkba_sim.simulate(reference, draws=300_000, seed=9, threads=2)
    for var in (
        "mean",
        "sd",
        "net_quantile",
        "bcr_quantile",
        "net_hist_counts",
        "bcr_hist_counts",
        "p_net_positive",
        "stakeholder_mean",
        "stakeholder_quantile",
        "p_stakeholder_positive",
        "net_year_mean",
    ):
        np.testing.assert_array_equal(a.dataset[var].values, b.dataset[var].values)


def test_histogram_buffers_fold_before_they_could_overflow(
    reference: mkba_sim.Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    # thread histograms hold 32-bit counts and are folded into 64-bit totals before a
    # task could overflow them; with a tiny limit every task folds, and the result must
    # be the same as with no fold at all
    from mkba_sim.engine import run

    plain = mkba_sim.simulate(reference, draws=100_000, seed=9, threads=2)
    monkeypatch.setattr(run, "COUNT_MAX", 3 * 4096)
    folded = mkba_sim.simulate(reference, draws=100_000, seed=9, threads=2)
    for var in ("net_hist_counts", "bcr_hist_counts", "net_quantile", "stakeholder_quantile"):
        np.testing.assert_array_equal(plain.dataset[var].values, folded.dataset[var].values)
    assert int(folded.dataset["net_hist_counts"].values.sum()) == 100_000


def test_numpy_reference_path_agrees(reference: mkba_sim.Model) -> None:
    fast = mkba_sim.simulate(reference, draws=30_000, seed=2, keep_draws=True)
    ref = mkba_sim.simulate(reference, draws=30_000, seed=2, keep_draws=True, backend="numpy")
    np.testing.assert_allclose(
        fast.dataset["input_draws"].values, ref.dataset["input_draws"].values, rtol=1e-12
    )
    np.testing.assert_allclose(
        fast.dataset["total_draws"].values, ref.dataset["total_draws"].values, rtol=1e-9
    )
    np.testing.assert_allclose(fast.dataset["mean"].values, ref.dataset["mean"].values, rtol=1e-9)
    np.testing.assert_array_equal(
        fast.dataset["p_net_positive"].values, ref.dataset["p_net_positive"].values
    )


@pytest.mark.parametrize("sampler", ["lhs", "sobol"])
def test_quasi_random_designs(reference: mkba_sim.Model, sampler: str) -> None:
    n = 2**16
    res = mkba_sim.simulate(reference, draws=n, seed=4, sampler=sampler)
    net = res.summary("base")["net"]
    # QMC/LHS errors are at most the plain-MC standard error for this smooth model
    assert abs(net["mean"] - REFERENCE_MEAN) < 4 * net["mcse"]
    assert res.dataset.attrs["sampler"] == sampler


def test_sobol_beats_monte_carlo_on_a_linear_model(tmp_path: Path) -> None:
    model = _load(NORMALS, tmp_path)
    errs = {}
    for sampler in ("mc", "sobol"):
        e = [
            abs(
                mkba_sim.simulate(model, draws=2**12, seed=s, sampler=sampler).summary("base")[
                    "net"
                ]["mean"]
                - 200.0
            )
            for s in range(8)
        ]
        errs[sampler] = float(np.sqrt(np.mean(np.square(e))))
    assert errs["sobol"] < errs["mc"] / 3


def test_gaussian_copula_correlation(tmp_path: Path) -> None:
    model = _load(CORRELATED, tmp_path)
    n = 100_000
    res = mkba_sim.simulate(model, draws=n, seed=8, keep_draws=True)
    x = res.dataset["input_draws"].values
    r = np.corrcoef(x[:, 0], x[:, 1])[0, 1]
    # se of a Pearson correlation ≈ (1 - rho²) / sqrt(n)
    assert abs(r - 0.6) < 4 * (1 - 0.36) / math.sqrt(n)
    # the net sd reflects the correlation: var = 300² + 400² - 2·0.6·300·400
    sd = math.sqrt(300**2 + 400**2 - 2 * 0.6 * 300 * 400)
    assert abs(res.summary("base")["net"]["sd"] - sd) < 4 * sd / math.sqrt(2 * n)


SKEWED = """
[model]
title = "skewed marginals"
price_year = 2020
horizon_years = 1
discount_rate = 0.0

[parameters.a]
dist = "lognormal"
median = 1000
sigma = 1.0
published = 1000
source = "test"

[parameters.b]
dist = "gamma"
shape = 0.8
rate = 0.01
published = 80
source = "test"

[[items]]
name = "gain"
side = "benefit"
stakeholder = "x"
value = "a"
years = [1]

[[items]]
name = "cost"
side = "cost"
stakeholder = "y"
value = "b"
years = [1]

[[correlations]]
kind = "spearman"
names = ["a", "b"]
matrix = [[1.0, -0.5], [-0.5, 1.0]]
"""


def test_rank_correlation_holds_for_skewed_marginals(tmp_path: Path) -> None:
    """kind = "spearman" gives the requested rank correlation whatever the marginals."""
    model = _load(SKEWED, tmp_path)
    n = 100_000
    res = mkba_sim.simulate(model, draws=n, seed=9, keep_draws=True)
    x = res.dataset["input_draws"].values
    rho_s = stats.spearmanr(x[:, 0], x[:, 1]).statistic
    # se of Spearman's rho ≈ 1.06^(1/2) (1 - rho²) / sqrt(n) (Fieller et al. 1957)
    assert abs(rho_s + 0.5) < 4 * math.sqrt(1.06) * (1 - 0.25) / math.sqrt(n)
    # the marginals are untouched by the copula
    assert abs(np.median(x[:, 0]) - 1000) < 0.02 * 1000
    assert abs(x[:, 1].mean() - 80) < 4 * math.sqrt(0.8) / 0.01 / math.sqrt(n)


def test_discounting_and_decay_are_exact(tmp_path: Path) -> None:
    text = """
[model]
title = "time"
price_year = 2020
horizon_years = 3
discount_rate = 0.03

[parameters.v]
dist = "fixed"
value = 1000
source = "test"

[[items]]
name = "flow"
side = "benefit"
stakeholder = "x"
value = "v"
years = [1, 2, 3]
decay = 0.1
"""
    model = _load(text, tmp_path)
    res = mkba_sim.simulate(model, draws=4096, seed=1)
    expected = sum(1000 * 0.9 ** (t - 1) / 1.03 ** (t - 1) for t in (1, 2, 3))
    assert res.summary("base")["net"]["mean"] == pytest.approx(expected, rel=1e-12)
    pv_year = res.dataset["net_year_mean"].sel(scenario="base").values
    np.testing.assert_allclose(pv_year, [1000, 900 / 1.03, 810 / 1.03**2], rtol=1e-12)


def test_precision_control_stops_early(reference: mkba_sim.Model) -> None:
    res = mkba_sim.simulate(
        reference, draws=50_000_000, seed=1, target_mcse_p=0.001, chunk_size=2**16
    )
    s = res.summary("base")
    assert res.dataset.attrs["n_draws"] < 50_000_000
    assert s["p_net_positive_mcse"] <= 0.001


def test_scenarios_share_random_numbers(tmp_path: Path) -> None:
    text = (
        NORMALS
        + """
[scenarios.cheaper]
description = "b halved"
derived = {}
[scenarios.cheaper.parameters.b]
dist = "normal"
mean = 400
sd = 200
published = 400
source = "test"
"""
    )
    model = _load(text, tmp_path)
    res = mkba_sim.simulate(model, draws=20_000, seed=6, keep_draws=True)
    ds = res.dataset
    b_base = ds["input_draws"].sel(input="b").values
    b_cheap = ds["input_draws"].sel(input="b@cheaper").values
    # common random numbers: the same uniform, so b_cheap = b_base / 2 exactly (up to the
    # quantile table's interpolation)
    np.testing.assert_allclose(b_cheap, b_base / 2, rtol=1e-9, atol=1e-6)


def test_posterior_draws_from_file_are_joint(tmp_path: Path) -> None:
    import xarray as xr

    rng = np.random.default_rng(0)
    x = rng.normal(size=1000)
    xr.Dataset({"x": ("sample", x), "y": ("sample", 2 * x)}).to_netcdf(
        tmp_path / "post.nc", engine="h5netcdf"
    )
    model = _load(POSTERIOR, tmp_path)
    res = mkba_sim.simulate(model, draws=10_000, seed=1, keep_draws=True)
    ds = res.dataset
    np.testing.assert_array_equal(
        ds["input_draws"].sel(input="y").values, 2 * ds["input_draws"].sel(input="x").values
    )
    assert set(np.unique(ds["input_draws"].sel(input="x").values)) <= set(x)


def test_save_load_roundtrip_with_provenance(reference: mkba_sim.Model, tmp_path: Path) -> None:
    res = mkba_sim.simulate(reference, draws=10_000, seed=1)
    path = mkba_sim.save_result(res, tmp_path / "out" / "r.nc")
    back = mkba_sim.load_result(path)
    attrs = back.dataset.attrs
    for key in (
        "model_sha256",
        "seed",
        "n_draws",
        "sampler",
        "mkba_sim_version",
        "numba_version",
        "created",
    ):
        assert key in attrs
    assert attrs["model_sha256"] == reference.sha256
    assert back.summary("base") == res.summary("base")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["r.nc"]


def test_interrupted_write_leaves_no_file(tmp_path: Path) -> None:
    from mkba_sim.io.atomic import atomic_path

    target = tmp_path / "r.nc"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"draws": 1}, "draws"),
        ({"draws": 10, "sampler": "grid"}, "sampler"),
        ({"draws": 10, "threads": 0}, "threads"),
        ({"draws": 10, "seed": -1}, "seed"),
        ({"draws": 10, "sampler": "sobol", "target_mcse_p": 0.01}, "precision"),
        ({"draws": 10, "scenarios": ("nope",)}, "scenario"),
    ],
)
def test_bad_run_arguments(reference: mkba_sim.Model, kwargs: dict, message: str) -> None:
    with pytest.raises(SimulationError, match=message):
        mkba_sim.simulate(reference, **kwargs)
