"""The family registry, derived from the classes (no string table to drift)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from mkba_sim.distributions.base import Distribution, SpecError, TableStore, median_is_finite
from mkba_sim.distributions.continuous import (
    Beta,
    Fixed,
    Gamma,
    Lognormal,
    Normal,
    Pert,
    Triangular,
    Uniform,
)
from mkba_sim.distributions.discrete import Discrete, NegativeBinomial, Poisson
from mkba_sim.distributions.effect_size import EffectSize
from mkba_sim.distributions.posterior import Posterior

__all__ = ["FAMILIES", "parse_distribution"]

_CLASSES: tuple[type[Distribution], ...] = (
    Fixed,
    Normal,
    Lognormal,
    Beta,
    Gamma,
    Uniform,
    Triangular,
    Pert,
    Poisson,
    NegativeBinomial,
    Discrete,
    EffectSize,
    Posterior,
)
FAMILIES: dict[str, type[Distribution]] = {cls.family: cls for cls in _CLASSES}


def parse_distribution(spec: Mapping[str, Any], tables: TableStore | None = None) -> Distribution:
    """Build a distribution from ``spec`` (``dist`` plus the family's keys only).

    ``tables`` (optional) may answer the check that the distribution is usable from its
    kept quantile table, without computing a quantile (and importing scipy).

    Raises
    ------
    SpecError
        Naming the key at fault: unknown family, unknown key, bad value.
    """
    family = spec.get("dist")
    if not isinstance(family, str) or family not in FAMILIES:
        raise SpecError("dist", f"unknown distribution {family!r}; choose from {sorted(FAMILIES)}")
    cls = FAMILIES[family]
    try:
        dist = cls.from_spec({k: v for k, v in spec.items() if k != "dist"})
    except SpecError:
        raise
    except (ArithmeticError, ValueError) as exc:
        # extreme magnitudes: overflow, underflow to zero, a fit with no finite start
        problem = f"cannot build a {family} distribution from these values ({exc})"
        raise SpecError("", problem) from None
    _check_usable(dist, tables)
    return dist


def _check_usable(dist: Distribution, tables: TableStore | None) -> None:
    """Refuse parameters that overflowed or collapsed (finite inputs of extreme magnitude)."""
    if isinstance(dist, Posterior) or not dist.is_random:
        return
    for name, v in vars(dist).items():
        vals = v if isinstance(v, tuple) else (v,)
        if any(isinstance(x, float) and not math.isfinite(x) for x in vals):
            raise SpecError(
                "",
                f"these values give a non-finite {dist.family} parameter ({name} = {v}); "
                "check their magnitudes",
            )
    with np.errstate(all="ignore"):
        lo, hi = dist.support()
    if math.isnan(lo) or math.isnan(hi) or not lo <= hi or not median_is_finite(dist, tables):
        raise SpecError(
            "", f"these values are too extreme to give a usable {dist.family} distribution"
        )
