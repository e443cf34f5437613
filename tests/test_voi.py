"""EVPI, EVPPI and population EVPI against closed forms.

Tolerances come from the Monte Carlo standard error the estimators report (fixed seeds):
an estimate must lie within ``K_SE`` = 4 standard errors of the closed form (a false
alarm about 1 in 16,000 per check). The reported SEs were checked against the spread of
estimates over independent replications: for EVPI in ``test_evpi_se_matches_spread``
(in the test suite); for EVPPI of one input (n = 5000, 40 seeds, linear model) the
spread was 0.0083 against a mean reported SE of 0.0087, and the z-scores against the
closed form ranged from -2.9 to 1.8 (measured while writing this file).

Closed form used throughout: for net ~ Normal(mu, sigma^2) and a fund / not-fund
decision, E[max(net, 0)] - max(mu, 0) = sigma phi(mu/sigma) + mu Phi(mu/sigma) - max(mu, 0).
For net = a + sum_i b_i X_i with independent normal X_i, E[net | X_u] is normal with mean
mu and sd sqrt(sum_{i in u} b_i^2 sd_i^2), so EVPPI(u) has the same form.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from scipy import stats

from mkba_sim.analysis import voi
from mkba_sim.analysis.voi import ConditionalMean, evpi, evppi, population_evpi

K_SE = 4.0


def normal_evpi(mu: float, sigma: float) -> float:
    z = mu / sigma
    return sigma * stats.norm.pdf(z) + mu * stats.norm.cdf(z) - max(mu, 0.0)


def linear_sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(seed)
    sd = np.array([1.0, 2.0, 0.5, 1.5])
    b = np.array([1.0, 0.4, 1.0, 0.3])
    x = rng.normal(loc=[0.0, 1.0, -1.0, 0.0], scale=sd, size=(n, 4))
    a = 0.6 - b @ np.array([0.0, 1.0, -1.0, 0.0])  # so that E[net] = 0.6
    return a + x @ b, x, b * sd, 0.6


# ---------------------------------------------------------------------------- EVPI


@pytest.mark.parametrize(("mu", "sigma"), [(0.5, 2.0), (-1.0, 1.5), (3.0, 1.0)])
def test_evpi_normal_closed_form(mu: float, sigma: float) -> None:
    net = np.random.default_rng(11).normal(mu, sigma, 200_000)
    res = evpi(net)
    assert abs(float(res.evpi) - normal_evpi(mu, sigma)) <= K_SE * float(res.se)
    assert int(res.best) == (0 if mu > 0 else -1)


def test_evpi_se_matches_spread() -> None:
    # 300 independent replications along axis 0; draws on the last axis
    net = np.random.default_rng(5).normal(0.5, 1.0, size=(300, 4000))
    res = evpi(net, axis=-1)
    assert res.evpi.shape == (300,)
    spread = res.evpi.std(ddof=1)
    # the sd of 300 estimates is itself uncertain by about 1/sqrt(2 * 299) = 4 %
    assert abs(spread / res.se.mean() - 1.0) < 0.15
    z = (res.evpi - normal_evpi(0.5, 1.0)) / res.se
    assert abs(z.mean()) < K_SE / math.sqrt(300) * 1.5


def test_evpi_several_options_and_axes() -> None:
    rng = np.random.default_rng(3)
    net = rng.normal([[0.2], [0.3]], [[1.0], [2.0]], size=(2, 50_000))  # options x draws
    res = evpi(net.T, axis=0, option_axis=1)
    opts = np.vstack([net, np.zeros(net.shape[1])])
    brute = opts.max(axis=0).mean() - opts.mean(axis=1).max()
    assert float(res.evpi) == pytest.approx(brute, rel=1e-12)
    assert int(res.best) == 1
    # every option worse than not funding on average: "not fund" is best
    assert int(evpi(-np.abs(net), axis=1, option_axis=0).best) == -1


def test_evpi_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        evpi(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match="differ"):
        evpi(np.zeros((3, 3)), axis=0, option_axis=0)


# ---------------------------------------------------------------------------- EVPPI


@pytest.mark.parametrize("cols", [[0], [2], [0, 1], [0, 1, 3]])
def test_evppi_linear_closed_form(cols: list[int]) -> None:
    net, x, scaled_b, mu = linear_sample(20_000, seed=7)
    res = evppi(net, x[:, cols], seed=1)
    truth = normal_evpi(mu, float(np.sqrt(np.sum(scaled_b[cols] ** 2))))
    assert res.method == "spline"
    assert abs(res.evppi - truth) <= K_SE * res.se
    assert not res.clipped
    assert 0.0 <= res.evppi <= res.evpi
    # the variance share is the R^2 of the conditional mean
    share = np.sum(scaled_b[cols] ** 2) / np.sum(scaled_b**2)
    assert float(res.variance_share[0]) == pytest.approx(share, abs=0.02)


def test_evppi_of_all_inputs_is_evpi() -> None:
    net, x, _, _ = linear_sample(10_000, seed=8)
    res = evppi(net, x, seed=2)
    assert res.evppi == pytest.approx(res.evpi, rel=1e-3)


def test_evppi_never_falls_when_inputs_are_added() -> None:
    net, x, _, _ = linear_sample(10_000, seed=9)
    values = [evppi(net, x[:, : j + 1], seed=3) for j in range(4)]
    for small, large in itertools.pairwise(values):
        assert small.evppi <= large.evppi + K_SE * np.hypot(small.se, large.se)


def test_evppi_nonlinear_one_input() -> None:
    # E[net | x0] = 0.2 + sin(2 x0): needs a richer basis than the default 12 functions
    rng = np.random.default_rng(12)
    x = rng.normal(size=(20_000, 2))
    net = 0.2 + np.sin(2.0 * x[:, 0]) + 0.5 * x[:, 1]
    grid = np.linspace(-9.0, 9.0, 200_001)
    dens = stats.norm.pdf(grid)
    truth = np.trapezoid(np.maximum(0.2 + np.sin(2 * grid), 0.0) * dens, grid) - 0.2
    res = evppi(net, x[:, 0], seed=4)
    assert abs(res.evppi - truth) <= K_SE * res.se
    assert res.edf[0] > 12  # the basis was enlarged


def test_evppi_gp_for_five_inputs() -> None:
    rng = np.random.default_rng(13)
    b = np.array([1.0, 0.8, 0.6, 0.4, 0.3, 1.0])
    x = rng.normal(size=(2000, 6))
    net = 0.4 + x @ b
    res = evppi(net, x[:, :5], seed=5, gp_max_samples=500)
    assert res.method == "gp"
    assert res.n_used == 500
    assert res.se_regression == 0.0
    truth = normal_evpi(0.4, float(np.sqrt(np.sum(b[:5] ** 2))))
    assert abs(res.evppi - truth) <= K_SE * res.se


def test_evppi_several_options() -> None:
    net, x, _, _ = linear_sample(20_000, seed=10)
    two = np.column_stack([net, net - 1.0])  # the second variant is dominated
    one = evppi(net, x[:, 0], seed=6)
    both = evppi(two, x[:, 0], seed=6)
    assert both.evppi == pytest.approx(one.evppi, abs=K_SE * one.se)
    assert both.variance_share.shape == (2,)


def test_evppi_constant_input_is_worth_nothing() -> None:
    net, _, _, _ = linear_sample(2000, seed=1)
    res = evppi(net, np.ones(net.size))
    assert res.evppi == pytest.approx(0.0, abs=1e-12)
    assert res.method == "constant"
    assert res.dropped == (0,)


def test_evppi_rows_must_match() -> None:
    with pytest.raises(ValueError, match="same draws"):
        evppi(np.zeros(100), np.zeros((99, 1)))


def test_evppi_is_reproducible() -> None:
    net, x, _, _ = linear_sample(5000, seed=2)
    assert evppi(net, x[:, :2], seed=9) == evppi(net, x[:, :2], seed=9)


def test_evppi_clips_above_evpi_with_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    # a fit that overshoots (fitted values more spread than the data) must be flagged
    net, x, _, _ = linear_sample(2000, seed=3)

    def overshoot(y: np.ndarray, *_: object, **__: object) -> ConditionalMean:
        y = np.asarray(y).reshape(len(y), -1)
        return ConditionalMean(
            fitted=3.0 * (y - y.mean(axis=0)) + y.mean(axis=0),
            rows=np.arange(len(y), dtype=np.intp),
            method="spline",
            edf=np.ones(1),
            sigma=np.ones(1),
            draws=None,
            draw_rows=None,
            dropped=(),
        )

    monkeypatch.setattr(voi, "conditional_mean", overshoot)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = evppi(net, x[:, 0])
    assert res.clipped
    assert res.raw > res.evpi
    assert res.evppi == res.evpi
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)


# ----------------------------------------------------------------- population EVPI


def test_population_evpi_discounted_cohorts() -> None:
    got = population_evpi(2.0, 150, 10, 0.0225)
    assert float(got) == pytest.approx(sum(2.0 * 150 / 1.0225**t for t in range(10)))
    assert float(population_evpi(2.0, 150, 10, 0.0)) == pytest.approx(3000.0)
    grid = population_evpi(np.array([[1.0], [2.0]]), 100, 5, np.array([0.0, 0.03, 0.04]))
    assert grid.shape == (2, 3)
    # the continuous-time variant of the R package voi is within about r (relative)
    r, t = 0.03, 20
    cont = 100 / r * (1 - math.exp(-r * t))
    assert abs(float(population_evpi(1.0, 100, t, r)) / cont - 1) < r


def test_population_evpi_rejects_bad_horizon() -> None:
    with pytest.raises(ValueError, match="years"):
        population_evpi(1.0, 10, 0, 0.03)
