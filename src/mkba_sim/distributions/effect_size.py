"""Literature effect sizes with confidence intervals, as distributions of a model input.

The effect is normal on the standardised-mean-difference (d) scale with the standard
error implied by its CI, the usual large-sample approximation in meta-analysis
(Borenstein et al. 2009, ch. 4), then converted monotonically (BESD, the rule of thumb
d / 2, success-rate difference at a base rate, log odds ratio, or none).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from mkba_sim.distributions import conversions as cv
from mkba_sim.distributions.base import Distribution, SpecError, number, scipy_special, scipy_stats

__all__ = ["EffectSize"]

_CONVERT = ("none", "besd", "half_d", "success_rate", "log_or")
_MEASURES = ("d", "g", "r", "log_or")
_SPREADS = ("ci95", "ci90", "se")


def _to_d(measure: str, x: np.ndarray, n: float | None) -> np.ndarray:
    if measure == "g":
        return cv.g_to_d(x, n)
    if measure == "r":
        if np.any(np.abs(x) >= 1.0):
            raise SpecError("r", "a correlation and its CI must lie in (-1, 1)")
        return cv.d_from_r(x)
    if measure == "log_or":
        return cv.d_from_log_or(x)
    return np.asarray(x, dtype=np.float64)


@dataclass(frozen=True)
class EffectSize(Distribution):
    """Normal on the d scale (``mu``, ``se``), reported through ``convert``."""

    mu: float
    se: float
    convert: str = "none"
    base_rate: float = 0.5
    family = "effect_size"
    parametrisations: ClassVar[tuple[tuple[str, ...], ...]] = tuple(
        (m, s) for m in _MEASURES for s in _SPREADS
    )
    optional_keys = ("convert", "base_rate", "n")

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> EffectSize:
        measure, spread = cls.choose_parametrisation(spec)
        n = number(spec, "n") if "n" in spec else None
        if n is not None and measure != "g":
            raise SpecError("n", "is only used to convert Hedges' g to d (Hedges' J)")
        if n is not None and n <= 3.0:
            # Hedges' J = 1 - 3 / (4 (n - 2) - 1) is zero at n = 3 and negative below
            raise SpecError("n", f"total sample size must exceed 3, got {n}")
        est = number(spec, measure)
        if spread == "se":
            se = number(spec, "se")
            if se <= 0:
                raise SpecError("se", f"must be > 0, got {se}")
            lo, hi = est - 1.959963984540054 * se, est + 1.959963984540054 * se
            mass = 0.95
        else:
            raw = spec[spread]
            if not isinstance(raw, list) or len(raw) != 2:
                raise SpecError(spread, f"must be a list [low, high], got {raw!r}")
            lo = number({spread: raw[0]}, spread)
            hi = number({spread: raw[1]}, spread)
            if not lo < hi:
                raise SpecError(spread, f"bounds are inverted or equal: [{lo}, {hi}]")
            if not lo <= est <= hi:
                raise SpecError(measure, f"estimate {est} lies outside its CI [{lo}, {hi}]")
            mass = 0.95 if spread == "ci95" else 0.90
        d_lo, d_est, d_hi = _to_d(measure, np.array([lo, est, hi]), n)
        se_d = cv.se_from_ci(float(d_lo), float(d_hi), mass)
        how = spec.get("convert", "none")
        if how not in _CONVERT:
            raise SpecError(
                "convert", f"unknown conversion {how!r}; choose from {sorted(_CONVERT)}"
            )
        base = 0.5
        if how == "success_rate":
            base = number(spec, "base_rate")
            if not 0.0 < base < 1.0:
                raise SpecError("base_rate", f"is a probability in (0, 1), got {base}")
        elif "base_rate" in spec:
            raise SpecError("base_rate", 'is only used with convert = "success_rate"')
        return cls(float(d_est), se_d, how, base)

    def published_defaults(self, spec: Mapping[str, Any]) -> tuple[float, float, float]:
        """The point estimate and the bounds of the CI as ``spec`` states them, converted.

        These are the default ``published``, ``published_low`` and ``published_high`` of an
        effect-size input (replication mode uses the study's own conversion of its
        estimate and CI): each number is taken to the d scale as :meth:`from_spec` does
        (Hedges' J, r or log OR to d) and then through ``convert``. For ``se`` the bounds
        are estimate ± 1.96 se.
        """
        measure, spread = self.choose_parametrisation(spec)
        est = number(spec, measure)
        if spread == "se":
            half = 1.959963984540054 * number(spec, "se")
            lo, hi = est - half, est + half
        else:
            lo, hi = (number({spread: x}, spread) for x in spec[spread])
        n = number(spec, "n") if "n" in spec else None
        c_lo, c_est, c_hi = self._convert(_to_d(measure, np.array([lo, est, hi]), n))
        return float(c_est), float(c_lo), float(c_hi)

    def _convert(self, d: np.ndarray) -> np.ndarray:
        if self.convert == "besd":
            return cv.d_to_besd(d)
        if self.convert == "half_d":
            return cv.half_d(d)
        if self.convert == "success_rate":
            return cv.d_to_success_rate_difference(d, self.base_rate)
        if self.convert == "log_or":
            return cv.d_to_log_or(d)
        return np.asarray(d, dtype=np.float64)

    def support(self) -> tuple[float, float]:
        """The support of the normal on the d scale (as :meth:`scipy`)."""
        return -math.inf, math.inf

    def scipy(self) -> Any:
        """The normal on the d scale (before conversion)."""
        return scipy_stats().norm(self.mu, self.se)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self._convert(self.mu + self.se * scipy_special().ndtri(u))

    def isf(self, q: np.ndarray) -> np.ndarray:
        return self._convert(self.mu - self.se * scipy_special().ndtri(q))

    def mean(self) -> float:
        x, w = np.polynomial.hermite_e.hermegauss(64)
        return float(np.dot(w, self._convert(self.mu + self.se * x)) / np.sqrt(2.0 * np.pi))

    def interval(self, mass: float = 0.9) -> tuple[float, float]:
        lo, hi = self.ppf(np.array([0.5 - mass / 2.0, 0.5 + mass / 2.0]))
        return float(lo), float(hi)
