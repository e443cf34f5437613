"""The analysis-ready engine: numbers are data, overrides, one ledger, non-finite policy,
statistics per stakeholder, and a result that follows CF habits.

Statistical checks state their tolerance in Monte Carlo standard errors (4 MCSE) and use
fixed seeds.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import mkba_sim
from conftest import SQRT
from mkba_sim import Quantile
from mkba_sim.distributions import Normal
from mkba_sim.engine.codegen import kernel_key, kernel_source
from mkba_sim.engine.plan import make_plan
from mkba_sim.errors import SimulationError

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "benchmarks" / "reference_model.toml"

TWO_SCENARIOS = """
[model]
title = "structure"
price_year = 2020
horizon_years = 2
discount_rate = 0.03

[populations]
clients = 69

[parameters.salary]
dist = "normal"
mean = 99_000
sd = 5_000
published = 99_000
source = "test"

[parameters.gain]
dist = "lognormal"
median = 2_300
sigma = 0.25
published = 2_300
source = "test"

[[items]]
name = "staff"
side = "cost"
stakeholder = "municipality"
value = "salary"
years = [1]

[[items]]
name = "avoided"
side = "benefit"
stakeholder = "justice"
value = "clients * gain * 0.75"
years = [1, 2]
decay = 0.2

[scenarios.cheaper]
description = "same structure, other numbers"
populations = { clients = 80 }
parameters.salary = { dist = "normal", mean = 90_000, sd = 4_000, published = 90_000, source = "t" }
"""


ZERO_COSTS = """
[model]
title = "no costs"
price_year = 2020
horizon_years = 1

[parameters.g]
dist = "normal"
mean = 10
sd = 1
published = 10
source = "test"

[[items]]
name = "gain"
side = "benefit"
stakeholder = "society"
value = "g"
years = [1]

[[items]]
name = "nothing"
side = "cost"
stakeholder = "society"
value = 0
years = [1]

