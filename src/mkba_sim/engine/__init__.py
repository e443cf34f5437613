"""The Monte Carlo engine: sampling designs, compiled kernels, chunked parallel runs.

Layer rule: imports ``kernels``, ``model``, ``distributions``, ``results`` and
``errors``; no file I/O except the compiled-kernel cache (generated source written to the
user's cache directory). Posterior draws must already be attached to the model (see
``mkba_sim.io.posteriors``).
"""

from mkba_sim.engine.plan import Plan, make_plan
from mkba_sim.engine.run import SAMPLERS, simulate_model

__all__ = ["SAMPLERS", "Plan", "make_plan", "simulate_model"]
