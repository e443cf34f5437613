"""The model language's declarations (issue 9, items 4-8).

Single-key scenario changes, perspectives and per-participant results, optional
``published`` with the deterministic base case, strict units with declared stakeholders,
and price years converted with the shipped CBS consumer-price index. Each test states
the exact figure it expects; Monte Carlo checks compare two paths over the *same* draws
(so they agree to rounding) or a closed form within 4 MCSE.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import mkba_sim
from conftest import run_cli
from mkba_sim import ModelFileError
from mkba_sim.distributions.conversions import d_to_besd
from mkba_sim.model.prices import cpi_table, price_factor
from mkba_sim.model.units import UnitError, parse_unit

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "models" / "examples" / "cbt_perspectives.toml"

HEAD = """
[model]
title = "declarations"
price_year = 2022
horizon_years = 3
discount_rate = 0.0
"""
BODY = """
[populations]
clients = 50

[parameters.cost]
dist = "normal"
mean = 1000
sd = 100
unit = "EUR/client"
source = "t"

[parameters.saving]
dist = "lognormal"
median = 400
sigma = 0.3
unit = "EUR/(client*year)"
source = "t"

[[items]]
name = "programme"
side = "cost"
stakeholder = "municipality"
value = "cost * clients"
years = [1]

[[items]]
name = "savings"
side = "benefit"
stakeholder = "justice"
value = "saving * clients"
years = [1, 2, 3]
decay = 0.2

[[items]]
name = "victims"
side = "benefit"
stakeholder = "victims"
value = "0.5 * saving * clients"
years = [1, 2, 3]
"""


def load(text: str) -> mkba_sim.Model:
    return mkba_sim.loads_model(text, path="m.toml")


def error(text: str) -> ModelFileError:
    with pytest.raises(ModelFileError) as info:
        load(text)
    return info.value


# --------------------------------------------------------------------------- 4: changes


def test_change_items_sets_one_key_and_keeps_the_rest() -> None:
    m = load(HEAD + BODY + "\n[scenarios.flat.change_items.savings]\ndecay = 0\n")
    base, flat = m.scenarios["base"].item("savings"), m.scenarios["flat"].item("savings")
    assert (base.decay, flat.decay) == (0.2, 0.0)
    assert (flat.years, flat.stakeholder, flat.side) == (base.years, base.stakeholder, base.side)
    pv = mkba_sim.base_case(m)
    # savings at the lognormal's mean, 400 exp(0.3^2 / 2) x 50 a year, for 3 years:
    # with decay 0.2 the weights are 1 + 0.8 + 0.64; without, 3
    yearly = 400 * math.exp(0.045) * 50
    assert pv[0].items[1][4] == pytest.approx(yearly * 2.44)
    assert pv[1].items[1][4] == pytest.approx(yearly * 3)


def test_change_parameters_merges_onto_the_base_definition() -> None:
    m = load(HEAD + BODY + "\n[scenarios.dear.change_parameters.cost]\nmean = 1500\n")
    p = m.scenarios["dear"].parameters["cost"]
    assert (p.dist.mean(), p.dist.sd) == (1500, 100)  # sd kept, mean changed
    assert p.unit == "EUR/client" and p.source == "t"
    # a new parametrisation of the same family replaces the old one
    m = load(HEAD + BODY + "\n[scenarios.s.change_parameters.saving]\nmu = 6.0\n")
    d = m.scenarios["s"].parameters["saving"].dist
    assert (d.mu, d.sigma) == (6.0, 0.3)


def test_change_parameters_follows_extends() -> None:
    m = load(
        HEAD
        + BODY
        + "\n[scenarios.a.change_parameters.cost]\nmean = 1500\n"
        + '\n[scenarios.b]\nextends = "a"\n[scenarios.b.change_parameters.cost]\nsd = 1\n'
    )
    d = m.scenarios["b"].parameters["cost"].dist
    assert (d.mean(), d.sd) == (1500, 1)


@pytest.mark.parametrize(
    ("extra", "key", "needle"),
    [
        (
            '[scenarios.s.change_items."saving"]\ndecay = 0\n',
            "scenarios.s.change_items.'saving'",
            "did you mean 'savings'",
        ),
        (
            "[scenarios.s.change_items.savings]\ndeacy = 0\n",
            "scenarios.s.change_items.'savings'.deacy",
            "did you mean 'decay'",
        ),
        (
            "[scenarios.s.change_items.savings]\nname = 'x'\n",
            "scenarios.s.change_items.'savings'.name",
            "cannot be changed",
        ),
        (
            "[scenarios.s.change_items.savings]\ndecay = 1.5\n",
            "scenarios.s.change_items.'savings'.decay",
            "fraction in [0, 1)",
        ),
        (
            "[scenarios.s.change_parameters.cots]\nmean = 1\n",
            "scenarios.s.change_parameters.cots",
            "did you mean 'cost'",
        ),
        (
            "[scenarios.s.change_parameters.cost]\nmaen = 1\n",
            "scenarios.s.change_parameters.cost.maen",
            "did you mean 'mean'",
        ),
    ],
)
def test_change_errors_name_the_key(extra: str, key: str, needle: str) -> None:
    err = error(HEAD + BODY + "\n" + extra)
    assert err.key == key
    assert needle in str(err)


def test_change_of_a_dropped_item_is_an_error() -> None:
    err = error(
        HEAD + BODY + '\n[scenarios.s]\ndrop_items = ["savings"]\n'
        "[scenarios.s.change_items.savings]\ndecay = 0\n"
    )
    assert "no item called 'savings'" in str(err)


# --------------------------------------------------------------------------- 5: perspectives

PERSP = """
[stakeholders]
municipality = "city budget"
justice = "police and courts"
victims = "victims of crime"

