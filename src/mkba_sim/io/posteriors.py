"""Attach posterior draws to a model's ``posterior`` parameters.

Draws come from a Bayesian sub-model's cache (:func:`mkba_sim.bayes.load_posterior`,
imported lazily; its case data is read from the ``data`` directory next to the model
file) or from a file in the model's folder: ``.npy`` (a 1-D array) or NetCDF
(``variable`` in the file: 1-D, or ``(chain, draw)``), checked as untrusted data by
:mod:`mkba_sim.io.draws`. Variables of the same source are
loaded together so they share the draw index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from mkba_sim.distributions import Posterior, SpecError
from mkba_sim.errors import MkbaError, ModelFileError
from mkba_sim.io.draws import read_draws, resolve_draws_path
from mkba_sim.model import Model

__all__ = [
    "attach_posteriors",
    "check_draws_files",
    "draws_files",
    "model_data_dir",
    "needs_posteriors",
    "submodel_variables",
]


def needs_posteriors(model: Model, scenarios: tuple[str, ...] | None = None) -> bool:
    """True if any chosen scenario has a posterior parameter."""
    names = scenarios or tuple(model.scenarios)
    return any(
        isinstance(p.dist, Posterior) for n in names for p in model.scenarios[n].parameters.values()
    )


def submodel_variables(
    model: Model, scenarios: tuple[str, ...] | None = None
) -> dict[tuple[str, str | None], set[str]]:
    """Variables asked of each Bayesian sub-model: ``{(name, prior): {variable, ...}}``.

    Draws files (``file = ...``) are not sub-models and are left out.
    """
    wanted: dict[tuple[str, str | None], set[str]] = {}
    for n in scenarios or tuple(model.scenarios):
        for p in model.scenarios[n].parameters.values():
            if isinstance(p.dist, Posterior) and not p.dist.is_file:
                wanted.setdefault((p.dist.source, p.dist.prior), set()).add(p.dist.variable)
    return wanted


def draws_files(model: Model) -> list[Path]:
    """The draws files (``file = ...``) the model names, relative to its folder; not read."""
    folder = Path(model.path).parent
    return sorted(
        {
            folder / p.dist.source
            for sc in model.scenarios.values()
            for p in sc.parameters.values()
            if isinstance(p.dist, Posterior) and p.dist.is_file
        }
    )


def check_draws_files(model: Model, *, allow_outside_files: bool = False) -> int:
    """Read and check every draws file the model names (as a run would); return how many.

    Raises
    ------
    ModelFileError
        Naming the model file, the parameter's key and the draws file.
    """
    seen: set[tuple[str, str]] = set()
    for sc in model.scenarios.values():
        for pname, p in sc.parameters.items():
            if isinstance(p.dist, Posterior) and p.dist.is_file:
                fkey = (p.dist.source, p.dist.variable)
                if fkey not in seen:
                    seen.add(fkey)
                    _file_draws(model, p.dist, f"parameters.{pname}", allow_outside_files)
    return len(seen)


def model_data_dir(model: Model) -> Path | None:
    """The ``data`` directory next to the model file (``None`` for a model from a string).

    Bayesian sub-models read their case data from there, so a model file finds its data
    from any working directory.
    """
    path = Path(model.path)
    return path.parent / "data" if path.is_file() else None


def _file_draws(model: Model, dist: Posterior, key: str, allow_outside: bool) -> np.ndarray:
    path = resolve_draws_path(model.path, dist.source, key, allow_outside=allow_outside)
    return read_draws(path, dist.variable, model.path, key)


def attach_posteriors(
    model: Model,
    scenarios: tuple[str, ...] | None = None,
    *,
    cache_dir: Path | None = None,
    strict: bool = True,
    allow_outside_files: bool = False,
    on_progress: Callable[[str, int, int, str], None] | None = None,
) -> tuple[Model, list[dict[str, Any]]]:
    """Return ``model`` with draws loaded into every posterior parameter.

    Draws files are untrusted data, read by :func:`mkba_sim.io.draws.read_draws`; one
    outside the model file's folder is refused unless ``allow_outside_files``.

    Also returns one provenance record per posterior used (sub-model, prior, cache key,
    diagnostics; see :func:`mkba_sim.bayes.load_posterior_with_provenance`) or per
    draws file (path and number of draws), for the result's attributes.

    ``on_progress(step, done, total, detail)`` (:class:`mkba_sim.workflow.ProgressCallback`)
    reports loading or fitting each sub-model's posterior
    (:func:`mkba_sim.bayes.fit.fit_or_load`).
    """
    names = scenarios or tuple(model.scenarios)
    wanted = submodel_variables(model, names)
    loaded: dict[tuple[str, str | None], dict[str, np.ndarray]] = {}
    provenance: list[dict[str, Any]] = []
    data_dir = model_data_dir(model)
    for (source, prior), variables in wanted.items():
        from mkba_sim import bayes

        try:
            got, info = bayes.load_posterior_with_provenance(
                source,
                sorted(variables),
                cache_dir=cache_dir,
                strict=strict,
                prior=prior,
                data_dir=data_dir,
                on_progress=on_progress,
            )
            loaded[(source, prior)] = got
            provenance.append({**info, "variables": sorted(variables)})
        except MkbaError as exc:
            raise ModelFileError(model.path, "parameters", str(exc)) from None
    files: dict[tuple[str, str], np.ndarray] = {}
    scenarios_new = {}
    for n, sc in model.scenarios.items():
        params = dict(sc.parameters)
        for pname, p in sc.parameters.items():
            if not isinstance(p.dist, Posterior) or n not in names:
                continue
            key = f"parameters.{pname}"
            if p.dist.is_file:
                # a file shared by several scenarios is read and recorded once
                fkey = (p.dist.source, p.dist.variable)
                if fkey not in files:
                    files[fkey] = _file_draws(model, p.dist, key, allow_outside_files)
                    provenance.append(
                        {"file": fkey[0], "variable": fkey[1], "draws": files[fkey].size}
                    )
                draws = files[fkey]
            else:
                draws = loaded[(p.dist.source, p.dist.prior)][p.dist.variable]
            try:
                params[pname] = replace(p, dist=p.dist.with_draws(draws))
            except SpecError as exc:
                raise ModelFileError(model.path, key, exc.problem) from None
        scenarios_new[n] = replace(sc, parameters=params)
    return replace(model, scenarios=scenarios_new), provenance
