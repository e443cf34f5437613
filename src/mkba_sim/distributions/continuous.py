"""Continuous families: fixed, normal, lognormal, beta, gamma, uniform, triangular, PERT."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mkba_sim.distributions.base import (
    Distribution,
    Encoded,
    SpecError,
    check_interval,
    number,
    scipy_special,
    scipy_stats,
    z_of_mass,
)
from mkba_sim.kernels import layout as ks

__all__ = ["Beta", "Fixed", "Gamma", "Lognormal", "Normal", "Pert", "Triangular", "Uniform"]


def _positive(key: str, value: float) -> float:
    if value <= 0.0:
        raise SpecError(key, f"must be > 0, got {value}")
    return value


@dataclass(frozen=True)
class Fixed(Distribution):
    """A known constant."""

    value: float
    family = "fixed"
    parametrisations = (("value",),)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Fixed:
        cls.choose_parametrisation(spec)
        return cls(number(spec, "value"))

    def support(self) -> tuple[float, float]:
        return self.value, self.value

    def scipy(self) -> Any:
        return scipy_stats().uniform(loc=self.value, scale=0.0)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.full(np.shape(u), self.value)

    def mean(self) -> float:
        return self.value

    def encode(self) -> Encoded:
        return Encoded(ks.FIXED, (self.value, 0.0, 0.0, 0.0))

    @property
    def is_random(self) -> bool:
        return False


@dataclass(frozen=True)
class Normal(Distribution):
    """Normal(mean, sd); or from a central interval of given mass."""

    mu: float
    sd: float
    family = "normal"
    parametrisations = (("mean", "sd"), ("interval",))
    optional_keys = ("mass",)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Normal:
        if cls.choose_parametrisation(spec) == ("interval",):
            return cls.from_interval(*check_interval(spec))
        return cls(number(spec, "mean"), _positive("sd", number(spec, "sd")))

    @classmethod
    def from_interval(cls, lo: float, hi: float, mass: float = 0.95) -> Normal:
        """Normal whose central ``mass`` interval is [lo, hi]."""
        return cls((lo + hi) / 2.0, (hi - lo) / (2.0 * z_of_mass(mass)))

    def support(self) -> tuple[float, float]:
        return -math.inf, math.inf

    def mean(self) -> float:
        # what scipy's norm(mu, sd).mean() returns (mu + sd * 0.0), without scipy.stats
        return float(self.mu)

    def scipy(self) -> Any:
        return scipy_stats().norm(self.mu, self.sd)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.mu + self.sd * scipy_special().ndtri(u)

    def isf(self, q: np.ndarray) -> np.ndarray:
        return self.mu - self.sd * scipy_special().ndtri(q)


@dataclass(frozen=True)
class Lognormal(Distribution):
    """Lognormal with log-scale ``mu`` and ``sigma``."""

    mu: float
    sigma: float
    family = "lognormal"
    parametrisations = (("mu", "sigma"), ("median", "sigma"), ("mean", "sd"), ("interval",))
    optional_keys = ("mass",)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Lognormal:
        p = cls.choose_parametrisation(spec)
        if p == ("interval",):
            lo, hi, mass = check_interval(spec)
            if lo <= 0.0:
                raise SpecError("interval", f"a lognormal needs positive bounds, got {lo}")
            return cls.from_interval(lo, hi, mass)
        if p == ("mean", "sd"):
            m = _positive("mean", number(spec, "mean"))
            s = _positive("sd", number(spec, "sd"))
            sigma2 = math.log1p((s / m) ** 2)
            return cls(math.log(m) - sigma2 / 2.0, math.sqrt(sigma2))
        sigma = _positive("sigma", number(spec, "sigma"))
        if p == ("median", "sigma"):
            return cls(math.log(_positive("median", number(spec, "median"))), sigma)
        return cls(number(spec, "mu"), sigma)

    @classmethod
    def from_interval(cls, lo: float, hi: float, mass: float = 0.95) -> Lognormal:
        """Lognormal whose central ``mass`` interval is [lo, hi] (0 < lo < hi)."""
        a, b = math.log(lo), math.log(hi)
        return cls((a + b) / 2.0, (b - a) / (2.0 * z_of_mass(mass)))

    def support(self) -> tuple[float, float]:
        return 0.0, math.inf

    def scipy(self) -> Any:
        return scipy_stats().lognorm(s=self.sigma, scale=math.exp(self.mu))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.exp(self.mu + self.sigma * scipy_special().ndtri(u))

    def isf(self, q: np.ndarray) -> np.ndarray:
        return np.exp(self.mu - self.sigma * scipy_special().ndtri(q))


def _fit_two_quantiles(make: Any, lo: float, hi: float, mass: float, x0: np.ndarray) -> Any:
    """Solve for log-parameters so that ``make(exp(x))`` has central interval [lo, hi]."""
    pl, ph = 0.5 - mass / 2.0, 0.5 + mass / 2.0

    def resid(x: np.ndarray) -> np.ndarray:
        d = make(np.exp(x))
        return np.array([d.ppf(pl) / lo - 1.0, d.ppf(ph) / hi - 1.0])

    from scipy import optimize

    sol = optimize.least_squares(resid, x0, xtol=1e-14, ftol=1e-14, gtol=1e-14)
    if not sol.success or np.max(np.abs(sol.fun)) > 1e-8:
        raise SpecError(
            "interval",
            f"no distribution of this family has [{lo}, {hi}] as its central {mass:.0%} interval",
        )
    return np.exp(sol.x)


@dataclass(frozen=True)
class Beta(Distribution):
    """Beta(alpha, beta) on (0, 1)."""

    a: float
    b: float
    family = "beta"
    parametrisations = (("alpha", "beta"), ("mean", "sd"), ("interval",))
    optional_keys = ("mass",)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Beta:
        p = cls.choose_parametrisation(spec)
        if p == ("interval",):
            lo, hi, mass = check_interval(spec)
            if not (lo > 0.0 and hi < 1.0):
                raise SpecError("interval", f"a beta interval must lie in (0, 1), got [{lo}, {hi}]")
            return cls.from_interval(lo, hi, mass)
        if p == ("mean", "sd"):
            m = number(spec, "mean")
            s = _positive("sd", number(spec, "sd"))
            if not 0.0 < m < 1.0:
                raise SpecError("mean", f"a beta mean is a probability in (0, 1), got {m}")
            k = m * (1.0 - m) / s**2 - 1.0
            if k <= 0.0:
                raise SpecError(
                    "sd", f"too large for mean {m}: need sd < {math.sqrt(m * (1 - m)):.4g}"
                )
            return cls(m * k, (1.0 - m) * k)
        return cls(
            _positive("alpha", number(spec, "alpha")), _positive("beta", number(spec, "beta"))
        )

    @classmethod
    def from_interval(cls, lo: float, hi: float, mass: float = 0.95) -> Beta:
        """Beta whose central ``mass`` interval is [lo, hi] (0 < lo < hi < 1)."""
        m = (lo + hi) / 2.0
        x0 = np.log([m * 10.0, (1.0 - m) * 10.0])
        a, b = _fit_two_quantiles(lambda p: scipy_stats().beta(p[0], p[1]), lo, hi, mass, x0)
        return cls(float(a), float(b))

    def support(self) -> tuple[float, float]:
        return 0.0, 1.0

    def scipy(self) -> Any:
        return scipy_stats().beta(self.a, self.b)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.asarray(scipy_special().betaincinv(self.a, self.b, u), dtype=np.float64)

    def isf(self, q: np.ndarray) -> np.ndarray:
        return np.asarray(scipy_special().betainccinv(self.a, self.b, q), dtype=np.float64)


@dataclass(frozen=True)
class Gamma(Distribution):
    """Gamma(shape, rate)."""

    shape: float
    rate: float
    family = "gamma"
    parametrisations = (("shape", "rate"), ("shape", "scale"), ("mean", "sd"), ("interval",))
    optional_keys = ("mass",)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Gamma:
        p = cls.choose_parametrisation(spec)
        if p == ("interval",):
            lo, hi, mass = check_interval(spec)
            if lo <= 0.0:
                raise SpecError("interval", f"a gamma interval needs positive bounds, got {lo}")
            return cls.from_interval(lo, hi, mass)
        if p == ("mean", "sd"):
            m = _positive("mean", number(spec, "mean"))
            s = _positive("sd", number(spec, "sd"))
            return cls((m / s) ** 2, m / s**2)
        shape = _positive("shape", number(spec, "shape"))
        if p == ("shape", "scale"):
            return cls(shape, 1.0 / _positive("scale", number(spec, "scale")))
        return cls(shape, _positive("rate", number(spec, "rate")))

    @classmethod
    def from_interval(cls, lo: float, hi: float, mass: float = 0.95) -> Gamma:
        """Gamma whose central ``mass`` interval is [lo, hi] (0 < lo < hi)."""
        m = (lo + hi) / 2.0
        s = (hi - lo) / (2.0 * z_of_mass(mass))
        x0 = np.log([(m / s) ** 2, m / s**2])
        shape, rate = _fit_two_quantiles(
            lambda p: scipy_stats().gamma(p[0], scale=1.0 / p[1]), lo, hi, mass, x0
        )
        return cls(float(shape), float(rate))

    def support(self) -> tuple[float, float]:
        return 0.0, math.inf

    def scipy(self) -> Any:
        return scipy_stats().gamma(self.shape, scale=1.0 / self.rate)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.asarray(scipy_special().gammaincinv(self.shape, u), dtype=np.float64) / self.rate

    def isf(self, q: np.ndarray) -> np.ndarray:
        return np.asarray(scipy_special().gammainccinv(self.shape, q), dtype=np.float64) / self.rate


def _low_mode_high(spec: Mapping[str, Any]) -> tuple[float, float, float]:
    lo, mode, hi = number(spec, "low"), number(spec, "mode"), number(spec, "high")
    if not lo < hi:
        raise SpecError("high", f"low must be below high, got low={lo}, high={hi}")
    if not lo <= mode <= hi:
        raise SpecError("mode", f"must lie within [low, high] = [{lo}, {hi}], got {mode}")
    return lo, mode, hi


@dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform(low, high)."""

    low: float
    high: float
    family = "uniform"
    parametrisations = (("low", "high"),)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Uniform:
        cls.choose_parametrisation(spec)
        lo, hi = number(spec, "low"), number(spec, "high")
        if not lo < hi:
            raise SpecError("high", f"low must be below high, got low={lo}, high={hi}")
        return cls(lo, hi)

    def support(self) -> tuple[float, float]:
        return self.low, self.high

    def scipy(self) -> Any:
        return scipy_stats().uniform(self.low, self.high - self.low)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.low + np.asarray(u, dtype=np.float64) * (self.high - self.low)

    def isf(self, q: np.ndarray) -> np.ndarray:
        return self.high - np.asarray(q, dtype=np.float64) * (self.high - self.low)

    def encode(self) -> Encoded:
        return Encoded(ks.UNIFORM, (self.low, self.high, 0.0, 0.0))