[perspectives.taxpayers]
stakeholders = ["municipality", "justice"]
[perspectives.others]
stakeholders = ["victims"]
"""


def test_perspectives_and_per_participant_in_the_base_case() -> None:
    head = HEAD.replace(
        "discount_rate = 0.0\n", 'discount_rate = 0.0\nper_participant = "clients"\n'
    )
    m = load(head + BODY + PERSP)
    (c,) = mkba_sim.base_case(m)
    assert c.perspectives["taxpayers"] == pytest.approx(
        c.stakeholders["municipality"] + c.stakeholders["justice"]
    )
    assert c.perspectives["others"] == pytest.approx(c.stakeholders["victims"])
    assert c.per_participant["net"] == pytest.approx(c.net / 50)
    assert c.per_participant["perspective taxpayers"] == pytest.approx(
        c.perspectives["taxpayers"] / 50
    )


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_perspective_statistics_follow_the_stakeholders(backend: str) -> None:
    head = HEAD.replace(
        "discount_rate = 0.0\n", 'discount_rate = 0.0\nper_participant = "clients"\n'
    )
    m = load(head + BODY + PERSP + "\n[scenarios.none]\npopulations = { clients = 0 }\n")
    r = mkba_sim.simulate(m, draws=20_000, seed=3, backend=backend)
    s = r.summary("base")
    st, pe = s["stakeholders"], s["perspectives"]
    # a perspective's mean is the sum of its stakeholders' means (same draws)
    assert pe["taxpayers"]["mean"] == pytest.approx(
        st["municipality"]["mean"] + st["justice"]["mean"], rel=1e-12
    )
    assert pe["others"]["p_positive"] == st["victims"]["p_positive"]
    assert pe["taxpayers"]["stakeholders"] == ["municipality", "justice"]
    per = s["per_participant"]
    assert per["participants"] == 50 and per["population"] == "clients"
    assert per["net"]["mean"] == pytest.approx(s["net"]["mean"] / 50, rel=1e-12)
    assert per["net"]["p_positive"] == s["p_net_positive"]
    assert per["perspectives"]["others"]["mean"] == pytest.approx(pe["others"]["mean"] / 50)
    # no participants: per-participant figures are undefined, the rest is fine
    none = r.summary("none")["per_participant"]
    assert none["net"]["mean"] is None and none["defined_fraction"] == 0.0


def test_numba_and_numpy_paths_agree_on_perspectives() -> None:
    head = HEAD.replace(
        "discount_rate = 0.0\n", 'discount_rate = 0.0\nper_participant = "clients"\n'
    )
    m = load(head + BODY + PERSP)
    a = mkba_sim.simulate(m, draws=8_192, seed=5, backend="numba", keep_draws=True).dataset
    b = mkba_sim.simulate(m, draws=8_192, seed=5, backend="numpy", keep_draws=True).dataset
    for v in ("perspective_mean", "per_participant_mean", "p_perspective_positive"):
        np.testing.assert_allclose(a[v].values, b[v].values, rtol=1e-12)


def test_perspectives_in_netcdf_json_and_tables(tmp_path: Path) -> None:
    out = tmp_path / "r.nc"
    res = run_cli("run", str(EXAMPLE), "--draws", "20000", "--seed", "1", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "balance per perspective" in res.stdout and "per participant" in res.stdout
    r = mkba_sim.load_result(out)
    ds = r.dataset
    assert list(ds["perspective"].values) == ["taxpayers", "participants", "others", "indirect"]
    assert ds["perspective_quantile"].dims == ("scenario", "perspective", "prob")
    assert ds["per_participant_mean"].attrs["units"] == "EUR/participant"
    assert float(ds["participants"].sel(scenario="base")) == 500
    doc = r.to_dict()["scenarios"]["base"]
    assert set(doc["perspectives"]) == {"taxpayers", "participants", "others", "indirect"}
    md = run_cli("run", str(EXAMPLE), "--draws", "5000", "--seed", "1", "--format", "md")
    assert "### perspectives" in md.stdout and "### per_participant" in md.stdout


def test_perspective_member_and_stakeholder_typos() -> None:
    err = error(HEAD + BODY + PERSP.replace('["victims"]', '["victim"]'))
    assert err.key == "perspectives.others.stakeholders[0]"
    assert "did you mean 'victims'" in str(err)
    err = error(HEAD + BODY.replace('stakeholder = "justice"', 'stakeholder = "justise"') + PERSP)
    assert err.key == "items[1] ('savings').stakeholder"
    assert "not a declared stakeholder; did you mean 'justice'" in str(err)
    # without [stakeholders]: a perspective member must be some item's stakeholder
    err = error(HEAD + BODY + '\n[perspectives.p]\nstakeholders = ["justic"]\n')
    assert "did you mean 'justice'" in str(err)
    err = error(HEAD.replace("discount_rate = 0.0\n", 'per_participant = "client"\n') + BODY)
    assert err.key == "model.per_participant" and "did you mean 'clients'" in str(err)


def test_similar_undeclared_stakeholders_warn() -> None:
    text = HEAD + BODY.replace('stakeholder = "victims"', 'stakeholder = "municipalty"')
    with pytest.warns(mkba_sim.errors.ModelWarning, match="looks like 'municipality'"):
        load(text)


# --------------------------------------------------------------------------- 6: published


def test_effect_size_published_defaults_to_the_conversion_of_its_estimate() -> None:
    extra = """
