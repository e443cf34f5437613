"""Bayesian sub-models whose posterior draws feed the simulation.

Layer rule: ``bayes`` may import numpy, xarray, scipy, :mod:`mkba_sim.errors`,
:mod:`mkba_sim.model` (evidence blocks), :mod:`mkba_sim.distributions` and
:mod:`mkba_sim.results` (provenance attributes). It **never touches the disk**: data
arrive as bytes, posteriors leave as xarray datasets; finding files, caching
(:mod:`mkba_sim.io.posteriors`) and the load-or-fit orchestration live in the application
layer (:mod:`mkba_sim.fitting`). PyMC, PyTensor and ArviZ are imported **only inside
functions**, when a posterior must be sampled or checked.

Public API
----------
Protocol and registry
    :class:`SubModel` (the interface), :class:`VariableInfo`, :data:`MODELS`,
    :func:`register` (a user's own sub-model), :func:`get_model`.
Sub-models
    :class:`NazorgRecidivism` (``"nazorg_plus_recidivism"``), :data:`REFERENCE_PRIORS`;
    :class:`EvidenceSubModel` (``[evidence.NAME]`` blocks of a model file).
Sampling and summaries
    :class:`SamplerSettings`, :class:`PosteriorFit`, :func:`sample_groups`,
    :func:`cache_key`, :func:`summary_doc`, :func:`format_summary`, :data:`SCHEMA`.
Diagnostics
    :class:`Diagnostics`, :class:`Thresholds`, :func:`enforce`.
Studies (EVSI)
    :class:`StudyDesign`, :func:`make_study_design` — a sub-model's study with its
    posterior draws, to simulate the study's data per draw (:mod:`mkba_sim.bayes.study`;
    the application layer's :func:`mkba_sim.fitting.study_design` loads the posterior).

Loading draws (``load_posterior``), fitting or loading (``fit_or_load``) and the summary
of a model file's sub-models (``bayes_summary_json``) are in :mod:`mkba_sim.fitting`. The
models, priors, cache and validation are documented in ``docs/bayes.md``.
"""

from mkba_sim.bayes.diagnostics import Diagnostics, Thresholds, enforce
from mkba_sim.bayes.evidence import EvidenceSubModel
from mkba_sim.bayes.nazorg import NazorgRecidivism
from mkba_sim.bayes.priors import REFERENCE_PRIORS
from mkba_sim.bayes.protocol import SubModel, VariableInfo
from mkba_sim.bayes.registry import MODELS, get_model, register
from mkba_sim.bayes.sampling import PosteriorFit, SamplerSettings, cache_key, sample_groups
from mkba_sim.bayes.study import StudyDesign, make_study_design
from mkba_sim.bayes.summary import SCHEMA, format_summary, summary_doc

__all__ = [
    "MODELS",
    "REFERENCE_PRIORS",
    "SCHEMA",
    "Diagnostics",
    "EvidenceSubModel",
    "NazorgRecidivism",
    "PosteriorFit",
    "SamplerSettings",
    "StudyDesign",
    "SubModel",
    "Thresholds",
    "VariableInfo",
    "cache_key",
    "enforce",
    "format_summary",
    "get_model",
    "make_study_design",
    "register",
    "sample_groups",
    "summary_doc",
]
