"""mkba_sim: probabilistic social cost-benefit analysis of probation and aftercare.

Public API
----------
Models
    :func:`load_model`, :func:`loads_model`, :class:`Model`
Replication
    :func:`replicate`, :class:`ReplicationRow`, :func:`base_case`, :class:`BaseCase`
Simulation
    :func:`simulate`, :class:`Result`, :func:`save_result`, :func:`load_result`
Overrides
    :class:`Quantile` (``simulate(..., overrides={"salary": 98_000, "x": Quantile(0.95)})``)
Bayesian sub-models
    :func:`fit_or_load`, :func:`load_posterior` (:mod:`mkba_sim.fitting`; the models and
    the ``SubModel`` protocol are in :mod:`mkba_sim.bayes`).
Reports
    :func:`make_report` (the HTML decision report; :func:`mkba_sim.workflow.report`).
    ``mkba_sim.report`` is the sub-package of report formats, hence the different name.
Errors
    :class:`MkbaError`, :class:`ModelFileError`, :class:`SimulationError`
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from mkba_sim._gc import paused_gc

__version__ = "0.1.0"

# name -> module that defines it; imported on first use (PEP 562), so that
# ``import mkba_sim`` stays light and scipy, xarray, numba and PyMC load only when needed
_LAZY = {
    "MkbaError": "mkba_sim.errors",
    "ModelFileError": "mkba_sim.errors",
    "SimulationError": "mkba_sim.errors",
    "Model": "mkba_sim.model",
    "Quantile": "mkba_sim.model.overrides",
    "ReplicationRow": "mkba_sim.analysis.replication",
    "replicate": "mkba_sim.analysis.replication",
    "BaseCase": "mkba_sim.analysis.replication",
    "base_case": "mkba_sim.analysis.replication",
    "load_model": "mkba_sim.io.model_files",
    "loads_model": "mkba_sim.io.model_files",
    "load_result": "mkba_sim.io.results",
    "save_result": "mkba_sim.io.results",
    "Result": "mkba_sim.results",
    "simulate": "mkba_sim.workflow",
    "analyse": "mkba_sim.workflow",
    "make_report": "mkba_sim.workflow",
    "AnalysisOptions": "mkba_sim.analysis.decision",
    "fit_or_load": "mkba_sim.fitting",
    "load_posterior": "mkba_sim.fitting",
}

__all__ = [
    "AnalysisOptions",
    "BaseCase",
    "MkbaError",
    "Model",
    "ModelFileError",
    "Quantile",
    "ReplicationRow",
    "Result",
    "SimulationError",
    "__version__",
    "analyse",
    "base_case",
    "fit_or_load",
    "load_model",
    "load_posterior",
    "load_result",
    "loads_model",
    "make_report",
    "replicate",
    "save_result",
    "simulate",
]

if TYPE_CHECKING:
    from mkba_sim.analysis.decision import AnalysisOptions
    from mkba_sim.analysis.replication import BaseCase, ReplicationRow, base_case, replicate
    from mkba_sim.errors import MkbaError, ModelFileError, SimulationError
    from mkba_sim.fitting import fit_or_load, load_posterior
    from mkba_sim.io.model_files import load_model, loads_model
    from mkba_sim.io.results import load_result, save_result
    from mkba_sim.model import Model
    from mkba_sim.model.overrides import Quantile
    from mkba_sim.results import Result
    from mkba_sim.workflow import analyse, make_report, simulate


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mkba_sim' has no attribute {name!r}")
    with paused_gc():  # the first public name may import numba, pydantic, …: _gc.py
        value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
