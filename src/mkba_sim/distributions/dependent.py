"""Distributions whose parameters are expressions over other inputs ("dependent").

A model file may write ``mean = "2.7 * rate"`` or ``base_rate = "p_reference"``: the
distribution's own parameters then change from draw to draw, so its quantile function
cannot be tabulated once. Such a parameter is a :class:`Dependent`: a *kind* (the family
with the parametrisation as written) and its arguments, one per key, in the order of
:data:`KINDS`. The arguments are opaque here (the model layer puts expression trees in
them); this module holds the per-draw quantile function of each kind, vectorised with
NumPy (:func:`quantile`), and the value replication uses (:func:`central`). The numba
versions, with the same formulas and edge values, are in
:mod:`mkba_sim.kernels.sampling` (``dq_<kind>``).

Only families with a closed-form (or, for the Poisson, a short search) quantile
function are offered; beta, gamma, PERT and the negative binomial need an incomplete
beta or gamma inverse per draw and take numbers only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from mkba_sim.distributions.base import Distribution, Encoded, scipy_special
from mkba_sim.kernels import layout as ks

__all__ = ["KINDS", "Dependent", "central", "kind_of", "quantile"]

KINDS: dict[tuple[str, tuple[str, ...]], str] = {
    ("fixed", ("value",)): "fixed",
    ("normal", ("mean", "sd")): "normal",
    ("lognormal", ("mu", "sigma")): "lognormal",
    ("lognormal", ("median", "sigma")): "lognormal_median",
    ("lognormal", ("mean", "sd")): "lognormal_mean",
    ("uniform", ("low", "high")): "uniform",
    ("triangular", ("low", "mode", "high")): "triangular",
    ("poisson", ("mean",)): "poisson",
    ("effect_size", ("mu", "se", "base_rate")): "success_rate",
}
"""(family, keys in argument order) -> kind. ``success_rate`` is an ``effect_size`` with
``convert = "success_rate"`` whose ``base_rate`` is an expression (``mu`` and ``se`` on
the d scale come from its estimate and CI)."""


def kind_of(family: str, keys: tuple[str, ...]) -> str | None:
    """The kind for ``family`` written with ``keys`` (any order), or ``None``."""
    for (fam, want), kind in KINDS.items():
        if fam == family and set(want) == set(keys):
            return kind
    return None


def keys_of(kind: str) -> tuple[str, ...]:
    """The keys of ``kind`` in argument order."""
    return next(k for (_, k), v in KINDS.items() if v == kind)


def supported() -> str:
    """Human-readable list of the families and keys that may be expressions."""
    return "; ".join(
        f"{fam} ({', '.join(k for k in keys if k not in ('mu', 'se') or fam != 'effect_size')})"
        for (fam, keys) in KINDS
    )


@dataclass(frozen=True)
class Dependent(Distribution):
    """A distribution of ``kind`` whose arguments are evaluated per draw."""

    kind: str
    args: tuple[Any, ...]
    written: str  # the family as written in the file
    text: str = field(default="", compare=False)
    """The distribution as written, for reports: ``poisson (mean = 2.7 * rate)``."""
    family: ClassVar[str] = "dependent"
    parametrisations: ClassVar[tuple[tuple[str, ...], ...]] = ()

    def encode(self) -> Encoded:
        """Code ``EXPR``: the generated kernel computes the value per draw."""
        return Encoded(ks.EXPR)

    @property
    def is_random(self) -> bool:
        """A ``fixed`` kind is a formula; every other kind takes its own random stream."""
        return self.kind != "fixed"

    def support(self) -> tuple[float, float]:
        return -math.inf, math.inf

    def _no_closed_form(self) -> ValueError:
        return ValueError(
            f"this {self.written} distribution has parameters that are expressions over "
            "other inputs: it has no quantile function of its own (fix its inputs instead)"
        )

    def scipy(self) -> Any:
        raise self._no_closed_form()

    def ppf(self, u: np.ndarray) -> np.ndarray:
        raise self._no_closed_form()

    def isf(self, q: np.ndarray) -> np.ndarray:
        raise self._no_closed_form()

    def mean(self) -> float:
        raise self._no_closed_form()

    def interval(self, mass: float = 0.9) -> tuple[float, float]:
        raise self._no_closed_form()


def _f(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def quantile(kind: str, u: Any, *args: Any) -> np.ndarray:
    """The quantile of ``kind`` at ``u`` with per-draw arguments (arrays broadcast).

    Invalid arguments (a negative sd, low above high, a base rate outside (0, 1), ...)
    give NaN, which the model's non-finite policy then reports.
    """
    u = _f(u)
    a = [_f(x) for x in args]
    with np.errstate(all="ignore"):
        if kind == "fixed":
            return np.broadcast_to(a[0], u.shape).copy()
        if kind == "normal":
            m, s = a
            return np.where(s >= 0.0, m + s * scipy_special().ndtri(u), np.nan)
        if kind == "lognormal":
            mu, sigma = a
            return np.where(sigma >= 0.0, np.exp(mu + sigma * scipy_special().ndtri(u)), np.nan)
        if kind == "lognormal_median":
            med, sigma = a
            ok = (sigma >= 0.0) & (med > 0.0)
            return np.where(ok, med * np.exp(sigma * scipy_special().ndtri(u)), np.nan)
        if kind == "lognormal_mean":
            m, s = a
            s2 = np.log1p((s / m) * (s / m))
            x = np.exp(np.log(m) - 0.5 * s2 + np.sqrt(s2) * scipy_special().ndtri(u))
            return np.where((m > 0.0) & (s >= 0.0), x, np.nan)
        if kind == "uniform":
            lo, hi = a
            return np.where(lo <= hi, lo + u * (hi - lo), np.nan)
        if kind == "triangular":
            return _triangular(u, *a)
        if kind == "poisson":
            return _poisson(u, a[0])
        if kind == "success_rate":
            mu, se, p0 = a
            d = mu + se * scipy_special().ndtri(u)
            ok = (p0 > 0.0) & (p0 < 1.0) & (se >= 0.0)
            return np.where(ok, scipy_special().ndtr(scipy_special().ndtri(p0) + d) - p0, np.nan)
    raise ValueError(f"unknown dependent kind {kind!r}")


def _triangular(u: np.ndarray, lo: np.ndarray, mode: np.ndarray, hi: np.ndarray) -> np.ndarray:
    w = hi - lo
    c = (mode - lo) / w
    lower = lo + np.sqrt(u * w * (mode - lo))
    upper = hi - np.sqrt((1.0 - u) * w * (hi - mode))
    out = np.where(u < c, lower, upper)
    out = np.where((lo == hi) & (mode == lo), lo, out)
    ok = (lo <= mode) & (mode <= hi)
    return np.where(ok, out, np.nan)


def _poisson(u: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Inverse CDF by summing the pmf upwards in log space, as ``dq_poisson`` does."""
    u, mu = np.broadcast_arrays(u, mu)
    out = np.zeros(u.shape)
    out[~(mu >= 0.0)] = np.nan
    run = mu > 0.0
    lmu = np.log(np.where(run, mu, 1.0))
    lp = -np.where(run, mu, 0.0)
    cdf = np.exp(lp)
    limit = mu + 40.0 * np.sqrt(np.where(run, mu, 0.0)) + 40.0
    k = 0.0
    active = run & (cdf < u) & (k < limit)
    while np.any(active):
        k += 1.0
        lp = lp + (lmu - math.log(k))
        cdf = np.where(active, cdf + np.exp(lp), cdf)
        out = np.where(active, k, out)
        active = active & (cdf < u) & (k < limit)
    return out


def central(kind: str, *args: float) -> float:
    """The value replication uses when no ``published`` is given: the distribution's
    mean at these arguments; for ``success_rate`` the conversion of the point estimate
    (``mu``), Φ(Φ⁻¹(p₀) + d) − p₀."""
    a = [float(x) for x in args]
    if kind in ("fixed", "normal", "poisson"):
        return a[0]
    if kind == "lognormal":
        return math.exp(a[0] + a[1] ** 2 / 2.0)
    if kind == "lognormal_median":
        return a[0] * math.exp(a[1] ** 2 / 2.0)
    if kind == "lognormal_mean":
        return a[0]
    if kind == "uniform":
        return (a[0] + a[1]) / 2.0
    if kind == "triangular":
        return (a[0] + a[1] + a[2]) / 3.0
    if kind == "success_rate":
        mu, _se, p0 = a
        if not 0.0 < p0 < 1.0:
            return math.nan
        return float(scipy_special().ndtr(scipy_special().ndtri(p0) + mu) - p0)
    raise ValueError(f"unknown dependent kind {kind!r}")