[[published]]
quantity = "bcr"
value = 1
source = "none"
"""


def _model(text: str) -> mkba_sim.Model:
    return mkba_sim.loads_model(text)


# --------------------------------------------------------------------- numbers are data


def test_changed_numbers_give_the_same_kernel() -> None:
    base = _model(TWO_SCENARIOS)
    changed = _model(
        TWO_SCENARIOS.replace("mean = 99_000", "mean = 98_000")
        .replace("clients = 69", "clients = 70")
        .replace("* 0.75", "* 0.5")
        .replace("decay = 0.2", "decay = 0.1")
        .replace("discount_rate = 0.03", "discount_rate = 0.04")
        .replace(
            'dist = "lognormal"\nmedian = 2_300\nsigma = 0.25',
            'dist = "gamma"\nmean = 2_300\nsd = 500',
        )
    )
    src = kernel_source(make_plan(base))
    assert src == kernel_source(make_plan(changed))
    # another scenario of the same structure, run alone, is the same kernel too
    alone = [kernel_source(make_plan(base, (s,))) for s in ("base", "cheaper")]
    assert alone[0] == alone[1]
    # no number of the model is in the source
    for number in ("99000", "69", "0.75", "2300", "0.03"):
        assert number not in src.replace("_", "")
    # a structural change is a new kernel
    added = TWO_SCENARIOS.replace(
        "[scenarios.cheaper]",
        '[[items]]\nname = "x"\nside = "cost"\nstakeholder = "municipality"\n'
        'value = "salary / 10"\nyears = [2]\n\n[scenarios.cheaper]',
    )
    assert kernel_key(kernel_source(make_plan(_model(added)))) != kernel_key(src)


def test_changed_value_reuses_the_compiled_kernel() -> None:
    first = mkba_sim.simulate(_model(TWO_SCENARIOS), draws=5_000, seed=1)
    changed = _model(TWO_SCENARIOS.replace("mean = 99_000", "mean = 98_000"))
    again = mkba_sim.simulate(changed, draws=5_000, seed=1)
    assert first.dataset.attrs["kernel_key"] == again.dataset.attrs["kernel_key"]
    # same random numbers: the cost difference is exactly the change of the mean
    d = again.summary("base")["costs"]["mean"] - first.summary("base")["costs"]["mean"]
    assert d == pytest.approx(-1_000, abs=1e-6)


# ------------------------------------------------------------------------- overrides


def test_override_equals_the_edited_file_under_common_random_numbers() -> None:
    model = mkba_sim.load_model(REFERENCE)
    edited = mkba_sim.loads_model(
        REFERENCE.read_text().replace(
            'dist = "normal"\nmean = 99_000\nsd = 5_000', 'dist = "fixed"\nvalue = 98_000'
        )
    )
    a = mkba_sim.simulate(model, draws=20_000, seed=3, overrides={"salary": 98_000})
    b = mkba_sim.simulate(edited, draws=20_000, seed=3)
    assert a.summary("base")["net"] == b.summary("base")["net"]
    assert a.dataset.attrs["kernel_key"] == b.dataset.attrs["kernel_key"]
    assert a.to_dict()["run"]["overrides"] == {"salary": "98000"}


def test_quantile_and_distribution_overrides() -> None:
    model = mkba_sim.load_model(REFERENCE)
    plain = mkba_sim.simulate(model, draws=8_192, seed=2, keep_draws=True)
    q = mkba_sim.simulate(
        model, draws=8_192, seed=2, keep_draws=True, overrides={"case_costs": Quantile(0.95)}
    )
    cc = q.dataset["input_draws"].sel(input="case_costs").values
    expected = stats.lognorm(s=0.25756026, scale=23_000).ppf(0.95)
    np.testing.assert_allclose(cc, expected, rtol=1e-12)
    # every other input keeps its draws (common random numbers)
    others = [i for i in plain.dataset["input"].values if i != "case_costs"]
    np.testing.assert_array_equal(
        plain.dataset["input_draws"].sel(input=others).values,
        q.dataset["input_draws"].sel(input=others).values,
    )
    wide = mkba_sim.simulate(
        model, draws=50_000, seed=2, keep_draws=True, overrides={"salary": Normal(99_000, 20_000)}
    )
    sd = float(np.std(wide.dataset["input_draws"].sel(input="salary").values, ddof=1))
    assert abs(sd - 20_000) < 4 * 20_000 / math.sqrt(2 * 50_000)


def test_override_of_a_population_and_bad_overrides() -> None:
    model = mkba_sim.load_model(REFERENCE)
    a = mkba_sim.simulate(model, draws=4_096, seed=1, overrides={"clients": 70})
    b = mkba_sim.loads_model(REFERENCE.read_text().replace("clients = 69", "clients = 70"))
    assert (
        a.summary("base")["net"] == mkba_sim.simulate(b, draws=4_096, seed=1).summary("base")["net"]
    )
    with pytest.raises(SimulationError, match="did you mean 'salary'"):
        mkba_sim.simulate(model, draws=10, overrides={"salry": 1})
    with pytest.raises(SimulationError, match="finite"):
        mkba_sim.simulate(model, draws=10, overrides={"salary": math.inf})
    with pytest.raises(SimulationError, match="number"):
        mkba_sim.simulate(model, draws=10, overrides={"clients": Quantile(0.5)})
    with pytest.raises(ValueError, match="0 < p < 1"):
        Quantile(1.5)


def test_cli_set_option(tmp_path: Path) -> None:
    from conftest import run_cli

    proc = run_cli(
        "run",
        str(REFERENCE),
        "--draws",
        "5000",
        "--seed",
        "1",
        "--json",
        "--set",
        "salary=98000",
        "--set",
        "case_costs=q0.95",
    )
    assert proc.returncode == 0, proc.stderr
    assert '"salary": "98000.0"' in proc.stdout
    bad = run_cli("run", str(REFERENCE), "--draws", "5000", "--set", "salary")
    assert bad.returncode == 2
    assert "NAME=NUMBER" in bad.stderr and "Traceback" not in bad.stderr


# ---------------------------------------------------------------------- one ledger


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_zero_costs_ratio_undefined_everywhere(backend: str) -> None:
    model = _model(ZERO_COSTS)
    rows = mkba_sim.replicate(model)
    assert math.isnan(rows[0].computed)  # undefined, not ±inf
    res = mkba_sim.simulate(model, draws=10_000, seed=1, backend=backend)
    s = res.summary("base")
    assert s["bcr"]["defined_fraction"] == 0.0
    assert s["bcr"]["mean"] is None and s["bcr"]["p_above_1"] is None
    assert s["p_net_positive"] == 1.0


def test_ledger_identities() -> None:
    res = mkba_sim.simulate(_model(TWO_SCENARIOS), draws=50_000, seed=4)
    for sc in ("base", "cheaper"):
        s = res.summary(sc)
        net = s["net"]["mean"]
        assert sum(v["mean"] for v in s["stakeholders"].values()) == pytest.approx(net, rel=1e-9)
        assert sum(s["net_per_year"].values()) == pytest.approx(net, rel=1e-9)
        assert s["benefits"]["mean"] - s["costs"]["mean"] == pytest.approx(net, rel=1e-9)


def test_stakeholder_probability_closed_form() -> None:
    # justice's balance is the benefit alone; municipality's is minus a normal salary
    text = (
        TWO_SCENARIOS.replace("clients * gain * 0.75", "gain - 2_400")
        .replace("decay = 0.2", "decay = 0.0")
        .replace("discount_rate = 0.03", "discount_rate = 0.0")
        .replace("[1, 2]", "[1]")
    )
    n = 200_000
    s = mkba_sim.simulate(_model(text), draws=n, seed=8).summary("base")
    p = stats.norm.cdf(math.log(2_400 / 2_300) / -0.25)  # P(gain > 2400)
    st = s["stakeholders"]["justice"]
    assert abs(st["p_positive"] - p) < 4 * math.sqrt(p * (1 - p) / n)
    assert st["p_positive_mcse"] == pytest.approx(math.sqrt(p * (1 - p) / n), rel=0.05)
    lo, hi = st["interval90"]
    q = stats.lognorm(s=0.25, scale=2_300).ppf([0.05, 0.95]) - 2_400
    assert lo == pytest.approx(q[0], abs=15) and hi == pytest.approx(q[1], abs=15)
    assert s["stakeholders"]["municipality"]["p_positive"] == 0.0


# ------------------------------------------------------------------ non-finite policy


def test_non_finite_stops_with_a_clear_message() -> None:
    with pytest.raises(SimulationError) as err:
        mkba_sim.simulate(_model(SQRT.format(mean=0, policy="")), draws=10_000, seed=1)
    msg = str(err.value)
    assert re.search(
        r"scenario 'base', draw \d+: derived\.rate is nan: sqrt of a negative "
        r"number \(-[\d.]+\) \(x = -[\d.]+\)",
        msg,
    ), msg
    assert 'non_finite = "drop"' in msg
    # the draw named is really the first bad one, whatever the threads
    draw = int(re.search(r"draw (\d+)", msg).group(1))  # type: ignore[union-attr]
    res = mkba_sim.simulate(
        _model(SQRT.format(mean=0, policy='non_finite = "drop"')),
        draws=max(draw + 1, 2),
        seed=1,
        keep_draws=True,
        threads=1,
    )
    x = res.dataset["input_draws"].sel(input="x").values
    assert x[draw] < 0 and np.all(x[:draw] >= 0)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_drop_policy_reports_and_uses_the_same_draws(backend: str) -> None:
    n = 100_000
    res = mkba_sim.simulate(
        _model(SQRT.format(mean=0, policy='non_finite = "drop"')), draws=n, seed=1, backend=backend
    )
    s = res.summary("base")
    assert abs(s["n_dropped"] / n - 0.5) < 4 * math.sqrt(0.25 / n)
    assert s["n_kept"] + s["n_dropped"] == n
    assert s["p_net_positive"] == s["bcr"]["p_above_1"]  # same kept draws
    # mean net over the kept draws: 1500 E[sqrt(X) | X > 0] - 1000
    e_sqrt = 2**0.25 * math.gamma(0.75) / math.sqrt(math.pi)  # E|X|^(1/2)
    assert abs(s["net"]["mean"] - (1500 * e_sqrt - 1000)) < 4 * s["net"]["mcse"]
    assert s["items"]["gain"]["mean"] - 1000 == pytest.approx(s["net"]["mean"], rel=1e-9)
    assert int(res.dataset["n_dropped"].sel(scenario="base")) == s["n_dropped"]
    assert f"{s['n_dropped']:,} draws" in mkba_sim_text(res)


def mkba_sim_text(res: mkba_sim.Result) -> str:
    from mkba_sim.report.text import run_summary

    return run_summary(res)


def test_fixed_impossible_value_stops_or_drops_everything() -> None:
    with pytest.raises(SimulationError, match=r"draw 0: derived\.rate"):
        mkba_sim.simulate(
            _model(SQRT.format(mean=0, policy="")), draws=100, seed=1, overrides={"x": -2}
        )
    res = mkba_sim.simulate(
        _model(SQRT.format(mean=0, policy='non_finite = "drop"')),
        draws=100,
        seed=1,
        overrides={"x": -2},
    )
    s = res.summary("base")
    assert s["n_kept"] == 0 and s["net"]["mean"] is None and s["p_net_positive"] is None
    assert "no draw kept" in mkba_sim_text(res)


def test_numpy_path_agrees_on_awkward_models() -> None:
    for text in (ZERO_COSTS, SQRT.format(mean=0, policy='non_finite = "drop"'), TWO_SCENARIOS):
        m = _model(text)
        a = mkba_sim.simulate(m, draws=20_000, seed=5).dataset
        b = mkba_sim.simulate(m, draws=20_000, seed=5, backend="numpy").dataset
        for var in ("mean", "sd", "p_net_positive", "n_kept", "stakeholder_mean", "bcr_mean"):
            np.testing.assert_allclose(a[var].values, b[var].values, rtol=1e-9, equal_nan=True)
        np.testing.assert_array_equal(a["net_hist_counts"].values, b["net_hist_counts"].values)


# ------------------------------------------------------------------------- the result


def test_result_follows_cf_habits(tmp_path: Path) -> None:
    res = mkba_sim.simulate(_model(TWO_SCENARIOS), draws=4_096, seed=11, keep_draws=True)
    ds = res.dataset
    for name, var in ds.variables.items():
        assert "long_name" in var.attrs, name
        if var.dtype.kind == "f" and name != "input_draws":  # inputs: see input_unit
            assert "units" in var.attrs, name
    for dim in ds.dims:
        assert dim in ds.coords, dim
    assert ds["mean"].attrs["units"] == "EUR" and ds["bcr_mean"].attrs["units"] == "1"
    assert "bcr" not in ds["quantity"].values  # euros and ratios are separate variables
    a = ds.attrs
    assert isinstance(a["seed"], int) and a["seed"] == 11
    assert isinstance(a["n_draws"], int) and isinstance(a["run_seconds"], float)
    assert a["producer"] == "mkba_sim.engine" and a["Conventions"].startswith("CF-")
    path = mkba_sim.save_result(res, tmp_path / "r.nc")
    back = mkba_sim.load_result(path)
    assert back.summary("cheaper") == res.summary("cheaper")
    assert back.dataset.attrs["seed"] == 11
    for name in ds.data_vars:
        np.testing.assert_array_equal(back.dataset[name].values, ds[name].values)


def test_threads_share_blocks_bit_identically() -> None:
    model = mkba_sim.load_model(REFERENCE)
    runs = [
        mkba_sim.simulate(model, draws=150_000, seed=9, threads=t, chunk_size=2**16).dataset
        for t in (1, 2, 3)
    ]
    for other in runs[1:]:
        for var in ("mean", "sd", "net_quantile", "stakeholder_mean", "net_hist_counts"):
            np.testing.assert_array_equal(runs[0][var].values, other[var].values)


def test_validate_and_replicate_name_non_finite_values(tmp_path: Path) -> None:
    from conftest import run_cli

    path = tmp_path / "bad.toml"
    path.write_text(SQRT.format(mean=0, policy="").replace("published = 1", "published = -2"))
    for cmd in ("validate", "replicate"):
        proc = run_cli(cmd, str(path))
        assert proc.returncode == 2, proc.stdout
        assert "derived.rate: is nan at the" in proc.stderr
        assert "sqrt of a negative number (-2)" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_undefined_ratio_is_printed_as_undefined(tmp_path: Path) -> None:
    from conftest import run_cli

    path = tmp_path / "zero.toml"
    path.write_text(ZERO_COSTS)
    proc = run_cli("replicate", str(path))
    assert proc.returncode == 1
    assert "undefined" in proc.stdout and "nan" not in proc.stdout.lower().replace("n/a", "")
    doc = run_cli("replicate", str(path), "--json")
    assert '"computed": null' in doc.stdout
