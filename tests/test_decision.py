"""Decision analysis end to end: tornado, global sensitivity, EVPI/EVPPI, break-even,
stakeholders — against closed forms of a linear model, and from the command line.

The model is net = a - b with a ~ N(1000, 300) (benefit) and b ~ N(800, 400) (cost),
independent. Closed forms: net ~ N(200, 500); EVPI = σφ(μ/σ) + μΦ(μ/σ) − max(μ, 0);
first-order variance shares 300²/500² = 0.36 and 400²/500² = 0.64. Tolerances are 4
Monte Carlo standard errors (seeds fixed) or, for regression-based shares, the bias
bound stated in :func:`mkba_sim.analysis.variance_shares` plus 4 sd.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import mkba_sim
from conftest import run_cli
from mkba_sim import AnalysisOptions

REPO = Path(__file__).resolve().parent.parent

LINEAR = """
[model]
title = "linear"
price_year = 2020
horizon_years = 1
discount_rate = 0.0

[parameters.a]
dist = "normal"
mean = 1000
sd = 300
published = 1000
published_low = 500
published_high = 1500
source = "test"

[parameters.b]
dist = "normal"
mean = 800
sd = 400
published = 800
source = "test"

[parameters.unused]
dist = "normal"
mean = 1
sd = 1
published = 1
source = "test"

[[items]]
name = "gain"
side = "benefit"
stakeholder = "society"
value = "a"
years = [1]

