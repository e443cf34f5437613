"""Break-even by linear interpolation and acceptability with its binomial MCSE."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mkba_sim.analysis.breakeven import acceptability, acceptability_curve, break_even


def test_single_crossing_is_exact_for_a_line() -> None:
    x = np.linspace(0.0, 10.0, 11)
    res = break_even(x, 2.0 * x - 7.0)
    assert res.status == "once"
    assert res.value == pytest.approx(3.5)
    assert list(res.directions) == [1]


def test_level_and_falling_curve() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0])
    res = break_even(x, np.array([0.9, 0.7, 0.4, 0.1]), level=0.5)
    assert res.value == pytest.approx(1.0 + 0.2 / 0.3)
    assert list(res.directions) == [-1]


def test_never_crosses_gives_nan_and_flag() -> None:
    res = break_even([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert res.status == "none"
    assert math.isnan(res.value)
    assert res.crossings.size == 0


def test_several_crossings_are_all_returned() -> None:
    x = np.linspace(0.0, 2 * np.pi, 401)
    res = break_even(x, np.sin(x) + 0.1)
    assert res.status == "several"
    assert math.isnan(res.value)
    assert res.crossings.size == 2
    np.testing.assert_allclose(res.crossings, [np.pi + 0.1002, 2 * np.pi - 0.1002], atol=1e-3)
    assert list(res.directions) == [-1, 1]


def test_exact_zeros_and_touches() -> None:
    x = np.arange(7.0)
    y = np.array([0.0, 1.0, 0.0, 0.0, -1.0, 0.0, -2.0])
    res = break_even(x, y)
    # crossing where the zero run between +1 and -1 starts; x=0 and x=5 are touches
    assert res.status == "once" and res.value == 2.0
    np.testing.assert_array_equal(res.touches, [0.0, 3.0, 5.0])


def test_break_even_validates() -> None:
    with pytest.raises(ValueError, match="increasing"):
        break_even([0.0, 0.0, 1.0], [1.0, -1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        break_even([0.0, 1.0], [np.nan, 1.0])


def test_acceptability_and_its_mcse() -> None:
    rng = np.random.default_rng(0)
    net = rng.normal(0.3, 1.0, size=(400, 2000))
    res = acceptability(net, axis=1)
    p = 0.6179114221889526  # Phi(0.3)
    assert res.prob.shape == (400,)
    # the reported SE matches the spread over 400 replications (sd known to ~4 %)
    assert abs(res.prob.std(ddof=1) / res.se.mean() - 1) < 0.15
    assert abs(res.prob.mean() - p) < 4 * res.se.mean() / 20


def test_acceptability_curve_and_break_even_price() -> None:
    rng = np.random.default_rng(1)
    benefit = rng.lognormal(0.0, 0.5, 50_000)  # units per participant
    cost = 2.0
    prices = np.linspace(0.5, 5.0, 91)
    curve = acceptability_curve(benefit, cost, prices)
    assert curve.prob.shape == (91,)
    assert np.all(np.diff(curve.prob) >= 0)  # benefit > 0 in every draw: monotone
    res = break_even(prices, curve.prob, level=0.5)
    # P(price * B > 2) = 0.5 at price = 2 / median(B) = 2
    assert res.status == "once"
    assert res.value == pytest.approx(2.0, abs=0.02)
