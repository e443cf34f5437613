"""The one way through: a model (file) in, a :class:`~mkba_sim.results.Result` out.

Notebooks and the CLI both call :func:`simulate`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mkba_sim.engine import simulate_model
from mkba_sim.engine.plan import check_scenarios
from mkba_sim.io.model_files import load_model
from mkba_sim.io.posteriors import attach_posteriors, needs_posteriors
from mkba_sim.model import Model
from mkba_sim.results import Result

__all__ = ["simulate"]


def simulate(
    model: Model | str | os.PathLike[str],
    draws: int = 1_000_000,
    seed: Any = None,
    *,
    scenarios: tuple[str, ...] | list[str] | None = None,
    bayes_cache: Path | None = None,
    strict: bool = True,
    allow_outside_files: bool = False,
    **options: Any,
) -> Result:
    """Simulate a model file or a loaded :class:`~mkba_sim.model.Model`.

    Posterior parameters get their draws first (fitting the Bayesian sub-model if its
    cache is missing or stale); a draws file outside the model's folder is refused unless
    ``allow_outside_files``. Other keyword arguments are those of
    :func:`mkba_sim.engine.simulate_model`: ``sampler``, ``threads``, ``chunk_size``,
    ``keep_draws``, ``backend``, ``target_mcse_p``, ``target_mcse_mean``, ``progress``.

    Examples
    --------
    >>> import mkba_sim
    >>> res = mkba_sim.simulate("models/nazorg_plus.toml", draws=100_000, seed=1)  # doctest: +SKIP
    >>> res.summary("base")["p_net_positive"]  # doctest: +SKIP
    """
    m = model if isinstance(model, Model) else load_model(model)
    chosen = check_scenarios(m, tuple(scenarios) if scenarios else None)
    posteriors: list[dict[str, Any]] = []
    if needs_posteriors(m, chosen):
        m, posteriors = attach_posteriors(
            m, chosen, cache_dir=bayes_cache, strict=strict, allow_outside_files=allow_outside_files
        )
    result = simulate_model(m, draws, seed, scenarios=chosen, **options)
    result.dataset.attrs["posteriors"] = json.dumps(posteriors)
    return result
