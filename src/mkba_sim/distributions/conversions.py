"""Effect-size conversions used to turn literature effects into model inputs.

References
----------
Rosenthal, R. & Rubin, D. B. (1982). A simple, general purpose display of magnitude of
experimental effect. *J. Educational Psychology* 74(2), 166-169. doi:10.1037/0022-0663.74.2.166
Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size. *J.
Educational Statistics* 6(2), 107-128. doi:10.3102/10769986006002107
Chinn, S. (2000). A simple method for converting an odds ratio to effect size for use in
meta-analysis. *Statistics in Medicine* 19, 3127-3131.
doi:10.1002/1097-0258(20001130)19:22<3127::AID-SIM784>3.0.CO;2-M
Borenstein, M. et al. (2009). *Introduction to Meta-Analysis*, ch. 7. Wiley.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mkba_sim.distributions.base import scipy_special, z_of_mass

__all__ = [
    "d_from_log_or",
    "d_from_r",
    "d_to_besd",
    "d_to_log_or",
    "d_to_r",
    "d_to_success_rate_difference",
    "g_to_d",
    "half_d",
    "hedges_j",
    "normal_cdf",
    "normal_quantile",
    "se_from_ci",
]

_PI_SQRT3 = math.pi / math.sqrt(3.0)


def d_to_r(d: ArrayLike) -> NDArray[np.float64]:
    """Point-biserial r from Cohen's d, equal groups: r = d / sqrt(d² + 4) (Borenstein 7.5)."""
    d = np.asarray(d, dtype=np.float64)
    return d / np.sqrt(d * d + 4.0)


def d_to_besd(d: ArrayLike) -> NDArray[np.float64]:
    """Success-rate difference of the Binomial Effect Size Display: equals r (Rosenthal & Rubin).

    The BESD reads r as the difference between success rates 0.5 + r/2 and 0.5 - r/2.
    That reading is exact for a phi coefficient between two binary variables with 50/50
    margins; for the r of a d on a continuous outcome it overstates the success-rate
    difference of a latent-normal outcome even at a 50% base rate (by √(π/2) ≈ 1.25 for
    small d; Hsu 2004, *Psychological Methods* 9(2), 183-197), and more so away from
    50%; see :func:`d_to_success_rate_difference`.
    """
    return d_to_r(d)


def d_from_r(r: ArrayLike) -> NDArray[np.float64]:
    """Inverse of :func:`d_to_r`: d = 2r / sqrt(1 - r²)."""
    r = np.asarray(r, dtype=np.float64)
    return 2.0 * r / np.sqrt(1.0 - r * r)


def hedges_j(n_total: float) -> float:
    """Small-sample correction J = 1 - 3 / (4 df - 1), df = n - 2 (Hedges 1981).

    J is positive only for df > 1, so ``n_total`` must exceed 3.
    """
    df = n_total - 2.0
    if df <= 1.0:
        raise ValueError(f"n_total must exceed 3, got {n_total}")
    return 1.0 - 3.0 / (4.0 * df - 1.0)


def g_to_d(g: ArrayLike, n_total: float | None = None) -> NDArray[np.float64]:
    """Hedges' g to Cohen's d: d = g / J(n); without n, J → 1 and d = g."""
    g = np.asarray(g, dtype=np.float64)
    return g if n_total is None else g / hedges_j(n_total)


def d_to_log_or(d: ArrayLike) -> NDArray[np.float64]:
    """log odds ratio from d under the logistic approximation: log OR = d π / √3 (Chinn 2000)."""
    return np.asarray(d, dtype=np.float64) * _PI_SQRT3


def d_from_log_or(log_or: ArrayLike) -> NDArray[np.float64]:
    """Inverse of :func:`d_to_log_or`: d = log OR √3 / π."""
    return np.asarray(log_or, dtype=np.float64) / _PI_SQRT3


def d_to_success_rate_difference(d: ArrayLike, base_rate: float) -> NDArray[np.float64]:
    """Difference in success rates implied by d at a given base rate p₀.

    Treats success as a latent normal above a threshold: the treated rate is
    Φ(Φ⁻¹(p₀) + d), so the difference is Φ(Φ⁻¹(p₀) + d) − p₀. It is largest at
    p₀ = Φ(−d/2), close to 50%, where it is 2Φ(d/2) − 1; for small d that is
    d φ(0) = 0.40 d, i.e. √(2/π) ≈ 0.80 times the BESD value d / sqrt(d² + 4) ≈ d/2
    (the BESD is larger for all |d| < 2.37). Far from 50% it is smaller still.
    """
    if not 0.0 < base_rate < 1.0:
        raise ValueError(f"base_rate must lie in (0, 1), got {base_rate}")
    d = np.asarray(d, dtype=np.float64)
    return np.asarray(scipy_special().ndtr(scipy_special().ndtri(base_rate) + d) - base_rate)


def se_from_ci(lo: float, hi: float, mass: float = 0.95) -> float:
    """Standard error of a normal estimate from its central CI: (hi - lo) / (2 z)."""
    if not lo < hi:
        raise ValueError(f"CI bounds are inverted or equal: [{lo}, {hi}]")
    return (hi - lo) / (2.0 * z_of_mass(mass))


def normal_cdf(x: ArrayLike) -> NDArray[np.float64]:
    """Standard normal CDF Φ(x) (``normcdf`` in model expressions)."""
    return np.asarray(scipy_special().ndtr(np.asarray(x, dtype=np.float64)), dtype=np.float64)


def normal_quantile(p: ArrayLike) -> NDArray[np.float64]:
    """Standard normal quantile Φ⁻¹(p): -inf at 0, +inf at 1, NaN outside [0, 1]
    (``norminv`` in model expressions)."""
    return np.asarray(scipy_special().ndtri(np.asarray(p, dtype=np.float64)), dtype=np.float64)


def half_d(d: ArrayLike) -> NDArray[np.float64]:
    """The rule of thumb r ≈ d / 2, read as a success-rate difference.

    d / (2 √(1 + d²/4)) is the point-biserial r of equal groups (:func:`d_to_r`); for
    small d that is d / 2, which is what seed 000 (SCBA *reclasseren in de buurt*, 2022)
    printed: its percentages are d / 2 rounded down to a whole percent in 11 of its 12
    cases, the BESD value r rounded in 7 (``models/reclasseren_in_de_buurt.toml``). It
    overstates r by the factor √(1 + d²/4) (3% at d = 0.5, 12% at d = 1).
    """
    return np.asarray(d, dtype=np.float64) / 2.0
