"""Studies a Bayesian sub-model can predict: the data side of the expected value of sample
information (EVSI).

A sub-model that names a study (a :class:`~mkba_sim.bayes.studies.StudySpec` in
:data:`mkba_sim.bayes.studies.STUDIES`, or a ``study_spec`` attribute of a user's own
sub-model) says how the data of a new study would come out for given values of its
parameters. :func:`make_study_design` pairs that with the sub-model's posterior draws
(which the application layer, :func:`mkba_sim.fitting.study_design`, loads), so that
for every posterior draw a study's summary statistics can be simulated from their
predictive distribution: what the regression method of Strong et al. (2015) needs
(:func:`mkba_sim.analysis.evsi`).

This module is not part of a posterior's cache key (``SubModel.code_modules``): it does
not change the posterior, only what is done with it. It never touches the disk.

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
from typing import Any

import numpy as np

from mkba_sim.bayes.studies import StudySpec, study_spec
from mkba_sim.errors import BayesError

__all__ = ["StudyDesign", "StudySpec", "make_study_design", "study_spec"]


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


def make_study_design(
    name: str, spec: StudySpec, draws: Mapping[str, np.ndarray], data: Any
) -> StudyDesign:
    """The study ``spec`` of sub-model ``name`` with its posterior ``draws``.

    ``data`` is the sub-model's parsed case data: its ``n`` (the original sample),
    ``cohort_size`` and ``window_years`` give the sizes from the original sample to a
    whole cohort and every participant's follow-up.

    Raises
    ------
    BayesError
        When the posterior lacks a variable the study needs, or the data say nothing
        about the sample, cohort or window.
    """
    unknown = [v for v in spec.informs if v not in draws]
    if unknown:
        raise BayesError(f"{name}: the posterior has no {unknown} for the study")
    try:
        n, cohort, window = int(data.n), int(data.cohort_size), float(data.window_years)
    except AttributeError as exc:
        raise BayesError(
            f"{name}: its data give no sample size, cohort size or window for a study ({exc})"
        ) from None
    return StudyDesign(
        model=name,
        description=spec.description,
        statistics=spec.statistics,
        informs=spec.informs,
        draws={v: np.asarray(draws[v], dtype=np.float64) for v in spec.informs},
        min_n=min(n, cohort),
        max_n=cohort,
        window_years=window,
        simulate_fn=spec.simulate,
    )
