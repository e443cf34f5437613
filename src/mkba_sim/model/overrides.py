"""Overrides for one run: inputs fixed at values or at their own quantiles, or redistributed.

``simulate(model, overrides={"salary": 98_000, "case_costs": Quantile(0.95)})`` changes
these inputs in every scenario for one run, without editing the file. Overrides are
*numbers*: the run reuses the compiled kernel of the unchanged model, and it draws the
same random numbers for every other input (common random numbers), so its difference
from the unchanged run is the effect of the override alone. Tornado diagrams, sweeps and
value-of-information reruns are built on this.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mkba_sim.distributions import Distribution, Fixed

__all__ = ["Override", "Quantile", "resolve_override"]


@dataclass(frozen=True)
class Quantile:
    """Fix an input at its own quantile ``p`` (0 < p < 1), e.g. ``Quantile(0.95)``."""

    p: float

    def __post_init__(self) -> None:
        p = self.p
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 < p < 1.0:
            raise ValueError(f"Quantile(p) needs 0 < p < 1, got {p!r}")


Override = float | int | Quantile | Distribution


def resolve_override(name: str, current: Distribution, value: Any) -> Distribution:
    """The distribution that replaces ``current`` for the override ``value``.

    A number fixes the input at that number, :class:`Quantile` at ``current``'s own
    quantile, a :class:`~mkba_sim.distributions.Distribution` replaces it.

    Raises
    ------
    ValueError
        Naming ``name`` when the value is none of these or not finite.
    """
    if isinstance(value, Distribution):
        return value
    if isinstance(value, Quantile):
        u = np.array([value.p])
        try:
            return Fixed(float(current.ppf(u)[0]))
        except ValueError as exc:  # a distribution whose keys are expressions
            raise ValueError(f"{name}: cannot fix it at its own quantile: {exc}") from None
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise ValueError(
            f"{name}: an override is a number, Quantile(p) or a distribution, got {value!r}"
        )
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name}: an override must be finite, got {value!r}")
    return Fixed(v)


def check_names(overrides: Mapping[str, Any], known: set[str]) -> None:
    """Raise ``KeyError`` naming the first override that is not an input of the model."""
    for name in overrides:
        if name not in known:
            raise KeyError(name)
