"""Bayesian sub-models whose posterior draws feed the simulation.

Layer rule: ``bayes`` may import numpy, xarray, :mod:`mkba_sim.errors`,
:mod:`mkba_sim._cache` and :mod:`mkba_sim.io` (NetCDF, atomic writes); PyMC, PyTensor and
ArviZ are imported **only inside functions**, when a posterior must be sampled or
checked, so ``import mkba_sim.bayes`` and loading a cached posterior stay fast. Nothing
here touches the engine, kernels or model layers.

Public API
----------
Draws
    :func:`load_posterior` — jointly indexed 1-D arrays per variable (fits or loads the
    cache); :func:`load_posterior_with_provenance` also says where they came from.
Summaries
    :func:`bayes_summary_json` (schema ``mkba_sim.bayes/1``), :func:`format_summary`,
    :func:`prior_sensitivity`.
Models and priors
    :data:`MODELS` (registry; ``"nazorg_plus_recidivism"``), :data:`REFERENCE_PRIORS`.
Studies (EVSI)
    :func:`study_design` — a sub-model's study with its posterior draws, to simulate
    the study's data per draw (:mod:`mkba_sim.bayes.study`).
Lower level
    :func:`fit_or_load`, :class:`SamplerSettings`, :class:`PosteriorFit`,
    :class:`Diagnostics`, :class:`Thresholds`.

The model, its priors and sources, the cache and the validation are documented in
``docs/bayes.md``.
"""

from mkba_sim.bayes.api import (
    SCHEMA,
    bayes_summary_json,
    format_summary,
    load_posterior,
    load_posterior_with_provenance,
    prior_sensitivity,
)
from mkba_sim.bayes.diagnostics import Diagnostics, Thresholds
from mkba_sim.bayes.fit import PosteriorFit, SamplerSettings, fit_or_load
from mkba_sim.bayes.priors import REFERENCE_PRIORS
from mkba_sim.bayes.registry import MODELS
from mkba_sim.bayes.study import StudyDesign, study_design

__all__ = [
    "MODELS",
    "REFERENCE_PRIORS",
    "SCHEMA",
    "Diagnostics",
    "PosteriorFit",
    "SamplerSettings",
    "StudyDesign",
    "Thresholds",
    "bayes_summary_json",
    "fit_or_load",
    "format_summary",
    "load_posterior",
    "load_posterior_with_provenance",
    "prior_sensitivity",
    "study_design",
]
