"""mkba_sim: probabilistic social cost-benefit analysis of probation and aftercare.

Public API
----------
Models
    :func:`load_model`, :func:`loads_model`, :class:`Model`
Replication
    :func:`replicate`, :class:`ReplicationRow`
Simulation
    :func:`simulate`, :class:`Result`, :func:`save_result`, :func:`load_result`
Errors
    :class:`MkbaError`, :class:`ModelFileError`, :class:`SimulationError`
"""

from mkba_sim import _cache  # noqa: F401  (sets NUMBA_CACHE_DIR before numba is imported)
from mkba_sim.analysis.replication import ReplicationRow, replicate
from mkba_sim.errors import MkbaError, ModelFileError, SimulationError
from mkba_sim.io.model_files import load_model, loads_model
from mkba_sim.io.results import load_result, save_result
from mkba_sim.model import Model
from mkba_sim.results import Result
from mkba_sim.workflow import simulate

__version__ = "0.1.0"

__all__ = [
    "MkbaError",
    "Model",
    "ModelFileError",
    "ReplicationRow",
    "Result",
    "SimulationError",
    "__version__",
    "load_model",
    "load_result",
    "loads_model",
    "replicate",
    "save_result",
    "simulate",
]
