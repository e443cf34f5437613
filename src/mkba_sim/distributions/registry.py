"""The family registry, derived from the classes (no string table to drift)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mkba_sim.distributions.base import Distribution, SpecError
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


def parse_distribution(spec: Mapping[str, Any]) -> Distribution:
    """Build a distribution from ``spec`` (``dist`` plus the family's keys only).

    Raises
    ------
    SpecError
        Naming the key at fault: unknown family, unknown key, bad value.
    """
    family = spec.get("dist")
    if not isinstance(family, str) or family not in FAMILIES:
        raise SpecError("dist", f"unknown distribution {family!r}; choose from {sorted(FAMILIES)}")
    cls = FAMILIES[family]
    return cls.from_spec({k: v for k, v in spec.items() if k != "dist"})
