"""The registered Python sub-models, by the name model files use.

A model file asks for ``dist = "posterior", model = "nazorg_plus_recidivism",
variable = "avoided_offences_per_client_year"``; this registry maps the name to a
:class:`~mkba_sim.bayes.protocol.SubModel`. A user adds their own from a notebook with
:func:`register`, or from an installed package through the ``mkba_sim.submodels`` entry
point (loaded by :mod:`mkba_sim.fitting` on first use); never by a path in a model file.
"""

from __future__ import annotations

from mkba_sim.bayes.nazorg import NazorgRecidivism
from mkba_sim.bayes.protocol import SubModel
from mkba_sim.errors import BayesError

__all__ = ["ENTRY_POINT_GROUP", "MODELS", "get_model", "register"]

#: Entry-point group of installed packages' sub-models (``name = "pkg.module:factory"``;
#: the factory is called with no arguments and returns a :class:`SubModel`).
ENTRY_POINT_GROUP = "mkba_sim.submodels"

MODELS: dict[str, SubModel] = {"nazorg_plus_recidivism": NazorgRecidivism()}


def register(sub: SubModel, *, replace: bool = False) -> SubModel:
    """Register a sub-model under ``sub.name``; return it.

    Parameters
    ----------
    sub
        An object following :class:`~mkba_sim.bayes.protocol.SubModel`.
    replace
        Allow replacing a sub-model of the same name (otherwise an error).

    Raises
    ------
    BayesError
        If ``sub`` lacks part of the protocol, or the name is taken.

    Examples
    --------
    >>> from mkba_sim.bayes import register
    >>> register(MyModel())  # doctest: +SKIP
    """
    if not isinstance(sub, SubModel):
        missing = [
            a
            for a in (
                *SubModel.__annotations__,
                "parse",
                "data_fingerprint",
                "build",
                "derive",
                "observed",
                "probabilities",
                "prior",
            )
            if not hasattr(sub, a)
        ]
        raise BayesError(f"{sub!r} is not a SubModel: missing {missing}")
    if sub.name in MODELS and not replace and MODELS[sub.name] is not sub:
        raise BayesError(
            f"a Bayesian sub-model called {sub.name!r} is already registered; pass "
            "replace=True to replace it"
        )
    MODELS[sub.name] = sub
    return sub


def get_model(name: str) -> SubModel:
    """The registered sub-model called ``name``.

    Raises
    ------
    BayesError
        For an unknown name; the message lists the known ones.
    """
    try:
        return MODELS[name]
    except KeyError:
        raise BayesError(f"unknown Bayesian sub-model {name!r}; known: {sorted(MODELS)}") from None