@dataclass(frozen=True)
class Triangular(Distribution):
    """Triangular(low, mode, high)."""

    low: float
    mode: float
    high: float
    family = "triangular"
    parametrisations = (("low", "mode", "high"),)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Triangular:
        cls.choose_parametrisation(spec)
        return cls(*_low_mode_high(spec))

    def support(self) -> tuple[float, float]:
        return self.low, self.high

    def scipy(self) -> Any:
        width = self.high - self.low
        return scipy_stats().triang((self.mode - self.low) / width, loc=self.low, scale=width)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Closed form: low + √(u w (mode − low)) below the mode's CDF, else from the top."""
        u = np.asarray(u, dtype=np.float64)
        w = self.high - self.low
        c = (self.mode - self.low) / w
        with np.errstate(invalid="ignore"):
            lower = self.low + np.sqrt(u * w * (self.mode - self.low))
            upper = self.high - np.sqrt((1.0 - u) * w * (self.high - self.mode))
        return np.where(u < c, lower, upper)

    def isf(self, q: np.ndarray) -> np.ndarray:
        """The quantile at 1 − q, computed from q (accurate near the top)."""
        q = np.asarray(q, dtype=np.float64)
        w = self.high - self.low
        c = (self.mode - self.low) / w
        with np.errstate(invalid="ignore"):
            upper = self.high - np.sqrt(q * w * (self.high - self.mode))
            lower = self.low + np.sqrt((1.0 - q) * w * (self.mode - self.low))
        return np.where(q <= 1.0 - c, upper, lower)


