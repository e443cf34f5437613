"""Studies a Bayesian sub-model can predict: the data side of the expected value of sample
information (EVSI).

A sub-model that names a study (``SubModel.study``, written in
:mod:`mkba_sim.bayes.studies`) says how the data of a new study
would come out for given values of its parameters. :func:`study_design` pairs that with
the sub-model's posterior draws, so that for every posterior draw a study's summary
statistics can be simulated from their predictive distribution: what the regression
method of Strong et al. (2015) needs (:func:`mkba_sim.analysis.evsi`).

This module is not part of a posterior's cache key (``SubModel.code_modules``): it does
not change the posterior, only what is done with it.

References
----------
Strong, M., Oakley, J. E., Brennan, A. & Breeze, P. (2015). Estimating the expected value
of sample information using the probabilistic sensitivity analysis sample: a fast,
nonparametric regression-based method. *Medical Decision Making* 35(5), 570-583.
doi:10.1177/0272989X15575286
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mkba_sim.bayes.data import read_cases
from mkba_sim.bayes.fit import fit_or_load, resolve_data_file
from mkba_sim.bayes.registry import get_model
from mkba_sim.errors import BayesError

__all__ = ["StudyDesign", "study_design"]


@dataclass(frozen=True)
class StudyDesign:
    """A study of a sub-model, with the posterior draws it is simulated from.

    Attributes
    ----------
    model
        Sub-model name.
    description
        What the study does, in a sentence.
    statistics
        Names of the simulated summary statistics (columns of :meth:`simulate`).
    informs
        Posterior variables the study's data depend on (EVSI <= their joint EVPPI).
    draws
        Posterior draws of ``informs``, flat and jointly indexed like the engine's
        posterior tables of this sub-model (the same chain-major order).
    min_n, max_n
        Sizes from the original sample to a whole cohort.
    window_years
        Follow-up of every participant.
    simulate_fn
        ``simulate_fn(draws, n, window_years, rng) -> (len, n_statistics)``.
    """

    model: str
    description: str
    statistics: tuple[str, ...]
    informs: tuple[str, ...]
    draws: Mapping[str, np.ndarray]
    min_n: int
    max_n: int
    window_years: float
    simulate_fn: Callable[[Mapping[str, np.ndarray], int, float, np.random.Generator], np.ndarray]

    @property
    def n_posterior(self) -> int:
        """Number of posterior draws."""
        return int(next(iter(self.draws.values())).size)

    def parameters(self, index: np.ndarray) -> np.ndarray:
        """Values of ``informs`` at posterior draws ``index``: ``(len(index), len(informs))``."""
        return np.column_stack([self.draws[v][index] for v in self.informs])

    def simulate(self, index: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """One study of ``n`` participants per posterior draw in ``index``: its statistics."""
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise ValueError(f"study size must be a positive integer, got {n!r}")
        chosen = {v: self.draws[v][index] for v in self.informs}
        return self.simulate_fn(chosen, int(n), self.window_years, rng)


def study_design(
    name: str,
    prior: str | None = None,
    *,
    cache_dir: Path | None = None,
    data_dir: Path | None = None,
    strict: bool = True,
) -> StudyDesign | None:
    """The study of sub-model ``name`` with its posterior draws; ``None`` if it has none.

    Loads the posterior the simulation used (from the cache; fitting only if it is
    missing) and the case data (for the cohort size and the window).

    Raises
    ------
    BayesError
        Unknown sub-model or prior, missing case data.
    """
    sub = get_model(name)
    if sub.study is None:
        return None
    fit = fit_or_load(name, prior, cache_dir=cache_dir, data_dir=data_dir, strict=strict)
    data = read_cases(resolve_data_file(sub, data_dir))
    unknown = [v for v in sub.study_informs if v not in fit.dataset]
    if unknown:
        raise BayesError(f"{name}: the posterior has no {unknown} for the study")
    return StudyDesign(
        model=name,
        description=sub.study_description,
        statistics=sub.study_statistics,
        informs=sub.study_informs,
        draws={v: fit.flat(v) for v in sub.study_informs},
        min_n=int(min(data.n, data.cohort_size)),
        max_n=int(data.cohort_size),
        window_years=float(data.window_years),
        simulate_fn=sub.study,
    )