[[items]]
name = "cost"
side = "cost"
stakeholder = "municipality"
value = "b"
years = [1]
"""

N = 100_000


@pytest.fixture(scope="module")
def analysis() -> dict:
    model = mkba_sim.loads_model(LINEAR)
    res = mkba_sim.analyse(model, draws=N, seed=3, options=AnalysisOptions(sobol_draws=2**15))
    return res.to_dict()


def test_tornado_against_closed_forms(analysis: dict) -> None:
    rows = {r["input"]: r for r in analysis["tornado"]}
    assert set(rows) == {"a", "b"}  # "unused" is not in the ledger
    assert [r["input"] for r in analysis["tornado"]] == ["b", "a"]  # sorted by swing
    z = stats.norm.ppf(0.95)
    a, b = rows["a"], rows["b"]
    np.testing.assert_allclose(a["value"], [1000 - 300 * z, 1000 + 300 * z], rtol=1e-4)
    # point tornado: the others at their published values, exact
    np.testing.assert_allclose(a["net_point"], [200 - 300 * z, 200 + 300 * z], rtol=1e-4)
    np.testing.assert_allclose(a["net_published"], [500 - 800, 1500 - 800])
    # probabilistic: E[net | a = q] = q - 800, within 4 MCSE (b's sd over 2^16 draws)
    se = 400 / math.sqrt(2**16)
    assert abs(a["net_mean"][1] - (1000 + 300 * z - 800)) < 4 * se
    p_high = stats.norm.cdf((1000 + 300 * z - 800) / 400)
    assert abs(a["p_positive"][1] - p_high) < 4 * math.sqrt(p_high * (1 - p_high) / 2**16)
    assert b["low_gives_higher"] and not a["low_gives_higher"]
    assert a["crosses_zero"] and b["crosses_zero"]


def test_value_of_information_and_shares(analysis: dict) -> None:
    mu, sigma = 200.0, 500.0
    closed = sigma * stats.norm.pdf(mu / sigma) + mu * stats.norm.cdf(mu / sigma) - mu
    e = analysis["evpi"]
    assert abs(e["per_decision"] - closed) < 4 * e["mcse"]
    assert e["population"] == pytest.approx(10 * e["per_decision"])  # r = 0, 10 cohorts
    rows = {r["input"]: r for r in analysis["tornado"]}
    assert rows["a"]["variance_share"] == pytest.approx(0.36, abs=0.02)
    assert rows["b"]["variance_share"] == pytest.approx(0.64, abs=0.02)
    for r in rows.values():
        assert 0 <= r["evppi"] <= e["per_decision"] + 1e-9
    # the linear EVPPI of one input: the EVPI formula with sigma = that input's sd
    for name, sd in (("a", 300.0), ("b", 400.0)):
        lin = sd * stats.norm.pdf(mu / sd) + mu * stats.norm.cdf(mu / sd) - mu
        assert abs(rows[name]["evppi"] - lin) < 4 * rows[name]["evppi_se"] + 0.02 * lin
    groups = {g["group"]: g for g in analysis["groups"]}
    for name, share in (("a", 0.36), ("b", 0.64)):
        g = groups[name]
        assert abs(g["sobol_first"] - share) < 4 * g["sobol_first_se"] + 0.01
        assert abs(g["sobol_total"] - share) < 4 * g["sobol_total_se"] + 0.01


def test_break_even_and_stakeholders(analysis: dict) -> None:
    be = analysis["break_even"]
    se = 300 / math.sqrt(N)
    assert abs(be["cost_mean"] - 1000) < 4 * se  # E[benefits]
    # P(a - x > 0) = p  <=>  x = quantile of a at 1 - p
    for p, x in be["cost_at_p"].items():
        q = stats.norm.ppf(1 - float(p), 1000, 300)
        assert (
            abs(x - q)
            < 4 * 300 * math.sqrt(float(p) * (1 - float(p)) / N) / stats.norm.pdf((q - 1000) / 300)
            + 1
        )
    sw = analysis["sweep"]
    assert sw["input"] == "b" and sw["break_even_status"] == "once"
    assert abs(sw["break_even_mean"] - 1000) < 4 * se + 1  # E[net] = 1000 - b
    st = analysis["stakeholders"]
    p_neg = stats.norm.cdf(-2.0)  # P(-b > 0) = P(b < 0)
    assert abs(st["municipality"]["p_positive"] - p_neg) < 4 * math.sqrt(p_neg * (1 - p_neg) / N)
    assert st["society"]["p_positive"] > 0.99


def test_analyse_cli_on_both_seed_models(tmp_path: Path) -> None:
    for name in ("nazorg_plus", "reclasseren_in_de_buurt"):
        out = tmp_path / f"{name}.nc"
        proc = run_cli("analyse", f"models/{name}.toml", "--draws", "20000", "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        for needle in (
            "Tornado",
            "variance share",
            "EVPPI",
            "Sobol'",
            "EVPI (fund / not fund)",
            "Break-even programme cost",
            "Balance per stakeholder",
        ):
            assert needle in proc.stdout, (name, needle)
        ds = __import__("mkba_sim.io.netcdf", fromlist=["load_dataset"]).load_dataset(out)
        assert ds.attrs["producer"] == "mkba_sim.analysis" and "model_sha256" in ds.attrs
    proc = run_cli("analyse", "models/nazorg_plus.toml", "--draws", "20000", "--json")
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "mkba_sim.analysis/1"
    assert doc["tornado"][0]["input"] == "work_attribution"
    bad = run_cli(
        "analyse", "models/nazorg_plus.toml", "--draws", "20000", "--sweep", "work_atribution"
    )
    assert bad.returncode == 2 and "did you mean 'work_attribution'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_population_evpi_uses_the_scenarios_own_discount_rate() -> None:
    scenario = '[scenarios.discounted]\ndescription = "5%"\nmodel = { discount_rate = 0.05 }\n'
    text = LINEAR + "\n" + scenario
    model = mkba_sim.loads_model(text)
    opt = AnalysisOptions(tornado_draws=4096, sweep_points=3, global_sensitivity=False)
    e = mkba_sim.analyse(model, scenario="discounted", draws=8192, seed=3, options=opt)
    evpi = e.to_dict()["evpi"]
    factor = sum(1.05**-t for t in range(10))  # ten yearly cohorts, the first undiscounted
    assert evpi["population"] == pytest.approx(factor * evpi["per_decision"], rel=1e-12)
    assert factor < 10


def test_inputs_only_the_ledger_uses_are_analysed() -> None:
    """A derived quantity no item uses brings no input into the analysis: in nazorg-plus's
    `base` scenario (variant A) the police hours and detention-day cost feed only
    variant B's items, so they have no tornado bar (they would be zero-swing reruns)."""
    from mkba_sim.analysis.decision import uncertain_inputs

    model = mkba_sim.load_model(REPO / "models" / "nazorg_plus.toml")
    base = {i.name for i in uncertain_inputs(model, "base")}
    variant_b = {i.name for i in uncertain_inputs(model, "variant_b")}
    assert "work_attribution" in base
    assert {"hours_per_incident", "cost_per_detention_day"} <= variant_b
    assert not {"hours_per_incident", "cost_per_detention_day"} & base
