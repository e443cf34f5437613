"""EVSI of a nazorg-plus follow-up study, end to end (Python and the command line).

The ``bayesian`` scenario's offences come from the recidivism sub-model's posterior; its
study (follow n new clients for two years) is simulated per kept draw from the posterior
draw that draw used. Checks: the bounds 0 <= EVSI <= EVPPI(p_treated, rho_treated) <=
EVPI; EVSI rising with n and reaching the EVPPI bound for a huge study (within 4
reported standard errors, ``K_SE``); ENBS = population EVSI - cost exactly; EVSI
omitted with a reason where no sub-model feeds the scenario. The posterior comes from
the user cache (fitted on first use, as in ``tests/test_bayesian_scenario.py``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import mkba_sim
from conftest import run_cli
from mkba_sim import AnalysisOptions
from mkba_sim.analysis.voi import population_evpi
from mkba_sim.bayes.studies import nazorg_follow_up
from mkba_sim.io.netcdf import load_dataset

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "models" / "nazorg_plus.toml"
K_SE = 4.0
FAST = {"global_sensitivity": False, "tornado_draws": 2**12, "sweep_points": 3}


@pytest.fixture(scope="module")
def bayesian() -> dict:
    opts = AnalysisOptions(evsi_sizes=(12, 30, 69, 100_000), **FAST)  # type: ignore[arg-type]
    return mkba_sim.analyse(
        MODEL, scenario="bayesian", draws=50_000, seed=4, options=opts
    ).to_dict()


def test_follow_up_statistics_have_the_model_moments() -> None:
    """Reoffenders ~ Binomial(n, p); offences = R + Poisson(2 rho R): means n p, n p (1 + 2 rho)."""
    rng = np.random.default_rng(1)
    m, n, p, rho = 200_000, 30, 0.4, 0.3
    x = nazorg_follow_up({"p_treated": np.full(m, p), "rho_treated": np.full(m, rho)}, n, 2.0, rng)
    assert x.shape == (m, 2)
    assert np.all(x[:, 1] >= x[:, 0]) and np.all(x[:, 0] <= n)
    for col, mean in ((0, n * p), (1, n * p * (1 + 2 * rho))):
        se = x[:, col].std() / math.sqrt(m)
        assert abs(x[:, col].mean() - mean) < K_SE * se


def test_evsi_bounds_growth_and_enbs(bayesian: dict) -> None:
    v = bayesian["evsi"]
    assert v["available"] and v["model"] == "nazorg_plus_recidivism"
    assert v["informs"] == ["p_treated", "rho_treated"]
    assert v["statistics"] == ["reoffenders", "offences"]
    evpi = bayesian["evpi"]["per_decision"]
    bound, bound_se = v["evppi_bound"], v["evppi_bound_se"]
    assert 0.0 <= bound <= evpi
    sizes = v["sizes"]
    assert [r["n"] for r in sizes] == [12, 30, 69, 100_000]
    values = np.array([r["evsi"] for r in sizes])
    ses = np.array([r["se"] for r in sizes])
    assert np.all(values >= 0.0) and np.all(values <= bound)
    # rising in n within MCSE, and a huge study is worth (almost) perfect information
    assert np.all(np.diff(values) >= -K_SE * np.hypot(ses[1:], ses[:-1]))
    assert abs(values[-1] - bound) <= K_SE * math.hypot(ses[-1], bound_se)
    # ENBS = EVSI x the population factor - (fixed + per client x n), exactly
    factor = float(population_evpi(1.0, 1.0, 10, 0.0225))
    cost = v["cost"]
    assert cost == {"fixed": 25_000.0, "per_participant": 250.0}
    for r in sizes:
        assert r["population"] == pytest.approx(r["evsi"] * factor, rel=1e-12)
        assert r["cost"] == pytest.approx(25_000 + 250 * r["n"])
        assert r["enbs"] == pytest.approx(r["population"] - r["cost"], rel=1e-12, abs=1e-9)
    best = max(sizes, key=lambda r: r["enbs"])
    assert v["best"]["n"] == best["n"] and v["best"]["worthwhile"] == (best["enbs"] > 0)


def test_evsi_omitted_with_a_reason() -> None:
    opts = AnalysisOptions(**FAST)  # type: ignore[arg-type]
    base = mkba_sim.analyse(MODEL, scenario="base", draws=5_000, options=opts).to_dict()
    assert base["evsi"]["available"] is False
    assert "no input from a Bayesian sub-model" in base["evsi"]["reason"]
    assert "--scenario bayesian" in base["evsi"]["reason"]
    off = AnalysisOptions(evsi=False, **FAST)  # type: ignore[arg-type]
    doc = mkba_sim.analyse(MODEL, scenario="bayesian", draws=5_000, options=off).to_dict()
    assert doc["evsi"] == {"available": False, "reason": "EVSI not asked for (evsi=False)"}


def test_evsi_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "a.nc"
    common = ("analyse", "models/nazorg_plus.toml", "--scenario", "bayesian", "--no-sobol")
    args = (*common, "--draws", "20000", "--study-sizes", "69,12", "--study-cost", "0")
    proc = run_cli(*args, "--study-cost-per-client", "0", "--json", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    v = json.loads(proc.stdout)["evsi"]
    assert [r["n"] for r in v["sizes"]] == [12, 69]
    for r in v["sizes"]:  # a free study: ENBS is the population EVSI
        assert r["cost"] == 0.0 and r["enbs"] == pytest.approx(r["population"])
    ds = load_dataset(out)
    assert list(ds["study_size"].values) == [12, 69]
    assert ds["evsi"].attrs["units"] == "EUR" and ds.attrs["evsi_available"] == 1
    np.testing.assert_allclose(ds["enbs"].values, [r["enbs"] for r in v["sizes"]])
    text = run_cli(*common, "--draws", "20000")
    assert text.returncode == 0, text.stderr
    assert "EVSI of a study that would follow n new nazorg-plus clients" in text.stdout
    assert "Upper bound: EVPPI of p_treated, rho_treated" in text.stdout
    base = run_cli("analyse", "models/nazorg_plus.toml", "--no-sobol", "--draws", "5000")
    assert "EVSI: omitted (scenario 'base' has no input" in base.stdout
    bad = run_cli(*common, "--study-sizes", "12,-3")
    assert bad.returncode == 2 and "--study-sizes" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_study_design_of_the_sub_model() -> None:
    """The study is paired with the very posterior draws the simulation uses."""
    from mkba_sim import fitting

    data = REPO / "models" / "data"
    d = fitting.study_design("nazorg_plus_recidivism", data_dir=data)
    assert d is not None
    assert (d.min_n, d.max_n, d.window_years) == (12, 69, 2.0)
    post = fitting.load_posterior(
        "nazorg_plus_recidivism", ["p_treated", "rho_treated"], data_dir=data
    )
    np.testing.assert_array_equal(d.draws["p_treated"], post["p_treated"])
    idx = np.array([0, 5, 5, d.n_posterior - 1])
    np.testing.assert_array_equal(d.parameters(idx)[:, 1], post["rho_treated"][idx])
    x = d.simulate(idx, 12, np.random.default_rng(0))
    assert x.shape == (4, 2) and np.all((x[:, 0] >= 0) & (x[:, 0] <= 12))
    with pytest.raises(ValueError, match="positive integer"):
        d.simulate(idx, 0, np.random.default_rng(0))


def test_report_states_the_value_of_a_study(tmp_path: Path) -> None:
    """Main scenario with a sub-model: its own EVSI, no "(scenario ...)" pointer; nl/en."""
    for lang, phrase in (("nl", "Een vervolgonderzoek dat 69"), ("en", "A follow-up study of 69")):
        html = mkba_sim.make_report(
            MODEL, lang=lang, scenarios=["bayesian"], draws=5_000, analysis_draws=5_000, seed=2
        )
        start = html.index('<p id="evsi" data-value="')
        para = html[start : html.index("</p>", start)]
        assert phrase in para and "(scenario bayesian" not in para
        assert 'data-figure="enbs"' in html


def test_evsi_is_reproducible() -> None:
    opts = AnalysisOptions(evsi_sizes=(12, 69), **FAST)  # type: ignore[arg-type]
    docs = [
        mkba_sim.analyse(MODEL, scenario="bayesian", draws=5_000, seed=9, options=opts).to_dict()
        for _ in range(2)
    ]
    assert docs[0]["evsi"] == docs[1]["evsi"]
