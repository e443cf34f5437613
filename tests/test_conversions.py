"""Effect-size conversions against their closed forms, with hypothesis round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import gammaln

from mkba_sim.distributions import conversions as cv

SETTINGS = settings(deadline=None, max_examples=200, derandomize=True)
Z95 = 1.959963984540054
Z90 = 1.6448536269514722

finite_d = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
open_r = st.floats(-0.999_999, 0.999_999, allow_nan=False)
prob = st.floats(1e-3, 1 - 1e-3, allow_nan=False)


# --------------------------------------------------------------------------- d <-> r, BESD


def test_d_to_r_closed_form() -> None:
    d = np.array([-1.0, 0.0, 0.2, 0.33, 0.5, 0.8, 2.0])
    np.testing.assert_allclose(cv.d_to_r(d), d / np.sqrt(d**2 + 4), rtol=1e-15)
    assert cv.d_to_r(2.0) == pytest.approx(1 / math.sqrt(2), rel=1e-15)
    np.testing.assert_array_equal(cv.d_to_besd(d), cv.d_to_r(d))


def test_besd_of_published_effect() -> None:
    """Suter & Bruns (2009): d = 0.33 [0.14, 0.53] shown as BESD 16% [7%, 26%]."""
    r = cv.d_to_besd(np.array([0.33, 0.14, 0.53]))
    assert [round(100 * x) for x in r] == [16, 7, 26]


@SETTINGS
@given(finite_d)
def test_d_r_round_trip(d: float) -> None:
    r = float(cv.d_to_r(d))
    assert -1 < r < 1
    # 1 - r² = 4 / (d² + 4) loses ~ eps (d² + 4) / 4 relative precision
    tol = 1e-14 * (d * d + 4)
    assert float(cv.d_from_r(r)) == pytest.approx(d, rel=tol, abs=1e-300)


@SETTINGS
@given(open_r)
def test_r_d_round_trip(r: float) -> None:
    assert float(cv.d_to_r(cv.d_from_r(r))) == pytest.approx(r, rel=1e-12, abs=1e-300)


@SETTINGS
@given(finite_d, finite_d)
def test_d_to_r_is_increasing(a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    assert cv.d_to_r(lo) <= cv.d_to_r(hi)


# --------------------------------------------------------------------------- Hedges' g


def _j_exact(df: float) -> float:
    """Hedges (1981) exact J = Γ(df/2) / (sqrt(df/2) Γ((df - 1)/2))."""
    return math.exp(gammaln(df / 2) - gammaln((df - 1) / 2)) / math.sqrt(df / 2)


@pytest.mark.parametrize("n", [4, 5, 10, 20, 50, 100, 1000])
def test_hedges_j_closed_form(n: int) -> None:
    df = n - 2
    j = cv.hedges_j(n)
    assert j == pytest.approx(1 - 3 / (4 * df - 1), rel=1e-15)
    # the approximation is O(df⁻²) from the exact J (1.3% at n = 4, 1e-4 at n = 20)
    assert abs(j - _j_exact(df)) / _j_exact(df) < 0.06 / df**2
    assert cv.g_to_d(0.5, n) == pytest.approx(0.5 / j, rel=1e-15)


def test_g_without_n_is_d() -> None:
    g = np.array([-0.3, 0.0, 0.4])
    np.testing.assert_array_equal(cv.g_to_d(g), g)


@pytest.mark.parametrize("n", [1, 2, 2.5, 3])
def test_hedges_j_needs_more_than_three(n: float) -> None:
    """J = 1 - 3/(4(n-2) - 1) is zero at n = 3 and negative below: refused."""
    with pytest.raises(ValueError, match="exceed 3"):
        cv.hedges_j(n)


@SETTINGS
@given(st.floats(-5, 5, allow_nan=False), st.floats(3.01, 1e6))
def test_g_to_d_keeps_sign_and_grows(g: float, n: float) -> None:
    d = float(cv.g_to_d(g, n))
    assert math.copysign(1, d) == math.copysign(1, g) or g == 0
    assert abs(d) >= abs(g)


# --------------------------------------------------------------------------- log OR


def test_log_or_chinn_closed_form() -> None:
    """Chinn (2000): ln OR = d π / √3 ≈ 1.81 d (logistic latent variable, sd π/√3)."""
    assert cv.d_to_log_or(1.0) == pytest.approx(math.pi / math.sqrt(3), rel=1e-15)
    assert cv.d_to_log_or(1.0) == pytest.approx(1.81, abs=5e-3)
    # a logistic latent variable shifted by d standard deviations has exactly this log OR
    shift = 0.5 * math.pi / math.sqrt(3)
    p0 = stats.logistic.sf(0.3)
    p1 = stats.logistic.sf(0.3 - shift)
    log_or = math.log(p1 / (1 - p1)) - math.log(p0 / (1 - p0))
    assert cv.d_to_log_or(0.5) == pytest.approx(log_or, rel=1e-12)


@SETTINGS
@given(finite_d)
def test_log_or_round_trip(d: float) -> None:
    assert float(cv.d_from_log_or(cv.d_to_log_or(d))) == pytest.approx(d, rel=1e-14, abs=1e-300)
    assert float(cv.d_to_log_or(cv.d_from_log_or(d))) == pytest.approx(d, rel=1e-14, abs=1e-300)


# --------------------------------------------------------------------------- se from CI


def test_se_from_ci_closed_form() -> None:
    assert cv.se_from_ci(0.14, 0.53) == pytest.approx(0.39 / (2 * Z95), rel=1e-14)
    assert cv.se_from_ci(0.14, 0.53, 0.9) == pytest.approx(0.39 / (2 * Z90), rel=1e-14)
    with pytest.raises(ValueError, match="inverted"):
        cv.se_from_ci(0.53, 0.14)
    with pytest.raises(ValueError, match="inverted"):
        cv.se_from_ci(0.2, 0.2)


@SETTINGS
@given(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(1e-6, 1e6, allow_nan=False),
    st.floats(0.05, 0.999, allow_nan=False),
)
def test_se_from_ci_inverts_a_normal_ci(mu: float, se: float, mass: float) -> None:
    lo, hi = stats.norm(mu, se).interval(mass)
    # hi - lo carries rounding of order eps (|mu| + se), divided by 2 z (z > 0.06)
    slack = 4e-16 * (abs(mu) + se) / (2 * 0.06)
    assert cv.se_from_ci(lo, hi, mass) == pytest.approx(se, rel=1e-8, abs=slack)


# --------------------------------------------------------------------------- success rates


def srd(d: float, p0: float) -> float:
    return float(cv.d_to_success_rate_difference(d, p0))


def test_success_rate_difference_closed_form() -> None:
    p0, d = 0.3, 0.33
    assert srd(d, p0) == pytest.approx(stats.norm.cdf(stats.norm.ppf(p0) + d) - p0, rel=1e-14)
    assert srd(0.0, p0) == pytest.approx(0.0, abs=1e-15)


def test_besd_overstates_even_at_fifty_percent() -> None:
    """At p₀ = 50% and small d the latent-normal difference is d φ(0) ≈ 0.40 d, while the
    BESD is d / sqrt(d² + 4) ≈ 0.50 d: their ratio tends to √(2/π) ≈ 0.798, not to 1.
    (The BESD is exact for a phi coefficient with 50/50 margins, not for a d.)"""
    for d in (1e-4, 1e-3):
        assert srd(d, 0.5) / float(cv.d_to_besd(d)) == pytest.approx(
            math.sqrt(2 / math.pi), rel=1e-6
        )
    # the published effect: BESD 16%, latent-normal success-rate difference 13%
    assert round(100 * float(cv.d_to_besd(0.33))) == 16
    assert round(100 * srd(0.33, 0.5)) == 13


@pytest.mark.parametrize(
    ("p0", "expected_pct", "besd_over_srd"),
    [
        # d = 0.33: where the BESD (16.3%) is off, by base rate
        (0.5, 12.9, 1.26),
        (0.3, 12.3, 1.32),
        (0.1, 7.1, 2.30),
        (0.05, 4.4, 3.68),
        (0.95, 2.6, 6.30),
    ],
)
def test_besd_is_further_off_away_from_fifty_percent(
    p0: float, expected_pct: float, besd_over_srd: float
) -> None:
    got = srd(0.33, p0)
    assert 100 * got == pytest.approx(expected_pct, abs=0.05)
    assert float(cv.d_to_besd(0.33)) / got == pytest.approx(besd_over_srd, rel=0.01)


@SETTINGS
@given(st.floats(1e-6, 2.0), prob)
def test_success_rate_difference_bounded_by_its_peak_and_by_besd(d: float, p0: float) -> None:
    """0 < Φ(Φ⁻¹(p₀) + d) − p₀ ≤ 2Φ(d/2) − 1 (peak at p₀ = Φ(−d/2)) < BESD for d < 2.37."""
    peak = 2 * stats.norm.cdf(d / 2) - 1
    got = srd(d, p0)
    assert 0 < got <= peak * (1 + 1e-12)
    assert peak < float(cv.d_to_besd(d))
    assert srd(d, float(stats.norm.cdf(-d / 2))) == pytest.approx(peak, rel=1e-9)


@SETTINGS
@given(st.floats(-3, 3, allow_nan=False), prob)
def test_success_rate_difference_symmetry(d: float, p0: float) -> None:
    """Swapping success and failure: srd(d, 1 - p₀) = -srd(-d, p₀)."""
    assert srd(d, 1 - p0) == pytest.approx(-srd(-d, p0), rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("p0", [0.0, 1.0, -0.1, 1.3])
def test_success_rate_difference_refuses_bad_base_rate(p0: float) -> None:
    with pytest.raises(ValueError, match="base_rate"):
        cv.d_to_success_rate_difference(0.3, p0)
