"""Distribution families, interval constructors and effect-size conversions.

Layer rule: imports numpy, scipy and ``mkba_sim.kernels`` only. One class per family;
the registry ``FAMILIES`` is derived from the classes, so names cannot drift.
"""

from mkba_sim.distributions.base import Distribution, Encoded, SpecError
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
from mkba_sim.distributions.dependent import Dependent
from mkba_sim.distributions.discrete import Discrete, NegativeBinomial, Poisson
from mkba_sim.distributions.effect_size import EffectSize
from mkba_sim.distributions.posterior import Posterior
from mkba_sim.distributions.registry import FAMILIES, parse_distribution

__all__ = [
    "FAMILIES",
    "Beta",
    "Dependent",
    "Discrete",
    "Distribution",
    "EffectSize",
    "Encoded",
    "Fixed",
    "Gamma",
    "Lognormal",
    "NegativeBinomial",
    "Normal",
    "Pert",
    "Poisson",
    "Posterior",
    "SpecError",
    "Triangular",
    "Uniform",
    "parse_distribution",
]
