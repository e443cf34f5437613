"""The one interface every Bayesian sub-model follows: :class:`SubModel`.

A sub-model is pure: it parses its data from **bytes** (the application layer,
:mod:`mkba_sim.fitting`, finds and reads the file), builds a PyMC model, turns posterior
draws into the quantities a model file may ask for, and names the variables its summary
shows. It never touches the disk; fitting, caching (:mod:`mkba_sim.io.posteriors`) and the
diagnostics gate are done for it, identically for every sub-model.

Two kinds exist:

* registered Python sub-models (:data:`mkba_sim.bayes.MODELS`; the nazorg-plus
  recidivism model, or a user's own, registered with :func:`mkba_sim.bayes.register`
  from a notebook or through the ``mkba_sim.submodels`` entry point of an installed
  package — never by a path in a model file);
* declarative ``[evidence.NAME]`` blocks of a model file
  (:class:`mkba_sim.bayes.evidence.EvidenceSubModel`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["PriorVariant", "SubModel", "VariableInfo"]


@dataclass(frozen=True)
class VariableInfo:
    """Unit and meaning of an output variable."""

    unit: str
    description: str


@runtime_checkable
class PriorVariant(Protocol):
    """A named prior (or sensitivity variant) of a sub-model."""

    @property
    def name(self) -> str: ...  # pragma: no cover - protocol

    @property
    def description(self) -> str: ...  # pragma: no cover - protocol

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form; hashed into the posterior cache key."""
        ...  # pragma: no cover - protocol


@runtime_checkable
class SubModel(Protocol):
    """A Bayesian sub-model whose posterior draws feed ``dist = "posterior"`` parameters.

    Attributes
    ----------
    name, description
        Registry key (what ``model = "..."`` names) and a one-line description.
    caveat
        What the result is *not* (e.g. "a comparison with external reference figures,
        not a causal estimate"); shown with every output. Empty if nothing to say.
    data_file
        File name of the case data, looked up in the ``data`` directory next to the
        model file; ``None`` when the data are part of the sub-model itself (evidence
        blocks carry their numbers in the model file).
    priors, default_prior
        Named priors (and sensitivity variants) and the one used when none is named.
    sensitivity
        The names in :attr:`priors` that make up the sensitivity table, in order.
    variables
        Every scalar output per posterior draw.
    summary_variables, sensitivity_variables
        The outputs a summary shows, and the columns of its sensitivity table.
    code_modules
        Importable module names whose source is hashed into the cache key.
    """

    name: str
    description: str
    caveat: str
    data_file: str | None
    priors: Mapping[str, Any]
    default_prior: str
    sensitivity: tuple[str, ...]
    variables: Mapping[str, VariableInfo]
    summary_variables: tuple[str, ...]
    sensitivity_variables: tuple[str, ...]
    code_modules: tuple[str, ...]

    def parse(self, raw: bytes | None, path: str) -> Any:
        """The data object from the bytes of the data file (raise ``BayesError``).

        ``raw`` is ``None`` when :attr:`data_file` is ``None`` (the data are the
        sub-model's own).
        """
        ...  # pragma: no cover - protocol

    def data_fingerprint(self, data: Any) -> str:
        """A hash of the data (part of the cache key)."""
        ...  # pragma: no cover - protocol

    def build(self, data: Any, prior: Any) -> Any:
        """The PyMC model (imports PyMC)."""
        ...  # pragma: no cover - protocol

    def derive(
        self,
        draws: dict[str, np.ndarray],
        data: Any,
        prior: Any,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        """Every output of :attr:`variables` from the draws (arrays of one shape)."""
        ...  # pragma: no cover - protocol

    def observed(self, data: Any) -> dict[str, np.ndarray]:
        """The observed data, for the ``observed_data`` group of the posterior."""
        ...  # pragma: no cover - protocol

    def probabilities(self, out: Any) -> dict[str, float]:
        """Named probabilities the summary states (e.g. P(any reduction)) from ``out``, a
        mapping (or xarray dataset) of every output's draws; the first is the headline."""
        ...  # pragma: no cover - protocol

    def prior(self, name: str | None) -> Any:
        """The named prior (``None``: the default); unknown names raise ``BayesError``."""
        ...  # pragma: no cover - protocol
