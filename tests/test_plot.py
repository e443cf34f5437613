"""mkba_sim.plot: every function draws on the Axes it is given, from the right numbers."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import mkba_sim
from conftest import REPO
from mkba_sim import plot

NAZORG = str(REPO / "models" / "nazorg_plus.toml")


@pytest.fixture(scope="module")
def run() -> Any:
    return mkba_sim.simulate(NAZORG, draws=20_000, seed=2, scenarios=["base", "variant_b"])


@pytest.fixture(scope="module")
def kept() -> Any:
    return mkba_sim.simulate(NAZORG, draws=5_000, seed=2, scenarios=["base"], keep_draws=True)


@pytest.fixture(scope="module")
def analysis() -> Any:
    return mkba_sim.analyse(
        NAZORG,
        draws=5_000,
        seed=2,
        options=mkba_sim.AnalysisOptions(
            tornado_draws=2**11, global_sensitivity=False, sweep_points=3
        ),
    )


def _new_ax() -> Any:
    from matplotlib.figure import Figure

    return Figure().add_subplot()


def test_import_is_light() -> None:
    code = "import sys, mkba_sim.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_net_distribution_shares_and_marks(run: Any) -> None:
    ax = _new_ax()
    got = plot.net_distribution(
        run, "base", published={"central": 36_125.0, "low": None}, lang="nl", ax=ax
    )
    assert got is ax
    heights = np.array([p.get_height() for p in ax.patches])
    xs = np.array([p.get_x() + p.get_width() / 2 for p in ax.patches])
    s = run.summary("base")
    # the bars add up to the share of draws inside the plotted range (nearly all)
    assert 0.97 < heights.sum() <= 1.0 + 1e-9
    # the blue bars (net > 0) hold P(net > 0) up to the part outside the range
    assert heights[xs > 0].sum() == pytest.approx(s["p_net_positive"], abs=0.02)
    lines = [ln.get_xdata()[0] for ln in ax.lines]
    assert 0.0 in lines and 36_125.0 in lines
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(lbl.startswith("P(saldo > 0) = ") and "," in lbl for lbl in labels)


def test_net_distribution_from_kept_draws(kept: Any) -> None:
    ax = plot.net_distribution(kept, "base", bins=30)
    heights = np.array([p.get_height() for p in ax.patches])
    assert len(heights) == 30
    assert heights.sum() == pytest.approx(1.0, abs=0.03)


def test_tornado_bars_follow_the_dataset(analysis: Any) -> None:
    ax = plot.tornado(analysis, top=3, ax=_new_ax())
    ds = analysis.dataset
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        str(x).replace("_", " ") for x in ds["input"].values[:3]
    ]
    centre = float(ds["net_mean"])
    bars = ax.patches[:6]
    ends = sorted(round(b.get_x() + b.get_width()) for b in bars)
    expected = sorted(round(float(v)) for v in np.ravel(ds["tornado_net_mean"].values[:3]))
    assert ends == expected
    assert all(b.get_x() == pytest.approx(centre) for b in bars)


def test_evppi_and_variance_share(analysis: Any) -> None:
    ax = plot.evppi(analysis, kind="variance_share", ax=_new_ax())
    widths = [p.get_width() for p in ax.patches]
    assert widths == sorted(widths, reverse=True)
    assert max(widths) == pytest.approx(float(np.nanmax(analysis.dataset["variance_share"])))
    with pytest.raises(ValueError, match="kind"):
        plot.evppi(analysis, kind="delta")


def test_break_even_curves(analysis: Any) -> None:
    ds = analysis.dataset
    ax = plot.break_even(analysis, ax=_new_ax())
    np.testing.assert_allclose(ax.lines[0].get_ydata(), ds["cost_p_positive"].values)
    ax = plot.break_even(analysis, kind="mean", lang="nl", ax=_new_ax())
    np.testing.assert_allclose(ax.lines[0].get_ydata(), ds["cost_net_mean"].values)
    assert "Totale kosten" in ax.get_xlabel()


def test_enbs_curve(analysis: Any) -> None:
    """Population EVSI, cost and ENBS against n; an analysis without EVSI says why."""
    with pytest.raises(ValueError, match="no EVSI: scenario 'base' has no input"):
        plot.enbs(analysis, ax=_new_ax())
    opts = mkba_sim.AnalysisOptions(
        tornado_draws=2**10, global_sensitivity=False, sweep_points=2, evsi_sizes=(12, 40, 69)
    )
    bayes = mkba_sim.analyse(NAZORG, scenario="bayesian", draws=5_000, seed=2, options=opts)
    ds = bayes.dataset
    ax = plot.enbs(bayes, lang="nl", ax=_new_ax())
    value, cost, net, _zero, best = ax.lines[:5]
    np.testing.assert_allclose(value.get_xdata(), [12, 40, 69])
    np.testing.assert_allclose(value.get_ydata(), ds["evsi_population"].values)
    np.testing.assert_allclose(cost.get_ydata(), ds["study_cost"].values)
    np.testing.assert_allclose(net.get_ydata(), ds["enbs"].values)
    assert best.get_xdata()[0] == int(ds["enbs_best_n"])
    assert "Deelnemers" in ax.get_xlabel()


def test_stakeholders_and_years(run: Any) -> None:
    s = run.summary("variant_b")["stakeholders"]
    ax = plot.stakeholders(run, "variant_b", ax=_new_ax())
    means = [ln.get_xdata()[0] for ln in ax.lines if ln.get_marker() == "o"]
    assert means == pytest.approx([v["mean"] for v in s.values()])
    ax = plot.net_per_year(run, "base", ax=_new_ax())
    heights = [p.get_height() for p in ax.patches]
    assert sum(heights) == pytest.approx(run.summary("base")["net"]["mean"], rel=1e-9)


def test_svg_is_inline_and_stable(run: Any) -> None:
    a = plot.to_svg(plot.net_per_year(run, "base").figure)
    b = plot.to_svg(plot.net_per_year(run, "base").figure)
    assert a.startswith("<svg") and a.rstrip().endswith("</svg>")
    assert "<?xml" not in a and "<dc:date>" not in a
    assert a == b  # same figure, same bytes


def test_dutch_tick_labels(run: Any) -> None:
    ax = plot.stakeholders(run, "base", lang="nl")
    ax.figure.canvas.draw() if hasattr(ax.figure.canvas, "draw") else None
    fmt = ax.xaxis.get_major_formatter()
    assert fmt(-125_000.0) == "\u2212125.000"
    assert plot.figures._fmt(1234.5, "en", 1) == "1,234.5"


def test_unknown_language(run: Any) -> None:
    with pytest.raises(ValueError, match="unknown language"):
        plot.net_per_year(run, "base", lang="fr")
