"""Posterior (or any empirical) draws used as a model input.

The spec names where the draws come from; the engine asks the ``io``/``bayes`` layers
for the actual numbers. Parameters naming the same source share one random index per
draw, so their joint dependence is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mkba_sim.distributions.base import Distribution, Encoded, SpecError
from mkba_sim.kernels import layout as ks

__all__ = ["Posterior"]


@dataclass(frozen=True)
class Posterior(Distribution):
    """Draws of ``variable`` from a Bayesian sub-model (``model``) or a file (``file``)."""

    source: str
    variable: str
    is_file: bool
    prior: str | None = None
    draws: np.ndarray | None = field(default=None, compare=False, repr=False)
    family = "posterior"
    parametrisations = (("model", "variable"), ("file", "variable"))
    optional_keys = ("prior",)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Posterior:
        p = cls.choose_parametrisation(spec)
        for key in (*p, *(["prior"] if "prior" in spec else [])):
            if not isinstance(spec[key], str) or not spec[key]:
                raise SpecError(key, f"must be a non-empty string, got {spec[key]!r}")
        if "prior" in spec and p[0] == "file":
            raise SpecError("prior", "only applies to a Bayesian sub-model (model = ...)")
        return cls(spec[p[0]], spec["variable"], p[0] == "file", spec.get("prior"))

    @property
    def group(self) -> str:
        """Parameters with the same group share the posterior draw index."""
        kind = "file" if self.is_file else "model"
        return f"{kind}:{self.source}:{self.prior or ''}"

    def with_draws(self, draws: np.ndarray) -> Posterior:
        """A copy holding the resolved draws."""
        arr = np.ascontiguousarray(draws, dtype=np.float64).ravel()
        if arr.size == 0 or not np.all(np.isfinite(arr)):
            raise SpecError("variable", f"draws of {self.variable!r} are empty or not finite")
        return Posterior(self.source, self.variable, self.is_file, self.prior, arr)

    def _require(self) -> np.ndarray:
        if self.draws is None:
            raise SpecError("variable", "posterior draws have not been loaded")
        return self.draws

    def scipy(self) -> Any:
        raise SpecError("dist", "a posterior has no scipy equivalent")

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """The empirical quantile function of the draws (the sorted draw at ``⌊u n⌋``).

        The draws are sorted here: their stored order is the joint draw index shared
        with the other variables of the same source, which the engine keeps.
        """
        d = np.sort(self._require())
        idx = np.minimum((np.asarray(u) * d.size).astype(np.int64), d.size - 1)
        return d[idx]

    def mean(self) -> float:
        return float(np.mean(self._require()))

    def interval(self, mass: float = 0.9) -> tuple[float, float]:
        lo, hi = np.quantile(self._require(), [0.5 - mass / 2.0, 0.5 + mass / 2.0])
        return float(lo), float(hi)

    def encode(self) -> Encoded:
        return Encoded(ks.POSTERIOR, table=self._require())