@dataclass(frozen=True)
class Pert(Distribution):
    """PERT(low, mode, high, lambda): a scaled Beta(1 + λ m, 1 + λ (1 - m)).

    Vose (2008), *Risk Analysis: A Quantitative Guide*, 3rd ed., §III.7 (Wiley).
    """

    low: float
    mode: float
    high: float
    lam: float = 4.0
    family = "pert"
    parametrisations = (("low", "mode", "high"),)
    optional_keys = ("lambda",)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Pert:
        cls.choose_parametrisation(spec)
        lam = _positive("lambda", number(spec, "lambda")) if "lambda" in spec else 4.0
        return cls(*_low_mode_high(spec), lam)

    def support(self) -> tuple[float, float]:
        return self.low, self.high

    def scipy(self) -> Any:
        width = self.high - self.low
        a, b = self._shapes()
        return scipy_stats().beta(a, b, loc=self.low, scale=width)

    def _shapes(self) -> tuple[float, float]:
        m = (self.mode - self.low) / (self.high - self.low)
        return 1.0 + self.lam * m, 1.0 + self.lam * (1.0 - m)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        a, b = self._shapes()
        return self.low + (self.high - self.low) * scipy_special().betaincinv(a, b, u)

    def isf(self, q: np.ndarray) -> np.ndarray:
        a, b = self._shapes()
        return self.low + (self.high - self.low) * scipy_special().betainccinv(a, b, q)
