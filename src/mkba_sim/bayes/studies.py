"""How the data of a new study would come out, per set of sub-model parameters (for EVSI).

One function per study design, and :data:`STUDIES`, the study of each registered
sub-model by name (a user's own sub-model may carry a ``study_spec`` attribute instead).
Not part of any posterior's cache key: a study design does not change the posterior.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["STUDIES", "StudySpec", "nazorg_follow_up", "study_spec"]


@dataclass(frozen=True)
class StudySpec:
    """A study a sub-model can predict: what it does and how its data come out.

    Attributes
    ----------
    description
        What the study does, in a sentence.
    statistics
        Names of its summary statistics (columns of ``simulate``'s result).
    informs
        The posterior variables the study's data depend on.
    simulate
        ``simulate(draws, n, window_years, rng) -> (len, len(statistics))``.
    """

    description: str
    statistics: tuple[str, ...]
    informs: tuple[str, ...]
    simulate: Callable[[Mapping[str, np.ndarray], int, float, np.random.Generator], np.ndarray]


def nazorg_follow_up(
    draws: Mapping[str, np.ndarray], n: int, window_years: float, rng: np.random.Generator
) -> np.ndarray:
    """Follow ``n`` new nazorg-plus clients for the whole window: reoffenders and offences.

    The data-generating process of :mod:`mkba_sim.bayes.nazorg` with every client at risk
    for the whole window (``window_years``, 2): a client reoffends with the two-year
    probability ``p_treated`` (1 − exp(−λ · 2) with λ = −log(1 − p_treated) / 2) and a
    reoffender commits 1 + Poisson(ρ · 2) offences, ρ = ``rho_treated``. The number of
    reoffenders R ~ Binomial(n, p_treated) and the offences beyond each reoffender's
    first, E ~ Poisson(2 ρ R), are sufficient for (p_treated, ρ) under this model
    (their likelihood factorises as Binomial × Poisson), so the pair (R, R + E) loses
    nothing of what the study would tell about the parameters.

    Both statistics are sums over the clients, so the statistics of a study of n + m
    clients are those of n clients plus those of m more (what the EVSI curve uses to
    nest smaller studies in larger ones).

    Parameters
    ----------
    draws
        ``p_treated`` and ``rho_treated``, one value per simulated study.
    n
        Clients followed.
    window_years
        Follow-up (the model's window, 2 years).
    rng
        Random generator.

    Returns
    -------
    ndarray
        ``(len(draws), 2)``: reoffenders and offences among the ``n``.
    """
    p = np.asarray(draws["p_treated"], dtype=np.float64)
    rho = np.asarray(draws["rho_treated"], dtype=np.float64)
    reoffenders = rng.binomial(n, p)
    extra = rng.poisson(rho * window_years * reoffenders)
    return np.column_stack([reoffenders, reoffenders + extra]).astype(np.float64)


#: The study of each registered sub-model that names one, by sub-model name.
STUDIES: dict[str, StudySpec] = {
    "nazorg_plus_recidivism": StudySpec(
        description=(
            "follow n new nazorg-plus clients for two years and count who reoffends and "
            "their offences"
        ),
        statistics=("reoffenders", "offences"),
        informs=("p_treated", "rho_treated"),
        simulate=nazorg_follow_up,
    )
}


def study_spec(sub: Any) -> StudySpec | None:
    """The study of sub-model ``sub`` (its ``study_spec`` attribute, else
    :data:`STUDIES` by name); ``None`` when it names none."""
    own = getattr(sub, "study_spec", None)
    if isinstance(own, StudySpec):
        return own
    return STUDIES.get(getattr(sub, "name", ""))
