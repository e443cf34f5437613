"""One exception family for everything a user can get wrong.

Messages name the file, the key and the fix; the CLI prints them without a traceback
and exits non-zero.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "BayesError",
    "DiagnosticsError",
    "MkbaError",
    "ModelFileError",
    "ModelWarning",
    "SimulationError",
    "did_you_mean",
]


class MkbaError(Exception):
    """Base class of every error mkba_sim reports to a user."""


class ModelFileError(MkbaError):
    """A model file is malformed: unknown key, bad value, bad expression, cycle...

    Parameters
    ----------
    path
        The model file (or ``"<string>"``).
    key
        Dotted key inside the file, e.g. ``"parameters.salary.sd"``.
    problem
        What is wrong and, where possible, how to fix it.
    """

    def __init__(self, path: str, key: str, problem: str) -> None:
        self.path = path
        self.key = key
        self.problem = problem
        where = f"{path}: {key}" if key else path
        super().__init__(f"{where}: {problem}")


class SimulationError(MkbaError):
    """A simulation request cannot be carried out (bad draws, sampler, threads...)."""


class BayesError(MkbaError):
    """The Bayesian sub-model cannot be fitted or its cache cannot be used."""


class DiagnosticsError(BayesError):
    """A posterior failed the convergence gate (R-hat, ESS, divergences) in strict mode."""


class ModelWarning(UserWarning):
    """A model file is valid but probably not what was meant (e.g. an unused override)."""


def did_you_mean(word: str, options: Iterable[object]) -> str:
    """``"; did you mean 'X'?"`` for the option closest to ``word`` (difflib's ratio of at
    least 0.6), or ``""`` when none is close: the tail of every "unknown name" message."""
    close = difflib.get_close_matches(word, [str(o) for o in options], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
