"""Discrete families: Poisson, negative binomial, discrete (values with weights)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mkba_sim.distributions.base import Distribution, Encoded, SpecError, number, scipy_stats
from mkba_sim.kernels import layout as ks

__all__ = ["Discrete", "NegativeBinomial", "Poisson"]

_TAIL = 1e-15  # support is truncated where the upper tail mass falls below this
_MAX_SUPPORT = 1_000_000  # largest count table the kernel gets (16 MB)


def _check_support_size(dist: Any, key: str) -> None:
    top = float(dist.isf(_TAIL))
    if not top < _MAX_SUPPORT:
        reach = f"reach {top:.3g}" if math.isfinite(top) else "are unbounded"
        raise SpecError(
            key,
            f"counts {reach}, too many for a count table (limit {_MAX_SUPPORT:,}); "
            "use a normal, lognormal or gamma distribution for large counts",
        )


def _counts_table(dist: Any) -> np.ndarray:
    """Support 0..K and its CDF, concatenated, for the kernel's DISCRETE code."""
    top = int(dist.isf(_TAIL)) + 1
    k = np.arange(top + 1, dtype=np.float64)
    cdf = dist.cdf(k)
    cdf[-1] = 1.0
    return np.concatenate([k, cdf])


@dataclass(frozen=True)
class Poisson(Distribution):
    """Poisson(mean)."""

    mu: float
    family = "poisson"
    parametrisations = (("mean",),)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Poisson:
        cls.choose_parametrisation(spec)
        mu = number(spec, "mean")
        if mu <= 0.0:
            raise SpecError("mean", f"must be > 0, got {mu}")
        out = cls(mu)
        _check_support_size(out.scipy(), "mean")
        return out

    def scipy(self) -> Any:
        return scipy_stats().poisson(self.mu)

    def encode(self) -> Encoded:
        return Encoded(ks.DISCRETE, table=_counts_table(self.scipy()))


@dataclass(frozen=True)
class NegativeBinomial(Distribution):
    """Negative binomial with mean m and size k: variance m + m²/k (NB2)."""

    mu: float
    k: float
    family = "negative_binomial"
    parametrisations = (("mean", "dispersion"),)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> NegativeBinomial:
        cls.choose_parametrisation(spec)
        mu, k = number(spec, "mean"), number(spec, "dispersion")
        if mu <= 0.0:
            raise SpecError("mean", f"must be > 0, got {mu}")
        if k <= 0.0:
            raise SpecError("dispersion", f"must be > 0, got {k}")
        out = cls(mu, k)
        _check_support_size(out.scipy(), "mean")
        return out

    def scipy(self) -> Any:
        return scipy_stats().nbinom(self.k, self.k / (self.k + self.mu))

    def encode(self) -> Encoded:
        return Encoded(ks.DISCRETE, table=_counts_table(self.scipy()))


@dataclass(frozen=True)
class Discrete(Distribution):
    """Finitely many values with weights (equal weights: an empirical distribution)."""

    values: tuple[float, ...]
    weights: tuple[float, ...]
    family = "discrete"
    parametrisations = (("values",),)
    optional_keys = ("weights",)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Discrete:
        cls.choose_parametrisation(spec)
        values = _number_list(spec, "values")
        if "weights" in spec:
            weights = _number_list(spec, "weights")
            if len(weights) != len(values):
                raise SpecError("weights", f"has {len(weights)} entries, values has {len(values)}")
            if any(w < 0 for w in weights) or not 0 < sum(weights) < math.inf:
                raise SpecError("weights", "must be non-negative with a positive, finite sum")
        else:
            weights = [1.0] * len(values)
        total = sum(weights)
        return cls(tuple(values), tuple(w / total for w in weights))

    def _sorted(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(self.values, kind="stable")
        return np.asarray(self.values)[order], np.asarray(self.weights)[order]

    def scipy(self) -> Any:
        v, w = self._sorted()
        return scipy_stats().rv_discrete(values=(np.arange(len(v)), w))  # on indices; see ppf

    def ppf(self, u: np.ndarray) -> np.ndarray:
        v, w = self._sorted()
        idx = np.searchsorted(np.cumsum(w), u, side="left")
        return v[np.minimum(idx, len(v) - 1)]

    def mean(self) -> float:
        return float(np.dot(self.values, self.weights))

    def interval(self, mass: float = 0.9) -> tuple[float, float]:
        lo, hi = self.ppf(np.array([0.5 - mass / 2.0, 0.5 + mass / 2.0]))
        return float(lo), float(hi)

    def encode(self) -> Encoded:
        v, w = self._sorted()
        cdf = np.cumsum(w)
        cdf[-1] = 1.0
        return Encoded(ks.DISCRETE, table=np.concatenate([v, cdf]))


def _number_list(spec: Mapping[str, Any], key: str) -> list[float]:
    raw = spec[key]
    if not isinstance(raw, list) or not raw:
        raise SpecError(key, f"must be a non-empty list of numbers, got {raw!r}")
    return [number({f"{key}[{i}]": x}, f"{key}[{i}]") for i, x in enumerate(raw)]
