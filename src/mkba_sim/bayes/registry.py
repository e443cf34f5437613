"""The Bayesian sub-models mkba_sim knows, by the name model files use.

A model file asks for ``dist = "posterior", model = "nazorg_plus_recidivism",
variable = "avoided_offences_per_client_year"``; this registry maps the name to the data
file, the priors, the PyMC model and the list of variables it can deliver.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mkba_sim.bayes import nazorg
from mkba_sim.bayes.data import CaseData
from mkba_sim.bayes.nazorg import VariableInfo
from mkba_sim.bayes.priors import DEFAULT_PRIOR, REFERENCE_PRIORS, ReferencePrior
from mkba_sim.bayes.studies import nazorg_follow_up
from mkba_sim.errors import BayesError

__all__ = ["MODELS", "SubModel", "get_model"]


@dataclass(frozen=True)
class SubModel:
    """One Bayesian sub-model.

    Attributes
    ----------
    name, description
        Registry key and a one-line description.
    data_file
        File name of the case data, looked up in a ``data`` directory (next to the model
        file that uses the sub-model).
    priors, default_prior
        The named reference priors and the one used when a model file names none.
    variables
        Scalar outputs per draw, with unit and meaning.
    base_variables
        Free parameters sampled by MCMC (stored with the outputs).
    build
        ``build(data, prior) -> pymc.Model``.
    derive
        ``derive(draws, data, prior, rng) -> {variable: array}``.
    code_modules
        Source files (inside ``mkba_sim/bayes``) whose text is hashed into the cache key:
        any change to the model code invalidates cached posteriors.
    study
        ``study(draws, n, window_years, rng) -> (len, k)``: the summary statistics of a
        new study of ``n`` participants per set of parameter values (for EVSI,
        :mod:`mkba_sim.bayes.study`); ``None`` if the sub-model names no study.
    study_informs, study_statistics, study_description
        The posterior variables the study's data depend on, the names of its
        statistics, and what it does in a sentence.
    """

    name: str
    description: str
    data_file: str
    priors: Mapping[str, ReferencePrior]
    default_prior: str
    variables: Mapping[str, VariableInfo]
    base_variables: tuple[str, ...]
    build: Callable[[CaseData, ReferencePrior], Any]
    derive: Callable[
        [dict[str, np.ndarray], CaseData, ReferencePrior, np.random.Generator],
        dict[str, np.ndarray],
    ]
    code_modules: tuple[str, ...]
    study: (
        Callable[[Mapping[str, np.ndarray], int, float, np.random.Generator], np.ndarray] | None
    ) = None
    study_informs: tuple[str, ...] = ()
    study_statistics: tuple[str, ...] = ()
    study_description: str = ""

    def prior(self, name: str | None) -> ReferencePrior:
        """The named prior (``None``: the default); unknown names raise :class:`BayesError`."""
        key = self.default_prior if name is None else name
        if key not in self.priors:
            raise BayesError(
                f"{self.name}: unknown prior {key!r}; choose one of {sorted(self.priors)}"
            )
        return self.priors[key]


MODELS: dict[str, SubModel] = {
    "nazorg_plus_recidivism": SubModel(
        name="nazorg_plus_recidivism",
        description=(
            "reoffending and offence counts of the 12 interviewed nazorg-plus cases "
            "(seed 003 §5.1) against an uncertain care-as-usual reference"
        ),
        data_file="nazorg_plus_cases.csv",
        priors=REFERENCE_PRIORS,
        default_prior=DEFAULT_PRIOR,
        variables=nazorg.VARIABLES,
        base_variables=nazorg.BASE_VARIABLES,
        build=nazorg.build_model,
        derive=nazorg.derived_quantities,
        code_modules=("nazorg.py", "priors.py", "data.py", "fit.py"),
        study=nazorg_follow_up,
        study_informs=("p_treated", "rho_treated"),
        study_statistics=("reoffenders", "offences"),
        study_description=(
            "follow n new nazorg-plus clients for two years and count who reoffends and "
            "their offences"
        ),
    )
}


def get_model(name: str) -> SubModel:
    """The sub-model called ``name``.

    Raises
    ------
    BayesError
        For an unknown name; the message lists the known ones.
    """
    try:
        return MODELS[name]
    except KeyError:
        raise BayesError(f"unknown Bayesian sub-model {name!r}; known: {sorted(MODELS)}") from None