[parameters.effect]
dist = "effect_size"
d = 0.33
ci95 = [0.14, 0.53]
convert = "besd"
unit = "1"
source = "Suter & Bruns 2009"
"""
    m = load(HEAD + BODY + extra)
    p = m.base.parameters["effect"]
    assert p.published_default
    want = d_to_besd(np.array([0.33, 0.14, 0.53]))
    assert (p.published, p.published_low, p.published_high) == pytest.approx(tuple(want))
    assert round(p.published, 3) == 0.163  # "16%" as seed 000 prints it
    # other families: the mean of the distribution, no low/high
    cost = m.base.parameters["cost"]
    assert (cost.published, cost.published_low, cost.published_default) == (1000, None, True)


def test_replicate_without_published_prints_the_base_case_only(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(HEAD + BODY, encoding="utf-8")
    res = run_cli("replicate", str(path))
    assert res.returncode == 0, res.stderr
    assert "Deterministic base case" in res.stdout
    assert "0 of 0" not in res.stdout and "No published figures" in res.stdout
    # every item and total: programme 1,000 x 50 = 50,000
    assert "- programme" in res.stdout and "50,000" in res.stdout
    doc = json.loads(run_cli("replicate", str(path), "--json").stdout)
    assert doc["rows"] == [] and doc["all_match"] is True
    (case,) = doc["base_case"]
    assert case["costs"] == 50_000
    assert case["point_estimates"] == ["cost", "saving"]


def test_seed_models_still_replicate_and_show_their_base_case() -> None:
    for path in sorted((REPO / "models").glob("*.toml")):
        m = mkba_sim.load_model(path)
        assert all(r.matches for r in mkba_sim.replicate(m))
        cases = mkba_sim.base_case(m)
        assert [c.scenario for c in cases] == list(m.scenarios)
        base = cases[0]
        assert base.net == pytest.approx(base.benefits - base.costs)


# --------------------------------------------------------------------------- 7: units


def test_population_carries_its_unit() -> None:
    # EUR/event x clients is no money: the population no longer cancels any denominator
    err = error(HEAD + BODY.replace('unit = "EUR/client"', 'unit = "EUR/event"'))
    assert err.key == "items[0] ('programme').value"
    assert "client*eur/event" in str(err)
    # a declared unit replaces the name's singular
    text = HEAD + BODY.replace("clients = 50", 'clients = { value = 50, unit = "person" }')
    assert "person" in str(error(text))
    ok = text.replace('"EUR/client"', '"EUR/person"').replace("client*year", "person*year")
    assert load(ok).base.populations["clients"] == 50


def test_derived_unit_is_checked_where_declared() -> None:
    extra = '\n[derived]\nper_head = { expr = "cost * clients", unit = "EUR/client" }\n'
    err = error(HEAD + BODY + extra)
    assert err.key == "derived.per_head.unit"
    assert "declared eur/client but the expression gives eur" in str(err)


def test_unit_grammar() -> None:
    assert parse_unit("EUR/(client*year)") == parse_unit("euro / client / year")
    assert parse_unit("€/days") == parse_unit("EUR/day")
    with pytest.raises(UnitError, match="'/'"):
        parse_unit("euro per event")
    err = error(HEAD + BODY.replace('unit = "EUR/client"', 'unit = "euro per client"'))
    assert err.key == "parameters.cost.unit"


# --------------------------------------------------------------------------- 8: price years


def test_cpi_table_is_complete_and_based_on_2015() -> None:
    t = cpi_table()
    assert set(range(2010, 2026)) <= set(t)
    assert t[2015][0] == 100.0
    values = [t[y][0] for y in sorted(t)]
    assert values == sorted(values)  # no yearly deflation in the Netherlands 2010-2025
    assert price_factor(2016, 2022) == (100.32, 121.47)


def test_price_year_converts_every_use() -> None:
    text = HEAD + BODY.replace('unit = "EUR/client"\n', 'unit = "EUR/client"\nprice_year = 2016\n')
    m = load(text)
    (conv,) = m.price_conversions
    assert (conv.parameter, conv.from_year, conv.to_year) == ("cost", 2016, 2022)
    assert conv.factor == pytest.approx(121.47 / 100.32)
    (case,) = mkba_sim.base_case(m)
    assert case.costs == pytest.approx(50_000 * 121.47 / 100.32)
    r = mkba_sim.simulate(m, draws=20_000, seed=2, backend="numpy")
    cost = r.summary("base")["costs"]
    # mean of N(1000, 100) x 50 x factor, within 4 MCSE
    assert abs(cost["mean"] - 50_000 * conv.factor) < 4 * cost["mcse"]
    res = run_cli("replicate", "--json", str(EXAMPLE))
    conversions = json.loads(res.stdout)["price_conversions"]
    assert conversions[0]["factor"] == pytest.approx(130.31 / 106.16)


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("price_year = 2003\n", "covers 2010-"),
        ('price_year = "2016"\n', "must be a year"),
    ],
)
def test_price_year_errors(line: str, needle: str) -> None:
    err = error(HEAD + BODY.replace('unit = "EUR/client"\n', 'unit = "EUR/client"\n' + line))
    assert err.key == "parameters.cost.price_year"
    assert needle in str(err)


def test_price_year_needs_money() -> None:
    body = BODY.replace('unit = "EUR/(client*year)"\n', 'unit = "offence"\nprice_year = 2016\n')
    err = error(HEAD + body.replace("saving * clients", "saving * cost * clients"))
    assert err.key == "parameters.saving.price_year"
    assert "only an amount of money" in str(err)


def test_example_model_validates_and_replicates() -> None:
    res = run_cli("validate", str(EXAMPLE))
    assert res.returncode == 0, res.stderr
    res = run_cli("replicate", str(EXAMPLE))
    assert res.returncode == 0, res.stderr
    assert "per perspective: taxpayers" in res.stdout
    assert "2019 prices x CPI 130.31 / 106.16" in res.stdout


@pytest.mark.parametrize(
    ("pop", "key"),
    [
        ('clients = { value = "x" }', "populations.clients.value"),
        ('clients = { value = 5, units = "client" }', "populations.clients.units"),
        ('clients = { value = 5, unit = "per son" }', "populations.clients.unit"),
        ("clients = { value = -5 }", "populations.clients"),
    ],
)
def test_population_table_errors_name_the_key(pop: str, key: str) -> None:
    assert error(HEAD + BODY.replace("clients = 50", pop)).key == key


def test_rescale_names_rebuilds_every_node_without_recursion() -> None:
    from mkba_sim.model.expressions import evaluate, parse_expression
    from mkba_sim.model.prices import rescale_names

    expr = parse_expression("max(cost, 2 * saving) - -cost / 4 + sqrt(saving ** 2)")
    env = {"cost": 10.0, "saving": 3.0}
    scaled = rescale_names(expr, {"cost": 1.5})
    assert evaluate(scaled, env) == evaluate(expr, {"cost": 15.0, "saving": 3.0})
    assert rescale_names(expr, {}) is expr
    chain = parse_expression(" + ".join(["cost"] * 1000))
    assert evaluate(rescale_names(chain, {"cost": 2.0}), env) == 20_000.0


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (
            ("[scenarios.s.change_items.savings]\ndeacy = 0\n", ""),
            "scenarios.s.change_items.'savings'.deacy: unknown item key; did you mean 'decay'?",
        ),
        (
            ('unit = "EUR/client"', 'unit = "EUR/event"'),
            "items[0] ('programme').value: evaluates to client*eur/event",
        ),
        (
            ('stakeholder = "victims"', 'stakeholder = "victim"'),
            "'victim' is not a declared stakeholder; did you mean 'victims'?",
        ),
    ],
)
def test_cli_declaration_errors_are_one_line(
    tmp_path: Path, change: tuple[str, str], needle: str
) -> None:
    old, new = change
    text = HEAD + BODY + PERSP
    text = text + "\n" + old if not new else text.replace(old, new, 1)
    path = tmp_path / "m.toml"
    path.write_text(text, encoding="utf-8")
    res = run_cli("validate", str(path))
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and needle in res.stderr, res.stderr


def test_html_report_shows_perspectives_per_participant_and_price_years() -> None:
    import re

    from mkba_sim.report.html import render_html

    m = mkba_sim.load_model(EXAMPLE)
    r = mkba_sim.simulate(m, draws=10_000, seed=1, scenarios=["base"], backend="numpy")
    s = r.summary("base")
    for lang in ("nl", "en"):
        html = render_html(m, r, None, mkba_sim.replicate(m), lang=lang)
        for name, v in s["perspectives"].items():
            got = re.search(rf'data-perspective="{name}" data-value="([^"]+)"', html)
            assert got is not None and float(got.group(1)) == pytest.approx(v["mean"])
        assert 'id="per-participant-table"' in html
        net = re.search(r'id="per-participant-table">.*?data-value="([^"]+)"', html, re.S)
        assert net is not None
        assert float(net.group(1)) == pytest.approx(s["per_participant"]["net"]["mean"])
        assert 'data-input="programme_cost" data-factor="1.2275"' in html
